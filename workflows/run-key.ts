/**
 * `20261126T190012_8e0f3a9c1b2d`: sortable by start time, unique per run, the same on every replay.
 * Run ids are UUIDv7, whose leading digits are a timestamp (runs started together share them), so
 * the key takes the trailing, random ones. It names a run's staged files and the versions it writes.
 */
export function runKey(start: Date, runId: string): string {
  const stamp = start.toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, '');
  return `${stamp}_${runId.replace(/-/g, '').slice(-12)}`;
}
