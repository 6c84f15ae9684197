import { resolve } from 'node:path';
import { createObjectStore } from '../../connectors/object-store/create-object-store.ts';
import { createOfflineEngine } from '../../connectors/offline/create-offline-engine.ts';
import { warehouseChangeToken } from '../../connectors/offline/warehouse-change-token.ts';
import type { OnlineStore } from '../../connectors/online-store/online-store.ts';
import type { ResolvedConfig } from '../../runtime/load-config.ts';
import type { TemporalSchedules } from '../../runtime/temporal-schedules.ts';
import type { TokenTable } from '../../server/auth/bearer-tokens.ts';
import { startUiServer, type RunningUiServer } from '../../server/ui/start-ui-server.ts';
import { connectRunFinder, type RunFinder } from '../../server/ui/temporal-runs.ts';
import { uiAssetsDir } from '../../server/ui/ui-assets-dir.ts';
import type { UiSources } from '../../server/ui/ui-sources.ts';
import { WarehouseAccess } from '../../server/ui/warehouse-access.ts';
import { loadDefinitions } from '../project/load-definitions.ts';

/**
 * The UI of a project, as `flywheel ui`, `flywheel dev` and the slates demo run it: its sources built
 * from the profile (warehouse, object store, online store, Temporal's visibility), then the server.
 * Temporal or the online store being away does not stop the UI: the pages say what is missing.
 */
export interface ProjectUiOptions {
  readonly tokens: TokenTable;
  readonly host: string;
  readonly port: number;
  /** The Temporal Web UI the Runs page links to; default http://localhost:8233 for a local Temporal, else none. */
  readonly temporalUiUrl?: string;
  /** A token to put in the printed address (one made up for the session); undefined: the page asks for one. */
  readonly sessionToken?: string;
}

export interface RunningProjectUi {
  readonly server: RunningUiServer;
  /** The address to open, with the session token when there is one. */
  readonly openUrl: string;
  /** What to print, one line each. */
  readonly description: readonly string[];
  close(): Promise<void>;
}

const LOCAL_HOSTS = new Set(['localhost', '127.0.0.1', '::1', '[::1]']);

export async function startProjectUi(config: ResolvedConfig, options: ProjectUiOptions): Promise<RunningProjectUi> {
  const { temporal } = config.profile;
  const local = LOCAL_HOSTS.has(temporal.address.replace(/:\d+$/, ''));
  const temporalUiUrl = options.temporalUiUrl ?? (local ? 'http://localhost:8233' : undefined);
  const notes: string[] = [];
  let runs: RunFinder | undefined;
  let runsUnavailable: string | undefined;
  try {
    runs = await connectRunFinder(temporal, temporalUiUrl);
  } catch (error) {
    runsUnavailable = `Temporal at ${temporal.address} is not reachable: ${firstLine(error)}`;
    notes.push(`note: ${runsUnavailable}; the pages show no runs`);
  }
  let onlineStore: OnlineStore | undefined;
  try {
    const { createOnlineStore } = await import('../../connectors/online-store/create-online-store.ts');
    onlineStore = await createOnlineStore(config.profile.onlineStore, { project: config.project });
  } catch (error) {
    notes.push(`note: the online store cannot be opened (${firstLine(error)}); the feature views' skew histograms are left out`);
  }
  // The Plan page's schedule reader connects when a plan first involves a schedule, and stays for the server's life.
  let schedules: Promise<TemporalSchedules> | undefined;
  const connectSchedules = () => {
    schedules ??= import('../../runtime/temporal-schedules.ts').then(({ TemporalSchedules }) => TemporalSchedules.connectToRead(config.project, temporal));
    schedules.catch(() => (schedules = undefined));
    return schedules;
  };
  const closeSchedules = async () => (await schedules?.catch(() => undefined))?.close();
  const sources: UiSources = {
    project: config.project,
    warehouse: new WarehouseAccess(() => createOfflineEngine(config.profile.offline), warehouseOptions(config)),
    objectStore: createObjectStore(config.profile.objectStore),
    onlineStore,
    runs,
    ...(runsUnavailable ? { runsUnavailable } : {}),
    temporalUi: temporalUiUrl ? { url: temporalUiUrl, namespace: temporal.namespace } : undefined,
    loadDefinitions: () => loadDefinitions(config.definitionsDir, config.projectRoot),
    resolvePath: (path) => resolve(config.projectRoot, path),
    schedules: { temporal, connect: connectSchedules },
    now: () => new Date(),
  };
  const assetsDir = uiAssetsDir();
  if (!assetsDir) notes.push('note: the UI frontend is not built (run `npm run build:ui` in the Flywheel checkout); the JSON API under /api/ works');
  let server: RunningUiServer;
  try {
    server = await startUiServer({ sources, tokens: options.tokens, assetsDir, host: options.host, port: options.port });
  } catch (error) {
    await runs?.close();
    await onlineStore?.close();
    await closeSchedules();
    throw error;
  }
  const openUrl = options.sessionToken ? `${server.url}/?token=${options.sessionToken}` : `${server.url}/`;
  return {
    server,
    openUrl,
    description: [
      `Flywheel UI        ${openUrl}`,
      ...(options.sessionToken ? [] : ['                   Sign in with a token that has the read scope (FLYWHEEL_TOKENS).']),
      ...notes.map((note) => `                   ${note}`),
    ],
    close: async () => {
      await server.close();
      await runs?.close();
      await onlineStore?.close();
      await closeSchedules();
    },
  };
}

/** The warehouse's change token, when its engine has one: the UI answers again from memory while it holds. */
function warehouseOptions(config: ResolvedConfig): ConstructorParameters<typeof WarehouseAccess>[1] {
  const changeToken = warehouseChangeToken(config.profile.offline);
  return changeToken ? { changeToken } : {};
}

function firstLine(error: unknown): string {
  return (error instanceof Error ? error.message : String(error)).split('\n')[0]!;
}
