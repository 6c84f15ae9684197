import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { serve } from '@hono/node-server';
import type { TokenTable } from '../auth/bearer-tokens.ts';
import { PortInUseError } from '../port-in-use-error.ts';
import { loopPage } from './api/loop-page.ts';
import { projectOverview } from './api/other-pages.ts';
import { cachedLayout } from './loop-layout.ts';
import { createStaticAssets, type StaticAssets } from './static-assets.ts';
import { createUiApp } from './ui-app.ts';
import type { UiSources } from './ui-sources.ts';

export interface UiServerOptions {
  readonly sources: UiSources;
  readonly tokens: TokenTable;
  readonly assetsDir: string | undefined;
  /** Default 127.0.0.1: the UI shows a project's data, so it listens beyond this machine only when told. */
  readonly host?: string;
  /** Default 8300; 0 picks a free port. */
  readonly port?: number;
}

export interface RunningUiServer {
  /** `http://<host>:<port>` */
  readonly url: string;
  readonly port: number;
  close(): Promise<void>;
}

export const DEFAULT_UI_PORT = 8300;

/** The longest the server waits for its warm-up before listening anyway (a slow warehouse or Temporal must not keep the UI away). */
export const WARM_UP_LIMIT_MS = 10_000;

export async function startUiServer(options: UiServerOptions): Promise<RunningUiServer> {
  const host = options.host ?? '127.0.0.1';
  const staticAssets = options.assetsDir ? createStaticAssets(options.assetsDir) : undefined;
  await warmUp(options.sources, staticAssets);
  const app = createUiApp({ sources: options.sources, tokens: options.tokens, assetsDir: options.assetsDir, ...(staticAssets ? { staticAssets } : {}) });
  let server: Server;
  try {
    server = await new Promise<Server>((resolve, reject) => {
      const s = serve({ fetch: app.fetch, hostname: host, port: options.port ?? DEFAULT_UI_PORT }, () => resolve(s as Server)) as Server;
      s.once('error', reject);
    });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EADDRINUSE') throw new PortInUseError(host, options.port ?? DEFAULT_UI_PORT, { cause: error });
    throw error;
  }
  const port = (server.address() as AddressInfo).port;
  const shown = host.includes(':') ? `[${host}]` : host;
  return {
    url: `http://${shown}:${port}`,
    port,
    close: () => new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    }),
  };
}

/**
 * Before listening, does once what the first visit to the Loop page needs: loads elkjs and lays out
 * the applied graph (kept for later loads, loop-layout.ts), loads the warehouse engine's library and
 * the page's code, asks Temporal once, and reads and compresses the frontend's first files. The
 * answers are thrown away: each request computes its own, from the state of that moment. A failure
 * (nothing applied yet, Temporal away) is the pages' to show, not the start's.
 */
async function warmUp(sources: UiSources, assets: StaticAssets | undefined): Promise<void> {
  const work = Promise.allSettled([cachedLayout({ nodes: [], edges: [] }), loopPage(sources), projectOverview(sources), assets?.warm()]);
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([work, new Promise<void>((resolve) => (timer = setTimeout(resolve, WARM_UP_LIMIT_MS)))]);
  clearTimeout(timer);
}
