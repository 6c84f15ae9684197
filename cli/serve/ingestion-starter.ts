import { Client, WorkflowExecutionAlreadyStartedError } from '@temporalio/client';
import type { ResolvedTemporalConfig } from '../../core/config.ts';
import { INGEST_SWEEP_EVERY_SECONDS, ingestSweepWorkflowId } from '../../core/ingest/sweep.ts';
import type { SealedSegmentManifest } from '../../connectors/log-store/index.ts';
import { connectClient } from '../../runtime/temporal-connection.ts';
import { ingestSegment, ingestSegmentWorkflowId } from '../../workflows/ingest.ts';
import { ingestSweep } from '../../workflows/ingest-sweep.ts';
import { runSearchAttributes } from '../../workflows/search-attributes.ts';

/** The every-minute schedule earlier versions created for the safety net; `flywheel serve` deletes it. */
export const ingestScheduleId = (project: string) => `flywheel:${project}:ingest`;

export { INGEST_SWEEP_EVERY_SECONDS, ingestSweepWorkflowId } from '../../core/ingest/sweep.ts';

export interface IngestionStarter {
  /**
   * Starts the ingestion workflow of a segment uploaded to the object store (its id is the segment's,
   * so a second start is refused). The log API calls it only once the upload is durable.
   */
  readonly onUploaded: (segment: SealedSegmentManifest) => Promise<void>;
  close(): Promise<void>;
}

/**
 * Connects `flywheel serve` to Temporal: every segment uploaded to the object store starts its
 * ingestion workflow (the primary path), and one long-lived sweep workflow is the safety net, every
 * `everySeconds`, finding any uploaded segment announced to no one. When Temporal is unreachable the
 * log API keeps accepting events (they are durable on disk, then in the object store); the safety net
 * loads their segments once Temporal is back.
 */
export async function startIngestion(options: { project: string; temporal: ResolvedTemporalConfig; everySeconds?: number; log?: (line: string) => void }): Promise<IngestionStarter> {
  const log = options.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  let client: Client | undefined;
  const connect = async (): Promise<Client | undefined> => {
    if (client) return client;
    try {
      const connection = await connectClient(options.temporal);
      client = new Client({ connection, namespace: options.temporal.namespace });
      await ensureSafetyNet(client, options.project, options.temporal.taskQueues.ingest, options.everySeconds ?? INGEST_SWEEP_EVERY_SECONDS);
      return client;
    } catch (error) {
      log(`warning: ${(error as Error).message.split('\n')[0]} Uploaded segments wait in the object store until ingestion runs.`);
      return undefined;
    }
  };
  await connect();

  return {
    onUploaded: async (segment: SealedSegmentManifest) => {
      const temporal = await connect();
      if (!temporal) return;
      try {
        await temporal.workflow.start(ingestSegment, {
          taskQueue: options.temporal.taskQueues.ingest,
          workflowId: ingestSegmentWorkflowId(options.project, segment),
          args: [{ project: options.project, stream: segment.stream, node: segment.node, segmentId: segment.segmentId }],
          typedSearchAttributes: runSearchAttributes({ project: options.project, kind: 'ingest', object: segment.stream }),
        });
      } catch (error) {
        if (error instanceof WorkflowExecutionAlreadyStartedError) return;
        log(`warning: could not start the ingestion of ${segment.stream}/${segment.node}/${segment.segmentId}: ${(error as Error).message}; the safety net will load it`);
      }
    },
    close: async () => {
      await client?.connection.close();
    },
  };
}

/**
 * Starts the sweep unless it runs already (one per project, whatever the number of servers), and
 * deletes the every-minute schedule of earlier versions, whose runs filled the workflow list.
 */
async function ensureSafetyNet(client: Client, project: string, taskQueue: string, everySeconds: number): Promise<void> {
  await client.schedule.getHandle(ingestScheduleId(project)).delete().catch(() => undefined);
  try {
    await client.workflow.start(ingestSweep, {
      taskQueue,
      workflowId: ingestSweepWorkflowId(project),
      args: [{ project, everySeconds }],
      typedSearchAttributes: runSearchAttributes({ project, kind: 'ingest', object: 'sweep' }),
    });
  } catch (error) {
    if (!(error instanceof WorkflowExecutionAlreadyStartedError)) throw error;
  }
}
