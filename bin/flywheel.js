#!/usr/bin/env node
// Flywheel's definitions and config are TypeScript; tsx lets the CLI import them (and itself) directly.
import { register } from 'tsx/esm/api';

register();
await import('../cli/main.ts');
