import { isDecisionLog } from '../../../core/labels/columns.ts';
import { retentionCutoff } from '../../../core/retention/cutoff.ts';
import { compileQuarantineCounts, compileQuarantineList, type QuarantineRow } from '../../../core/sql/quarantine.ts';
import { compileCountExpired } from '../../../core/sql/retention.ts';
import { eventStreamTableName, ingestLedgerTableName, ingestQuarantineTableName } from '../../../core/sql/warehouse-objects.ts';
import type { EventStreamSpec } from '../../../core/definitions/specs.ts';
import { definitionTypeScript } from '../definition-typescript.ts';
import { compileEventsPerMinute, compileIngestionLags, compileStreamExtent, compileStreamLoads } from '../sql/ui-queries.ts';
import type { UiSources } from '../ui-sources.ts';
import { appliedObject, readApplied } from './applied.ts';

/** Minutes of events the chart shows, ending with the minute of the latest event. */
export const EVENT_MINUTES = 120;
/** Loads listed with their lag. */
export const LAG_BATCHES = 50;
/** Quarantined events listed (all are counted). */
export const QUARANTINE_LISTED = 20;

/** How events reach the stream: the log API, a feature service's decision log, or an existing table. */
export type StreamOrigin = 'log API' | 'decision log' | 'table';

/** `GET /api/streams`: every applied event stream. */
export interface StreamsList {
  readonly registryVersion: number;
  readonly streams: readonly { readonly name: string; readonly origin: StreamOrigin; readonly events: number; readonly batches: number; readonly lastLoadedAt: string | null; readonly quarantined: number; readonly retentionSeconds: number }[];
}

/** `GET /api/streams/:name`. */
export interface StreamPage {
  readonly name: string;
  readonly registryVersion: number;
  readonly now: string;
  readonly origin: StreamOrigin;
  readonly typescript: string;
  readonly table: string;
  readonly events: number;
  readonly firstEvent: string | null;
  readonly lastEvent: string | null;
  /** Per minute of event time, oldest first, every minute of the window listed (0 when none). */
  readonly eventsPerMinute: readonly { readonly minute: string; readonly events: number }[];
  readonly loads: readonly { readonly batch: string; readonly loadedAt: string; readonly rows: number; readonly lagSeconds: number }[];
  readonly quarantined: number;
  readonly quarantine: readonly { readonly batch: string; readonly eventIndex: number; readonly eventId: string | null; readonly error: string; readonly quarantinedAt: string }[];
  readonly retention: { readonly retentionSeconds: number; readonly cutoff: string; readonly expired: number; readonly scheduled: boolean };
}

function originOf(stream: EventStreamSpec, decisionLog: boolean): StreamOrigin {
  return decisionLog ? 'decision log' : stream.from ? 'table' : 'log API';
}

export async function streamsList(sources: UiSources): Promise<StreamsList> {
  const applied = await readApplied(sources);
  const streams = Object.values(applied.spec.eventStreams).sort((a, b) => a.name.localeCompare(b.name));
  const { loads, quarantine, counts } = await sources.warehouse.read(async (engine) => {
    const ledger = (await engine.tableFacts(ingestLedgerTableName())).isTable;
    const quarantined = (await engine.tableFacts(ingestQuarantineTableName())).isTable;
    const events = new Map<string, number>();
    for (const stream of streams) {
      if (!(await engine.tableFacts(eventStreamTableName(stream.name))).isTable) continue;
      const [extent] = await engine.all<{ events: number }>(compileStreamExtent(stream, engine.dialect));
      events.set(stream.name, Number(extent?.events ?? 0));
    }
    return {
      loads: ledger ? await engine.all<{ stream: string; batches: number; last_loaded_at: string }>(compileStreamLoads(engine.dialect)) : [],
      quarantine: quarantined ? await engine.all<{ stream: string; events: number }>(compileQuarantineCounts(engine.dialect)) : [],
      counts: events,
    };
  });
  return {
    registryVersion: applied.version,
    streams: streams.map((stream) => {
      const load = loads.find((l) => l.stream === stream.name);
      return {
        name: stream.name, origin: originOf(stream, isDecisionLog(applied.spec, stream.name)), events: counts.get(stream.name) ?? 0,
        batches: Number(load?.batches ?? 0), lastLoadedAt: load?.last_loaded_at ?? null,
        quarantined: Number(quarantine.find((q) => q.stream === stream.name)?.events ?? 0), retentionSeconds: stream.retentionSeconds,
      };
    }),
  };
}

export async function streamPage(sources: UiSources, name: string): Promise<StreamPage> {
  const now = sources.now();
  const applied = await readApplied(sources);
  const stream = appliedObject(applied.spec, 'eventStream', name);
  const cutoff = retentionCutoff(now.toISOString(), stream.retentionSeconds);
  const read = await sources.warehouse.read(async (engine) => {
    const d = engine.dialect;
    const exists = (await engine.tableFacts(eventStreamTableName(name))).isTable;
    const [extent] = exists ? await engine.all<{ events: number; first_event: string | null; last_event: string | null }>(compileStreamExtent(stream, d)) : [];
    const last = extent?.last_event ?? null;
    const windowEnd = last === null ? null : Math.floor(Date.parse(last) / 60_000) + 1;
    const minutes = windowEnd === null ? [] : await engine.all<{ minute: number; events: number }>(compileEventsPerMinute(stream, {
      from: new Date((windowEnd - EVENT_MINUTES) * 60_000).toISOString(), to: new Date(windowEnd * 60_000).toISOString(),
    }, d));
    const ledger = (await engine.tableFacts(ingestLedgerTableName())).isTable;
    const loads = exists && ledger ? await engine.all<{ batch: string; loaded_at: string; rows: number; lag_seconds: number }>(compileIngestionLags(stream, LAG_BATCHES, d)) : [];
    const quarantineTable = (await engine.tableFacts(ingestQuarantineTableName())).isTable;
    const quarantined = quarantineTable ? await engine.all<QuarantineRow & Record<string, unknown>>(compileQuarantineList(name, d)) : [];
    const [expired] = exists ? await engine.all<{ rows: number }>(compileCountExpired(stream, { cutoff }, d)) : [];
    return { extent, windowEnd, minutes, loads, quarantined, expired: Number(expired?.rows ?? 0) };
  });
  const perMinute = new Map(read.minutes.map((m) => [Number(m.minute), Number(m.events)]));
  const eventsPerMinute = read.windowEnd === null ? [] : Array.from({ length: EVENT_MINUTES }, (_, i) => {
    const minute = read.windowEnd! - EVENT_MINUTES + i;
    return { minute: new Date(minute * 60_000).toISOString(), events: perMinute.get(minute) ?? 0 };
  });
  return {
    name,
    registryVersion: applied.version,
    now: now.toISOString(),
    origin: originOf(stream, isDecisionLog(applied.spec, name)),
    typescript: definitionTypeScript(stream),
    table: eventStreamTableName(name),
    events: Number(read.extent?.events ?? 0),
    firstEvent: read.extent?.first_event ?? null,
    lastEvent: read.extent?.last_event ?? null,
    eventsPerMinute,
    loads: read.loads.map((l) => ({ batch: l.batch, loadedAt: l.loaded_at, rows: Number(l.rows), lagSeconds: Number(l.lag_seconds) })),
    quarantined: read.quarantined.length,
    quarantine: read.quarantined.slice(0, QUARANTINE_LISTED).map((row) => ({
      batch: row.batch, eventIndex: Number(row.event_index), eventId: row.event_id, error: row.error, quarantinedAt: row.quarantined_at,
    })),
    retention: { retentionSeconds: stream.retentionSeconds, cutoff, expired: read.expired, scheduled: stream.retentionSchedule !== undefined },
  };
}
