import type { Command } from 'commander';
import { createOfflineEngine } from '../../connectors/offline/create-offline-engine.ts';
import { WarehouseRegistry } from '../../connectors/registry/warehouse-registry.ts';
import { FlywheelError, NotFoundError } from '../../core/errors.ts';
import { compileQuarantineList, type QuarantineRow } from '../../core/sql/quarantine.ts';
import { ingestQuarantineTableName } from '../../core/sql/warehouse-objects.ts';
import { connectClient } from '../../runtime/temporal-connection.ts';
import { formatQuarantineText, formatReplayText, type QuarantinedEventDocument } from '../format/quarantine-text.ts';
import { loadConfigFor } from './global-options.ts';

/**
 * `flywheel streams quarantine <stream>`: the stream's events the warehouse refused, each with where
 * it came from and the warehouse's reason (read from the warehouse); `--replay` loads them again
 * after a fix, on Temporal, exactly once (docs/collect.md, "Quarantine").
 */
export function registerStreamsCommand(program: Command): void {
  const streams = program.command('streams').description('event streams: what ingestion could not load');
  streams
    .command('quarantine')
    .description('list the events of a stream that the warehouse refused (kept in flywheel.ingest_quarantine), or --replay them after a fix')
    .argument('<stream>', 'event stream name')
    .option('--replay', 'load the quarantined events again (after a fix): those the warehouse takes now leave the quarantine, exactly once')
    .option('--json', 'print the events (format flywheel.quarantine/v1), or the replay\'s result, as JSON')
    .action(async (stream: string, options: { replay?: boolean; json?: boolean }, command: Command) => {
      const config = await loadConfigFor(command);
      if (options.replay) {
        const { temporal } = config.profile;
        // Loaded when the command runs, not at start: `flywheel --help` never loads them (docs/development.md, "Startup").
        const { Client, WorkflowExecutionAlreadyStartedError } = await import('@temporalio/client');
        const { replayQuarantine, replayQuarantineWorkflowId } = await import('../../workflows/quarantine.ts');
        const { runSearchAttributes } = await import('../../workflows/search-attributes.ts');
        const connection = await connectClient(temporal);
        try {
          const client = new Client({ connection, namespace: temporal.namespace });
          const workflowId = replayQuarantineWorkflowId(config.project, stream);
          let handle;
          try {
            handle = await client.workflow.start(replayQuarantine, {
              args: [{ project: config.project, stream }], taskQueue: temporal.taskQueues.ingest, workflowId,
              typedSearchAttributes: runSearchAttributes({ project: config.project, kind: 'ingest', object: stream }),
            });
          } catch (error) {
            if (error instanceof WorkflowExecutionAlreadyStartedError) throw new FlywheelError(`A replay of stream "${stream}" is in progress already (${workflowId})`, { cause: error });
            throw error;
          }
          process.stderr.write(`Started ${handle.workflowId} on task queue ${temporal.taskQueues.ingest}\n`);
          const result = await handle.result();
          process.stdout.write(options.json ? `${JSON.stringify(result, null, 2)}\n` : formatReplayText(result));
        } finally {
          await connection.close();
        }
        return;
      }
      const engine = await createOfflineEngine(config.profile.offline);
      let events: QuarantinedEventDocument[];
      try {
        const applied = await new WarehouseRegistry(engine).latest(config.project);
        if (!applied?.spec.eventStreams?.[stream]) {
          const known = Object.keys(applied?.spec.eventStreams ?? {}).sort();
          throw new NotFoundError('event stream', stream, known.length > 0 ? `Applied streams: ${known.join(', ')}` : 'No event stream is applied; run flywheel apply');
        }
        // A warehouse applied before the quarantine existed has none (until the next apply): nothing in it.
        const quarantine = (await engine.tableFacts(ingestQuarantineTableName())).isTable;
        const rows = quarantine ? await engine.all<QuarantineRow & Record<string, unknown>>(compileQuarantineList(stream, engine.dialect)) : [];
        events = rows.map((row) => ({
          batch: row.batch, eventIndex: Number(row.event_index), eventId: row.event_id, error: row.error, quarantinedAt: row.quarantined_at, event: row.event,
        }));
      } finally {
        await engine.close();
      }
      process.stdout.write(options.json
        ? `${JSON.stringify({ format: 'flywheel.quarantine/v1', project: config.project, stream, events }, null, 2)}\n`
        : formatQuarantineText(stream, events));
    });
}
