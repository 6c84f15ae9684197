/** An event the warehouse refused, by its position among the events tried, with the warehouse's reason. */
export interface RefusedEvent {
  readonly index: number;
  readonly reason: string;
}

/**
 * Tries a run of consecutive events `[start, end)` on the warehouse and gives its reason for refusing
 * them, or undefined when it takes them all. It must change nothing (a load rolled back), and judge
 * each event on its own merits: a run is refused when any event of it is.
 */
export type ProbeEvents = (start: number, end: number) => Promise<string | undefined>;

/**
 * Which of `count` events the warehouse refuses, in order, each with the reason it gives when that
 * event is tried alone: found by bisection, so k refused events among n cost about 2·k·log2(n/k)
 * probes (a refused run is split in halves, a half that loads is done, and when the first half
 * loads the second is known to hold the refusal and is split without being tried). `onProbe` is told
 * after each probe, for heartbeats.
 *
 * `knownRefused`: the whole run was refused already (the fast load failed), so it is not tried again.
 * Pure apart from the probe: the strategy is kept apart from the warehouse it runs on.
 */
export async function findRefusedEvents(count: number, probe: ProbeEvents, options: { knownRefused?: boolean; onProbe?: (probes: number) => void } = {}): Promise<RefusedEvent[]> {
  const refused: RefusedEvent[] = [];
  let probes = 0;
  const tried = async (start: number, end: number) => {
    const reason = await probe(start, end);
    options.onProbe?.(++probes);
    return reason;
  };
  /** Finds the refused events of [start, end); returns whether it found any. */
  const visit = async (start: number, end: number, knownRefused: boolean): Promise<boolean> => {
    if (end - start === 1) {
      // Tried alone even when known to be refused: its own reason is what is kept.
      const reason = await tried(start, end);
      if (reason !== undefined) refused.push({ index: start, reason });
      return reason !== undefined;
    }
    if (!knownRefused && (await tried(start, end)) === undefined) return false;
    const middle = start + Math.floor((end - start) / 2);
    const inFirst = await visit(start, middle, false);
    const inSecond = await visit(middle, end, !inFirst);
    return inFirst || inSecond;
  };
  if (count > 0) await visit(0, count, options.knownRefused ?? false);
  return refused;
}
