import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { serve } from '@hono/node-server';
import type { TokenTable } from '../auth/bearer-tokens.ts';
import { PortInUseError } from '../port-in-use-error.ts';
import { cachedLayout } from './loop-layout.ts';
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

export async function startUiServer(options: UiServerOptions): Promise<RunningUiServer> {
  const host = options.host ?? '127.0.0.1';
  const app = createUiApp({ sources: options.sources, tokens: options.tokens, assetsDir: options.assetsDir });
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
  // elkjs loads (~0.3 s) while the user opens the page, not when the Loop page asks for its first layout.
  void cachedLayout({ nodes: [], edges: [] }).catch(() => undefined);
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
