import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * The version of the installed Flywheel package, read from its package.json: the folders above
 * this file are searched, so it is found from the source tree and from a compiled package alike.
 */
export function flywheelVersion(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const file = join(dir, 'package.json');
    if (existsSync(file)) {
      const parsed = JSON.parse(readFileSync(file, 'utf8')) as { name?: string; version?: string };
      if (parsed.name === 'flywheel' && parsed.version) return parsed.version;
    }
    const parent = dirname(dir);
    if (parent === dir) throw new Error('the package.json of flywheel was not found above its code');
    dir = parent;
  }
}
