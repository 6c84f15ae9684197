import { describe, expect, it } from 'vitest';
import { mapBounded, ResumeTracker } from '../activities/bounded-concurrency.ts';

describe('mapBounded', () => {
  it('runs at most `limit` at a time and returns results in item order', async () => {
    let running = 0;
    let most = 0;
    const gates = new Map<number, () => void>();
    const started: number[] = [];
    const done = mapBounded([0, 1, 2, 3, 4], 2, async (item) => {
      running += 1;
      most = Math.max(most, running);
      started.push(item);
      await new Promise<void>((resolve) => gates.set(item, resolve));
      running -= 1;
      return item * 10;
    });
    // Let each started item finish, last-started first, until all five are done.
    while (gates.size > 0 || started.length < 5) {
      await new Promise((resolve) => setImmediate(resolve));
      const last = [...gates.keys()].at(-1);
      if (last !== undefined) {
        gates.get(last)!();
        gates.delete(last);
      }
    }
    expect(await done).toEqual([0, 10, 20, 30, 40]);
    expect(most).toBe(2);
    expect(started).toEqual([0, 1, 2, 3, 4]);
  });

  it('starts nothing after a failure, lets the running ones finish, and throws the first error', async () => {
    const finished: number[] = [];
    let release!: () => void;
    const slow = new Promise<void>((resolve) => { release = resolve; });
    const done = mapBounded([0, 1, 2, 3], 2, async (item) => {
      if (item === 0) {
        await slow;
        finished.push(0);
        return;
      }
      if (item === 1) throw new Error('item 1 failed');
      finished.push(item);
    });
    await new Promise((resolve) => setImmediate(resolve));
    release();
    await expect(done).rejects.toThrow('item 1 failed');
    expect(finished).toEqual([0]);
  });

  it('does nothing for no items', async () => {
    expect(await mapBounded([], 8, async () => 1)).toEqual([]);
  });
});

describe('ResumeTracker', () => {
  it('heartbeats the contiguous prefix and the indices finished ahead of it', () => {
    const tracker = new ResumeTracker(undefined);
    expect(tracker.finished(2)).toEqual({ next: 0, done: [2] });
    expect(tracker.finished(1)).toEqual({ next: 0, done: [1, 2] });
    expect(tracker.finished(0)).toEqual({ next: 3 });
    expect(tracker.finished(4)).toEqual({ next: 3, done: [4] });
  });

  it('resumes from a point: skips exactly what was done, including an earlier point without `done`', () => {
    const resumed = new ResumeTracker({ next: 3, done: [4, 6] });
    expect([0, 1, 2, 3, 4, 5, 6, 7].filter((i) => resumed.pending(i))).toEqual([3, 5, 7]);
    expect(resumed.finished(3)).toEqual({ next: 5, done: [6] });
    expect(resumed.finished(5)).toEqual({ next: 7 });
    const old = new ResumeTracker({ next: 2 });
    expect([0, 1, 2, 3].filter((i) => old.pending(i))).toEqual([2, 3]);
  });
});
