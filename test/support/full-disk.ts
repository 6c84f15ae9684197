import { spawnSync } from 'node:child_process';
import { closeSync, mkdirSync, openSync, rmSync, writeSync } from 'node:fs';
import { join } from 'node:path';

/**
 * A folder whose disk can be made full and then freed again while a process writes to it, by a real
 * mechanism:
 *
 * - `tmpfs` (preferred; needs root and a sandbox that allows mounts): a tmpfs of `sizeBytes` is
 *   mounted on the folder; `fill()` writes a ballast file until the kernel answers ENOSPC, `free()`
 *   removes it. Every write of every process to the folder then fails as on a full disk.
 * - `prlimit` (when mounting is not permitted): the writer runs under `prlimit`, and `fill()` lowers
 *   its soft RLIMIT_FSIZE to 0 with `prlimit --pid` (every write to any file then fails with EFBIG, which
 *   the log treats as a full disk), `free()` raises it to unlimited. Only that process is affected.
 */
export interface FullDisk {
  readonly mechanism: 'tmpfs' | 'prlimit';
  /** The folder on the disk that fills up. */
  readonly dir: string;
  /** How to start the writer: `command` and `args` around `[program, ...programArgs]`. */
  wrap(program: string, programArgs: readonly string[]): { command: string; args: string[] };
  /** Makes the disk full for the writer (the process `pid`, started through `wrap`). */
  fill(pid: number): void;
  /** Frees space again. */
  free(pid: number): void;
  /** Unmounts (tmpfs) and removes the folder. */
  close(): void;
}

/**
 * The folder `dir` (created) on a disk that can be filled: a tmpfs of `sizeBytes` when mounts are
 * allowed, else prlimit. `FLYWHEEL_FULL_DISK=prlimit` forces the fallback (to check it where mounts work).
 */
export function openFullDisk(dir: string, sizeBytes: number): FullDisk {
  mkdirSync(dir, { recursive: true });
  if (process.env.FLYWHEEL_FULL_DISK === 'prlimit') return prlimitDisk(dir);
  const mounted = spawnSync('mount', ['-t', 'tmpfs', '-o', `size=${sizeBytes}`, 'tmpfs', dir], { encoding: 'utf8' });
  if (mounted.status === 0) return tmpfsDisk(dir);
  return prlimitDisk(dir);
}

function tmpfsDisk(dir: string): FullDisk {
  const ballast = join(dir, 'ballast');
  return {
    mechanism: 'tmpfs',
    dir,
    wrap: (program, programArgs) => ({ command: program, args: [...programArgs] }),
    fill() {
      const fd = openSync(ballast, 'w');
      const chunk = Buffer.alloc(4096, 0x61);
      try {
        for (;;) writeSync(fd, chunk);
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'ENOSPC') throw error;
      } finally {
        closeSync(fd);
      }
    },
    free() {
      rmSync(ballast);
    },
    close() {
      spawnSync('umount', ['-l', dir]);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

function prlimitDisk(dir: string): FullDisk {
  const setLimit = (pid: number, limit: string) => {
    const result = spawnSync('prlimit', ['--pid', String(pid), `--fsize=${limit}`], { encoding: 'utf8' });
    if (result.status !== 0) throw new Error(`prlimit --pid ${pid} --fsize=${limit} failed: ${result.stderr}`);
  };
  return {
    mechanism: 'prlimit',
    dir,
    wrap: (program, programArgs) => ({ command: 'prlimit', args: ['--fsize=unlimited', '--', program, ...programArgs] }),
    // The soft limit only (soft:hard): raising a soft limit up to the hard one needs no privilege.
    fill: (pid) => setLimit(pid, '0:unlimited'),
    free: (pid) => setLimit(pid, 'unlimited:unlimited'),
    close() {
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
