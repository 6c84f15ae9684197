import { SingleBar, Presets } from 'cli-progress';

/**
 * A progress bar for long runs, drawn on stderr so `--json` output on stdout stays clean. In a
 * non-interactive terminal (CI logs) it prints one line per stage instead of redrawing.
 */
export function createStageBar(title: string): { update(done: number, total: number, stage: string): void; stop(): void } {
  if (!process.stderr.isTTY) {
    let last = '';
    return {
      update(done, total, stage) {
        if (stage !== last) process.stderr.write(`${title}: ${stage} (${done}/${total})\n`);
        last = stage;
      },
      stop() {},
    };
  }
  const bar = new SingleBar(
    { format: `${title} [{bar}] {value}/{total} {stage}`, stream: process.stderr, hideCursor: true, clearOnComplete: false },
    Presets.shades_classic,
  );
  let started = false;
  return {
    update(done, total, stage) {
      if (!started) {
        bar.start(total, done, { stage });
        started = true;
      } else {
        bar.setTotal(total);
        bar.update(done, { stage });
      }
    },
    stop() {
      if (started) bar.stop();
    },
  };
}
