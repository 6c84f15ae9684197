import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

interface FlywheelManifest {
  readonly version: string;
  readonly devDependencies?: Readonly<Record<string, string>>;
}

/**
 * The installed Flywheel package's package.json: the folders above this file are searched, so it is
 * found from the source tree and from a compiled package alike.
 */
function flywheelManifest(): FlywheelManifest {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const file = join(dir, 'package.json');
    if (existsSync(file)) {
      const parsed = JSON.parse(readFileSync(file, 'utf8')) as { name?: string; version?: string; devDependencies?: Record<string, string> };
      if (parsed.name === 'flywheel' && parsed.version) return { version: parsed.version, ...(parsed.devDependencies ? { devDependencies: parsed.devDependencies } : {}) };
    }
    const parent = dirname(dir);
    if (parent === dir) throw new Error('the package.json of flywheel was not found above its code');
    dir = parent;
  }
}

/** The version of the installed Flywheel package. */
export function flywheelVersion(): string {
  return flywheelManifest().version;
}

/** The TypeScript Flywheel itself is checked with, for a new project's type checking (its own is the fallback). */
export function typescriptVersion(): string {
  return flywheelManifest().devDependencies?.typescript ?? '^5.9.0';
}
