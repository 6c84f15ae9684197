/** An event the warehouse refused, by its position among the events tried, with the warehouse's reason. */
export interface RefusedEvent {
  readonly index: number;
  readonly reason: string;
  /**
   * Whether `reason` is this event's own (it was tried alone). False when the tries ran out
   * (`maxProbes`) and it was kept with a run of events the warehouse refused as a whole: some of
   * that run may be fine, and load on replay.
   */
  readonly alone: boolean;
}

/**
 * Tries a run of consecutive events `[start, end)` on the warehouse and gives its reason for refusing
 * them, or undefined when it takes them all. It must change nothing (a load rolled back), and judge
 * each event on its own merits: a run is refused when any event of it is.
 */
export type ProbeEvents = (start: number, end: number) => Promise<string | undefined>;

export interface FindRefusedOptions {
  /** The whole run was refused already (the fast load failed) for this reason, so it is not tried again. */
  readonly knownRefused?: string;
  /**
   * The most probes to spend. Past it, a run still refused is reported whole (each event with
   * `alone: false` and the run's reason), and a run not yet tried is tried once as a whole; so a
   * batch of nothing but refused events costs about `maxProbes + 2·log2(count)` probes, not 2·count.
   */
  readonly maxProbes?: number;
  /** Told after each probe, for heartbeats. */
  readonly onProbe?: (probes: number) => void;
}

/**
 * Which of `count` events the warehouse refuses, in order, each with the reason it gives when that
 * event is tried alone: found by bisection, so k refused events among n cost about 2·k·log2(n/k)
 * probes (a refused run is split in halves, a half that loads is done, and when the first half
 * loads the second is known to hold the refusal and is split without being tried).
 * Pure apart from the probe: the strategy is kept apart from the warehouse it runs on.
 */
export async function findRefusedEvents(count: number, probe: ProbeEvents, options: FindRefusedOptions = {}): Promise<RefusedEvent[]> {
  const refused: RefusedEvent[] = [];
  const maxProbes = options.maxProbes ?? Infinity;
  let probes = 0;
  const tried = async (start: number, end: number) => {
    const reason = await probe(start, end);
    probes++;
    options.onProbe?.(probes);
    return reason;
  };
  const keepRun = (start: number, end: number, reason: string) => {
    for (let index = start; index < end; index++) refused.push({ index, reason, alone: false });
  };
  /** Finds the refused events of [start, end), given its reason when it is known to be refused; returns whether it found any. */
  const visit = async (start: number, end: number, knownReason: string | undefined): Promise<boolean> => {
    if (end - start === 1) {
      if (knownReason !== undefined && probes >= maxProbes) {
        refused.push({ index: start, reason: knownReason, alone: false });
        return true;
      }
      // Tried alone even when known to be refused: its own reason is what is kept.
      const reason = await tried(start, end);
      if (reason !== undefined) refused.push({ index: start, reason, alone: true });
      return reason !== undefined;
    }
    const reason = knownReason ?? (await tried(start, end));
    if (reason === undefined) return false;
    if (probes >= maxProbes) {
      keepRun(start, end, reason);
      return true;
    }
    const middle = start + Math.floor((end - start) / 2);
    const inFirst = await visit(start, middle, undefined);
    // The run is refused: when its first half loads, the refusal is in the second, for the same reason.
    const inSecond = await visit(middle, end, inFirst ? undefined : reason);
    return inFirst || inSecond;
  };
  if (count > 0) await visit(0, count, options.knownRefused);
  return refused;
}
