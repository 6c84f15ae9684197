import { Client, ScheduleAlreadyRunning, ScheduleOverlapPolicy, WorkflowExecutionAlreadyStartedError } from '@temporalio/client';
import type { ResolvedTemporalConfig } from '../../core/config.ts';
import type { ClosedSegment, OnSegmentClosed } from '../../server/index.ts';
import { connectClient } from '../../worker/temporal-connection.ts';
import { ingestPending, ingestSegment, ingestSegmentWorkflowId } from '../../workflows/ingest.ts';
import { FLYWHEEL_PROJECT, runSearchAttributes } from '../../workflows/search-attributes.ts';

/** The schedule that runs `ingestPending` for a project: the safety net behind per-segment starts. */
export const ingestScheduleId = (project: string) => `flywheel:${project}:ingest`;

export interface IngestionStarter {
  /** Starts the segment's ingestion workflow (its id is the segment's, so a second start is refused). */
  readonly onSegmentClosed: OnSegmentClosed;
  close(): Promise<void>;
}

/**
 * Connects `flywheel serve` to Temporal: every closed segment starts its ingestion workflow, and a
 * schedule runs the safety net every `every`. When Temporal is unreachable the log API keeps accepting
 * events (they are durable on disk); the safety net loads their segments once Temporal is back.
 */
export async function startIngestion(options: { project: string; temporal: ResolvedTemporalConfig; every?: string; log?: (line: string) => void }): Promise<IngestionStarter> {
  const log = options.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  let client: Client | undefined;
  const connect = async (): Promise<Client | undefined> => {
    if (client) return client;
    try {
      const connection = await connectClient(options.temporal);
      client = new Client({ connection, namespace: options.temporal.namespace });
      await ensureSafetyNet(client, options.project, options.temporal.taskQueue, options.every ?? '1m');
      return client;
    } catch (error) {
      log(`warning: ${(error as Error).message.split('\n')[0]} Closed segments stay on disk until ingestion runs.`);
      return undefined;
    }
  };
  await connect();

  return {
    onSegmentClosed: async (segment: ClosedSegment) => {
      const temporal = await connect();
      if (!temporal) return;
      try {
        await temporal.workflow.start(ingestSegment, {
          taskQueue: options.temporal.taskQueue,
          workflowId: ingestSegmentWorkflowId(options.project, segment.stream, segment.segmentId),
          args: [{ project: options.project, stream: segment.stream, segmentId: segment.segmentId }],
          typedSearchAttributes: runSearchAttributes({ project: options.project, kind: 'ingest', object: segment.stream }),
        });
      } catch (error) {
        if (error instanceof WorkflowExecutionAlreadyStartedError) return;
        log(`warning: could not start the ingestion of ${segment.stream}/${segment.segmentId}: ${(error as Error).message}; the safety net will load it`);
      }
    },
    close: async () => {
      await client?.connection.close();
    },
  };
}

async function ensureSafetyNet(client: Client, project: string, taskQueue: string, every: string): Promise<void> {
  try {
    await client.schedule.create({
      scheduleId: ingestScheduleId(project),
      spec: { intervals: [{ every }] },
      action: { type: 'startWorkflow', workflowType: ingestPending, args: [{ project }], taskQueue, workflowId: `${project}/ingest-pending`, typedSearchAttributes: runSearchAttributes({ project, kind: 'ingest' }) },
      policies: { overlap: ScheduleOverlapPolicy.SKIP, catchupWindow: '1 minute' },
      typedSearchAttributes: [{ key: FLYWHEEL_PROJECT, value: project }],
    });
  } catch (error) {
    if (!(error instanceof ScheduleAlreadyRunning)) throw error;
  }
}
