import { isoFromMicros } from '../../connectors/online-store/online-time.ts';
import { valuesAt, type assembleFeatures, type ReadPlan } from './assemble-features.ts';
import { repeatJoined, type ServingTarget } from './resolve-service.ts';
import type { EntityRows } from './serving-request.ts';
import type { DecisionScoring, ServedDecision, ServedFeatureStatus, ServedFeatureValue, ServedFragments, ServedKeyValue, ServedRow } from './served-decision.ts';

/**
 * A response as its fragments (`ServedFragments`, served-decision.ts), for the decision log: built in
 * constant time from what `assembleFeatures` kept (nothing is parsed or copied here), so the serving
 * routes can offer a decision on the request's path and leave all of its spelling out to the log.
 *
 * @example
 * const assembled = assembleFeatures(target, rows, plan, found, options);
 * decisions.offer(fragmentsOf({ ...target, service }, rows, plan, assembled, decisionId, servedAt));
 */
export function fragmentsOf(
  target: ServingTarget & { service: string },
  rows: EntityRows,
  plan: ReadPlan,
  assembled: Pick<ReturnType<typeof assembleFeatures>, 'fragments' | 'base'>,
  decisionId: string,
  servedAt: string,
  scoring?: DecisionScoring,
): ServedFragments {
  const { fragments, base } = assembled;
  const { groups } = target;
  // Records written by one materialization share their event time: one text per instant and feature count.
  const times = new Map<number, Map<number, string>>();
  const timesOf = (at: number) => {
    const micros = fragments.timeMicros[at]!;
    const count = fragments.timeCount[at]!;
    let byMicros = times.get(count);
    if (byMicros === undefined) times.set(count, (byMicros = new Map()));
    let text = byMicros.get(micros);
    if (text === undefined) byMicros.set(micros, (text = repeatJoined(`"${isoFromMicros(micros)}"`, count)));
    return text;
  };
  return {
    decisionId,
    service: target.service,
    servedAt,
    context: rows.context,
    features: target.features,
    rowCount: rows.count,
    keyNames: keyNamesOf(target),
    key: (row, k) => {
      const value = rows.columns[k]?.[row] ?? rows.shared[k];
      return typeof value === 'bigint' ? value.toString() : value;
    },
    groups,
    fragment: (row, g) => {
      const group = groups[g]!;
      const slot = plan.slots[group.viewIndex]!;
      return base[typeof slot === 'number' ? slot : slot[row]!]! + group.indexInView;
    },
    values: (at) => valuesAt(fragments, at),
    statuses: (at) => fragments.statuses[at]!,
    // An event time not spelt out by the answer (it had no metadata) is the record's, for each of its features.
    eventTimes: (at) => fragments.times[at] ?? timesOf(at),
    ...(scoring !== undefined ? { scoring } : {}),
  };
}

const keyNames = new WeakMap<ServingTarget, readonly string[]>();

/** The target's join key names, once per target (it lives as long as the server). */
function keyNamesOf(target: ServingTarget): readonly string[] {
  let names = keyNames.get(target);
  if (names === undefined) keyNames.set(target, (names = target.keys.map((key) => key.name)));
  return names;
}

/**
 * The decision the fragments stand for, every row's keys, values, event times and statuses by feature:
 * what the decision log validates through the stream's general checks when the direct encoding
 * (decision-records.ts) refuses a decision, and what its tests compare the direct encoding with.
 */
export function spellOut(decision: ServedFragments): ServedDecision {
  const parsed = new Map<number, { values: ServedFeatureValue[]; statuses: ServedFeatureStatus[]; times: (string | null)[] }>();
  const parse = (at: number) => {
    let entry = parsed.get(at);
    if (entry === undefined) {
      entry = {
        values: JSON.parse(`[${decision.values(at)}]`) as ServedFeatureValue[],
        statuses: JSON.parse(`[${decision.statuses(at)}]`) as ServedFeatureStatus[],
        times: JSON.parse(`[${decision.eventTimes(at)}]`) as (string | null)[],
      };
      parsed.set(at, entry);
    }
    return entry;
  };
  const rows: ServedRow[] = [];
  for (let row = 0; row < decision.rowCount; row++) {
    const keys: Record<string, ServedKeyValue> = {};
    decision.keyNames.forEach((name, k) => {
      const value = decision.key(row, k);
      if (value !== undefined) keys[name] = value;
    });
    const values: Record<string, ServedFeatureValue> = {};
    const eventTimes: Record<string, string | null> = {};
    const statuses: Record<string, ServedFeatureStatus> = {};
    decision.groups.forEach((group, g) => {
      const entry = parse(decision.fragment(row, g));
      group.features.forEach((name, i) => {
        values[name] = entry.values[i]!;
        eventTimes[name] = entry.times[i]!;
        statuses[name] = entry.statuses[i]!;
      });
    });
    rows.push({ keys, values, eventTimes, statuses });
  }
  const { decisionId, service, servedAt, context, features, scoring } = decision;
  return { decisionId, service, servedAt, context, features, rows, ...(scoring !== undefined ? { scoring } : {}) };
}
