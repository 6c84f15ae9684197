import { rm } from 'node:fs/promises';
import { NotFoundError } from '../core/errors.ts';
import { findRefusedEvents } from '../core/ingest/find-refused-events.ts';
import { compileIngestBatch, compileLedgerRows } from '../core/sql/ingest.ts';
import { compileQuarantineCounts, compileQuarantineList, compileQuarantineReason, compileQuarantineRelease, type QuarantineRow } from '../core/sql/quarantine.ts';
import { compileWarehouseObjects, ingestQuarantineTableNode } from '../core/sql/warehouse-objects.ts';
import { writeQuarantineCount } from '../connectors/log-store/quarantine-counts.ts';
import { withEngine, type ActivityDeps } from './deps.ts';
import { activityScratch } from './scratch.ts';
import { MAX_PROBES, quarantineReason } from './ingest.ts';
import { atBoundary } from './failures.ts';
import { withHeartbeats } from './heartbeat.ts';
import { warehouseProbe, writeLines } from './probe-events.ts';

export interface ReplayQuarantineInput {
  readonly stream: string;
  /** Unique to the replay (its workflow run): its events are stored as batch `replay:<replayId>`, which a retry finds in the ledger. */
  readonly replayId: string;
}

export interface ReplayedQuarantine {
  readonly stream: string;
  /** The batch the replayed events were stored as. */
  readonly batch: string;
  /** Quarantined events tried. */
  readonly events: number;
  /** Of those, stored now. */
  readonly loaded: number;
  /** Taken by the warehouse but not stored: their id was stored already (by a later segment, say), or repeated among them. */
  readonly alreadyStored: number;
  /** Refused again; they stay in quarantine with the warehouse's new reason. */
  readonly refused: number;
  /** True when the ledger held the batch already: an earlier attempt of this replay committed, nothing was done this time. */
  readonly alreadyReplayed: boolean;
}

/**
 * Replaying the ingest quarantine (docs/collect.md, "Quarantine"): after a fix (a type changed, a
 * NOT NULL dropped), its events are loaded again, exactly once.
 */
export function createQuarantineActivities(deps: ActivityDeps) {
  return {
    /**
     * Tries every quarantined event of a stream again, with the stream's applied definition: those
     * the warehouse takes now are stored (as batch `replay:<replayId>`, with its ledger row, so
     * labels see them as loaded now; an event whose id is stored already is not stored again) and
     * leave the quarantine; the others stay, with the warehouse's new reason. One transaction; a
     * retry after it committed finds the batch in the ledger and does nothing.
     */
    async replayQuarantine(input: ReplayQuarantineInput): Promise<ReplayedQuarantine> {
      return atBoundary(() =>
        withEngine(deps, async (engine) => {
          const applied = await deps.registry(engine).latest(deps.project);
          const stream = applied?.spec.eventStreams?.[input.stream];
          if (!stream) throw new NotFoundError('event stream', input.stream, 'Apply a definition of it (flywheel apply) first');
          const batch = `replay:${input.replayId}`;
          const [done] = await engine.all<{ rows: number }>(compileLedgerRows(stream.name, batch, engine.dialect));
          if (done !== undefined) return { stream: stream.name, batch, events: 0, loaded: Number(done.rows), alreadyStored: 0, refused: 0, alreadyReplayed: true };
          for (const statement of compileWarehouseObjects([ingestQuarantineTableNode()], engine.dialect)) await engine.run(statement);

          const kept = await engine.all<QuarantineRow & Record<string, unknown>>(compileQuarantineList(stream.name, engine.dialect));
          const lines = kept.map((row) => Buffer.from(row.event, 'utf8'));
          const scratch = activityScratch(deps.scratchDir, `${stream.name}-replay-${input.replayId.replace(/[^A-Za-z0-9_-]/g, '_')}`);
          let probes = 0;
          try {
            const refused = await withHeartbeats(
              () => findRefusedEvents(lines.length, warehouseProbe(engine, stream, {
                lines, batch, path: `${scratch}.probe.ndjson`,
                label: (start, end) => (end - start === 1 ? `${kept[start]!.batch}.seg` : 'the quarantine'),
              }), { maxProbes: MAX_PROBES, onProbe: (n) => (probes = n) }),
              () => ({ stage: 'probe', events: lines.length, probes }),
            );
            const refusedAt = new Map(refused.map((r) => [r.index, quarantineReason(r)]));
            const taken = kept.filter((_, index) => !refusedAt.has(index));
            await writeLines(`${scratch}.good.ndjson`, lines.filter((_, index) => !refusedAt.has(index)));
            const good = await engine.stageFiles([`${scratch}.good.ndjson`], { name: `${batch}-good`, format: 'jsonLines' });
            const [insertRows, insertLedger] = compileIngestBatch(stream, { batch, stagingRelation: { kind: 'staged', files: good } }, engine.dialect);
            const position = (row: QuarantineRow) => ({ batch: row.batch, eventIndex: Number(row.event_index) });
            const { loaded, waiting } = await withHeartbeats(
              () =>
                engine.transaction(async (tx) => {
                  if (taken.length > 0) await tx.run(insertRows!);
                  await tx.run(insertLedger!);
                  for (const statement of compileQuarantineRelease(stream.name, taken.map(position), engine.dialect)) await tx.run(statement);
                  for (const [index, reason] of refusedAt) await tx.run(compileQuarantineReason(stream.name, position(kept[index]!), reason, engine.dialect));
                  const [row] = await tx.all<{ rows: number }>(compileLedgerRows(stream.name, batch, engine.dialect));
                  const counts = await tx.all<{ stream: string; events: number }>(compileQuarantineCounts(engine.dialect));
                  return { loaded: Number(row?.rows ?? 0), waiting: Number(counts.find((c) => c.stream === stream.name)?.events ?? 0) };
                }),
              () => ({ stage: 'load', events: taken.length }),
            ).finally(() => engine.unstageFiles(good));
            await writeQuarantineCount(deps.objectStore, stream.name, waiting);
            return { stream: stream.name, batch, events: kept.length, loaded, alreadyStored: taken.length - loaded, refused: refused.length, alreadyReplayed: false };
          } finally {
            await rm(`${scratch}.probe.ndjson`, { force: true });
            await rm(`${scratch}.good.ndjson`, { force: true });
          }
        }),
      );
    },
  };
}

export type QuarantineActivities = ReturnType<typeof createQuarantineActivities>;
