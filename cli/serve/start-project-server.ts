import { createOnlineStore, describeOnlineStore } from '../../connectors/online-store/create-online-store.ts';
import type { OnlineStoreConfig } from '../../core/config.ts';
import { ObjectStoreSegmentStore, resolveNodeId } from '../../connectors/log-store/index.ts';
import { createObjectStore } from '../../connectors/object-store/create-object-store.ts';
import { readQuarantineCounts } from '../../connectors/log-store/quarantine-counts.ts';
import { storeModelVersions } from '../../server/decide/store-model-versions.ts';
import { pushedViewsOf, startLogServer, streamSchemasOf, type RunningLogServer, type TokenTable } from '../../server/index.ts';
import type { ResolvedConfig } from '../../runtime/load-config.ts';
import { loadDefinitions } from '../project/load-definitions.ts';
import { startIngestion, type IngestionStarter } from './ingestion-starter.ts';

/**
 * The project's server, as `flywheel serve` and `flywheel dev` run it: the log API for its event
 * streams (docs/collect-api.md) and the serving API for its feature services (docs/serving.md), one
 * process, one port. Pushed views and feature services share one online store, the profile's.
 */
export interface ProjectServerOptions {
  readonly tokens: TokenTable;
  readonly host: string;
  readonly port: number;
  readonly maxBodyBytes?: number;
  readonly maxBatchEvents?: number;
  readonly segmentBytes?: number;
  readonly segmentAgeMs?: number;
  /** Start an ingestion workflow on Temporal for each segment uploaded to the object store. */
  readonly ingest: boolean;
  /** False (`--no-warm-up`): listen without warming the serving path first (docs/serving.md). Default: warmed. */
  readonly warmUp?: boolean;
  /** This node's id (`--node-id`); default FLYWHEEL_NODE_ID, else the host name and a hash of the state folder. */
  readonly nodeId?: string;
  /** How often the decision API re-reads each model's promoted version (docs/decide.md). Default 5 s. */
  readonly modelPollMs?: number;
  /** The key of the decision API's exploration draws (docs/decide.md); default random at start. A demo sets it to repeat its runs. */
  readonly explorationSecret?: string;
  /** Warnings and closed segments (with `ingest: false`). Default: stderr. */
  readonly log?: (line: string) => void;
}

export interface RunningProjectServer {
  readonly server: RunningLogServer;
  /** What it serves, one line each, for the terminal. */
  readonly description: readonly string[];
  /** Stops the server (requests in flight finish, segments close), then the ingestion starter. */
  close(): Promise<void>;
}

export async function startProjectServer(config: ResolvedConfig, options: ProjectServerOptions): Promise<RunningProjectServer> {
  const log = options.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  const project = await loadDefinitions(config.definitionsDir, config.projectRoot);
  const streams = streamSchemasOf(project);
  const services = Object.keys(project.featureServices);
  if (streams.length === 0) log(`warning: ${config.project} declares no event streams that receive events; every POST of events will answer 404`);
  const pushed = pushedViewsOf(project);
  // Each sealed segment goes to the object store under this node's id, then starts its ingestion workflow; a sweep is the safety net.
  const nodeId = resolveNodeId({ flag: options.nodeId, stateDir: config.stateDir });
  const ingestion: IngestionStarter | undefined = options.ingest ? await startIngestion({ project: config.project, temporal: config.profile.temporal, log }) : undefined;
  // One online store for both: pushed views write to it, feature services are read from it. The server closes it.
  const store = pushed.length > 0 || services.length > 0 ? await createOnlineStore(config.profile.onlineStore, { project: config.project }) : undefined;
  // Models are scored by POST /v1/decide, with the versions promoted in the object store.
  const models = Object.keys(project.models ?? {});
  const versions = store && models.length > 0
    ? storeModelVersions({ project, store: createObjectStore(config.profile.objectStore), projectRoot: config.projectRoot, ...(options.modelPollMs !== undefined ? { pollMs: options.modelPollMs } : {}), log })
    : undefined;
  const objects = createObjectStore(config.profile.objectStore);
  let server: RunningLogServer;
  try {
    await versions?.start();
    server = await startLogServer({
      stateDir: config.stateDir,
      streams,
      tokens: options.tokens,
      host: options.host,
      port: options.port,
      limits: {
        ...(options.maxBodyBytes !== undefined ? { maxBodyBytes: options.maxBodyBytes } : {}),
        ...(options.maxBatchEvents !== undefined ? { maxBatchEvents: options.maxBatchEvents } : {}),
      },
      segments: {
        ...(options.segmentBytes !== undefined ? { maxBytes: options.segmentBytes } : {}),
        ...(options.segmentAgeMs !== undefined ? { maxAgeMs: options.segmentAgeMs } : {}),
      },
      sealedSegments: {
        store: new ObjectStoreSegmentStore(objects),
        nodeId,
        onUploaded: ingestion?.onUploaded ?? ((segment) => log(`uploaded segment ${segment.stream}/${segment.node}/${segment.segmentId} (${segment.events} events)`)),
      },
      // Ingestion records the quarantine's counts in the object store, so every node reports them.
      quarantineCounts: () => readQuarantineCounts(objects),
      // Feature views declared `push: true` get their latest values in the online store as events arrive.
      ...(store && pushed.length > 0 ? { push: { store, views: pushed } } : {}),
      ...(store && services.length > 0 ? { serving: { store, project } } : {}),
      ...(options.warmUp === false ? { servingWarmUp: false as const } : {}),
      ...(versions ? { decide: { project, versions, ...(options.explorationSecret !== undefined ? { explorationSecret: options.explorationSecret } : {}) } } : {}),
      log,
    });
  } catch (error) {
    versions?.stop();
    await ingestion?.close();
    throw error;
  }
  const description = [
    `Log API for ${config.project} on ${server.url}: POST /v1/streams/<stream>/events for ${streams.map((s) => s.name).join(', ') || 'no streams'}. ` +
      `Node ${nodeId}: segments in ${config.stateDir}/segments until sealed, then in the object store.`,
    ...(services.length > 0 ? [`Serving API on ${server.url}: POST /v1/features for ${services.join(', ')}, from ${describeStore(config.profile.onlineStore)}.`] : []),
    ...(versions ? [`Decision API on ${server.url}: POST /v1/decide for ${models.join(', ')}, with the versions promoted in the object store (re-read every ${(options.modelPollMs ?? 5_000) / 1000} s).`] : []),
    `Operations: GET ${server.url}/healthz, /readyz, /metrics.`,
  ];
  return {
    server,
    description,
    close: async () => {
      await server.close();
      await ingestion?.close();
    },
  };
}

/** The online store as printed: `sqlite:/path`, the Redis URL, or `Redis Cluster <urls>` (the config never holds a password). */
function describeStore(config: OnlineStoreConfig): string {
  return describeOnlineStore(config);
}
