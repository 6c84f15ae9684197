import type { Command } from 'commander';
import { createOfflineEngine } from '../../connectors/offline/create-offline-engine.ts';
import { WarehouseMaterializationState } from '../../connectors/registry/materialization-state.ts';
import { WarehouseRegistry } from '../../connectors/registry/warehouse-registry.ts';
import { materializationStatuses, type ViewMaterializationStatus } from '../../core/materialization/status.ts';
import { compileQuarantineCounts } from '../../core/sql/quarantine.ts';
import { ingestQuarantineTableName } from '../../core/sql/warehouse-objects.ts';
import { formatStatusText } from '../format/status-text.ts';
import { loadConfigFor } from './global-options.ts';

/** What `flywheel status --json` prints. */
export interface StatusDocument {
  readonly format: 'flywheel.status/v1';
  readonly project: string;
  /** The applied registry version the views come from; null when nothing was applied. */
  readonly registryVersion: number | null;
  /** The time ages are measured against, ISO-8601 UTC. */
  readonly now: string;
  readonly featureViews: readonly ViewMaterializationStatus[];
  /** Per applied event stream, by name: its events the warehouse refused, waiting in the ingest quarantine (docs/collect.md). */
  readonly streams: readonly { readonly stream: string; readonly quarantined: number }[];
}

/**
 * `flywheel status`: per online feature view of the applied registry version, its materialization
 * schedule, last watermark, how old it is and whether that is stale (docs/materialization.md).
 * and per event stream the events waiting in the ingest quarantine. Reads the warehouse only;
 * `--json` for monitoring.
 */
export function registerStatusCommand(program: Command): void {
  program
    .command('status')
    .description('per online feature view: its materialization schedule, last watermark, age, and whether it is stale; per event stream: events in quarantine')
    .option('--json', 'print the status as a JSON document (format flywheel.status/v1)')
    .action(async (options: { json?: boolean }, command: Command) => {
      const config = await loadConfigFor(command);
      const now = new Date();
      const engine = await createOfflineEngine(config.profile.offline);
      let document: StatusDocument;
      try {
        const applied = await new WarehouseRegistry(engine).latest(config.project);
        const states = applied ? await new WarehouseMaterializationState(engine).list(config.project) : [];
        const streamNames = Object.keys(applied?.spec.eventStreams ?? {}).sort();
        // apply creates the quarantine with the first stream; a warehouse applied before it existed has none until the next apply.
        const quarantine = streamNames.length > 0 && (await engine.tableFacts(ingestQuarantineTableName())).isTable;
        const counts = quarantine ? await engine.all<{ stream: string; events: number }>(compileQuarantineCounts(engine.dialect)) : [];
        document = {
          format: 'flywheel.status/v1',
          project: config.project,
          registryVersion: applied?.version ?? null,
          now: now.toISOString(),
          featureViews: applied ? materializationStatuses(applied.spec, states, now) : [],
          streams: streamNames.map((stream) => ({ stream, quarantined: Number(counts.find((c) => c.stream === stream)?.events ?? 0) })),
        };
      } finally {
        await engine.close();
      }
      process.stdout.write(options.json ? `${JSON.stringify(document, null, 2)}\n` : formatStatusText(document));
    });
}
