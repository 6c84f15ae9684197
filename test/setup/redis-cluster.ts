import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createClient } from 'redis';
import { freePort } from '../../cli/dev/child-process.ts';

/**
 * A real Redis Cluster for tests and benchmarks: `nodes` (default 3) `redis-server --cluster-enabled
 * yes` processes on 127.0.0.1, each on a free port with its cluster bus on another free port
 * (`--cluster-port`, so no port + 10000 has to be free), no persistence, in a temporary folder;
 * joined by `redis-cli --cluster create … --cluster-replicas 0 --cluster-yes` (the 16,384 slots
 * split evenly, one master per range), and ready when every node says `cluster_state:ok`. Not
 * started by global-setup.ts: a test file that needs one starts it (a second or two) and stops it.
 * Free of vitest, so bench/ can use it too. Binaries: `redis-server` and `redis-cli` on PATH (Debian's
 * redis-server package brings redis-tools, which has redis-cli), or $FLYWHEEL_REDIS_SERVER and $FLYWHEEL_REDIS_CLI.
 *
 * @example
 * const cluster = await startRedisCluster();
 * const store = new RedisClusterOnlineStore({ urls: [cluster.urls[0]!], keyPrefix: 'fw:test:' });
 * // ...
 * await cluster.stop();
 */

const HOST = '127.0.0.1';

export interface ClusterNode {
  /** `redis://127.0.0.1:<port>`. */
  readonly url: string;
  readonly port: number;
  /** The node's id in the cluster (40 hex digits). */
  readonly id: string;
}

export interface RunningRedisCluster {
  /** Every node's URL, in port order of creation. */
  readonly urls: readonly string[];
  readonly nodes: readonly ClusterNode[];
  /** The node serving `slot` now (asks the cluster, so it is right after a migration). */
  nodeOfSlot(slot: number): Promise<ClusterNode>;
  /**
   * Moves `slot` and its keys to the node `to`, as `redis-cli --cluster reshard` does for each slot:
   * IMPORTING on the target, MIGRATING on the source, MIGRATE of the keys (only those `keys` chooses,
   * default all), then, when `finish` (default true), the slot assigned to the target on every node.
   * With `finish: false` the slot stays half-moved (ASK and TRYAGAIN), to be finished by calling again.
   */
  migrateSlot(slot: number, to: ClusterNode, options?: { finish?: boolean; keys?: (keys: string[]) => string[] }): Promise<void>;
  /** Kills one node's process at once (SIGKILL): its shard stops answering; the others go on. */
  killNode(node: ClusterNode): Promise<void>;
  /** Runs `work` with a plain (non-cluster) client on one node. */
  onNode<T>(node: ClusterNode, work: (client: ReturnType<typeof createClient>) => Promise<T>): Promise<T>;
  /** Deletes every key starting with `prefix` on every node (SCAN + single-key UNLINK). */
  deleteKeys(prefix: string): Promise<number>;
  /** Stops every node and removes the folder. */
  stop(): Promise<void>;
}

export interface StartRedisClusterOptions {
  /** Masters (no replicas). Default 3. */
  nodes?: number;
  /** Sets `requirepass` (and `masterauth`) on every node. */
  password?: string;
  /** How long the whole start may take. Default 30 s. */
  startTimeoutMs?: number;
}

/** `redis-server` and `redis-cli` as this machine has them; a clear error when one is missing. */
export function locateRedisClusterBinaries(env: NodeJS.ProcessEnv = process.env): { server: string; cli: string } {
  const server = env.FLYWHEEL_REDIS_SERVER || 'redis-server';
  const cli = env.FLYWHEEL_REDIS_CLI || 'redis-cli';
  for (const [binary, pattern, pkg] of [[server, /Redis server v=/, 'redis-server'], [cli, /redis-cli \d/, 'redis-tools (a dependency of redis-server)']] as const) {
    const probe = spawnSync(binary, ['--version'], { encoding: 'utf8', timeout: 10_000 });
    if (probe.error || probe.status !== 0 || !pattern.test(probe.stdout)) {
      throw new Error(`No ${binary} found: the Redis Cluster tests run a real cluster; install it with \`apt-get install ${pkg}\`, or set FLYWHEEL_REDIS_SERVER / FLYWHEEL_REDIS_CLI.`);
    }
  }
  return { server, cli };
}

export async function startRedisCluster(options: StartRedisClusterOptions = {}): Promise<RunningRedisCluster> {
  const count = options.nodes ?? 3;
  const deadline = Date.now() + (options.startTimeoutMs ?? 30_000);
  const { server, cli } = locateRedisClusterBinaries();
  const dir = mkdtempSync(join(tmpdir(), 'flywheel-redis-cluster-'));
  const children: ChildProcess[] = [];
  const killAll = () => {
    for (const child of children) child.kill('SIGKILL');
  };
  process.once('exit', killAll);
  const auth = options.password ? ['--requirepass', options.password, '--masterauth', options.password] : [];
  const clientOf = (port: number) => {
    const client = createClient({ url: `redis://${HOST}:${port}`, ...(options.password ? { password: options.password } : {}) });
    client.on('error', () => {});
    return client;
  };
  const onPort = async <T>(port: number, work: (client: ReturnType<typeof createClient>) => Promise<T>): Promise<T> => {
    const client = clientOf(port);
    await client.connect();
    try {
      return await work(client);
    } finally {
      client.destroy();
    }
  };

  try {
    const ports: number[] = [];
    for (let i = 0; i < count; i++) {
      for (let attempt = 1; ; attempt++) {
        const port = await freePort(HOST);
        const busPort = await freePort(HOST);
        const nodeDir = join(dir, String(port));
        mkdirSync(nodeDir, { recursive: true });
        const args = [
          '--port', String(port), '--cluster-port', String(busPort), '--bind', HOST,
          '--cluster-enabled', 'yes', '--cluster-config-file', join(nodeDir, 'nodes.conf'), '--cluster-node-timeout', '5000',
          '--save', '', '--appendonly', 'no', '--dir', nodeDir, '--daemonize', 'no', '--loglevel', 'notice', '--logfile', '', ...auth,
        ];
        try {
          children.push(await launch(server, args, deadline - Date.now()));
          ports.push(port);
          break;
        } catch (error) {
          // A free port can be taken before redis-server binds it: pick others.
          if (attempt >= 3 || !/Address already in use/i.test(String(error))) throw error;
        }
      }
    }

    const create = spawnSync(cli, ['--cluster', 'create', ...ports.map((p) => `${HOST}:${p}`), '--cluster-replicas', '0', '--cluster-yes', ...(options.password ? ['-a', options.password, '--no-auth-warning'] : [])], {
      encoding: 'utf8',
      timeout: Math.max(1000, deadline - Date.now()),
    });
    if (create.error || create.status !== 0) throw new Error(`redis-cli --cluster create failed (${create.error?.message ?? `exit ${create.status}`}):\n${create.stdout}\n${create.stderr}`);

    // Every node must know every slot's owner before a client's slot map is right everywhere.
    for (const port of ports) {
      for (;;) {
        const info = await onPort(port, (client) => client.sendCommand<string>(['CLUSTER', 'INFO']));
        if (/cluster_state:ok/.test(info) && /cluster_slots_ok:16384/.test(info) && new RegExp(`cluster_known_nodes:${count}\\b`).test(info)) break;
        if (Date.now() > deadline) throw new Error(`the Redis Cluster on ports ${ports.join(', ')} was not ready in time:\n${info}`);
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    }
    const nodes: ClusterNode[] = [];
    for (const port of ports) nodes.push({ url: `redis://${HOST}:${port}`, port, id: (await onPort(port, (client) => client.sendCommand<string>(['CLUSTER', 'MYID']))).trim() });
    const byId = new Map(nodes.map((n) => [n.id, n]));

    const running: RunningRedisCluster = {
      urls: nodes.map((n) => n.url),
      nodes,
      async nodeOfSlot(slot) {
        const slots = await onPort(nodes[0]!.port, (client) => client.sendCommand<[number, number, [string, number, string]][]>(['CLUSTER', 'SLOTS']));
        const range = slots.find(([from, to]) => slot >= from && slot <= to);
        const node = range && byId.get(range[2][2]);
        if (!node) throw new Error(`no node serves slot ${slot}`);
        return node;
      },
      async migrateSlot(slot, to, migrate = {}) {
        const from = await running.nodeOfSlot(slot);
        if (from.id !== to.id) {
          await onPort(to.port, (client) => client.sendCommand(['CLUSTER', 'SETSLOT', String(slot), 'IMPORTING', from.id]));
          await onPort(from.port, (client) => client.sendCommand(['CLUSTER', 'SETSLOT', String(slot), 'MIGRATING', to.id]));
          const keys = await onPort(from.port, (client) => client.sendCommand<string[]>(['CLUSTER', 'GETKEYSINSLOT', String(slot), '100000']));
          const moving = migrate.keys ? migrate.keys(keys) : keys;
          if (moving.length > 0) {
            await onPort(from.port, (client) => client.sendCommand(['MIGRATE', HOST, String(to.port), '', '0', '5000', ...(options.password ? ['AUTH', options.password] : []), 'KEYS', ...moving]));
          }
        }
        if (migrate.finish === false) return;
        // The target first, then the others (as redis-cli does), so the slot always has one owner.
        for (const node of [to, ...nodes.filter((n) => n.id !== to.id)]) {
          await onPort(node.port, (client) => client.sendCommand(['CLUSTER', 'SETSLOT', String(slot), 'NODE', to.id]));
        }
      },
      async killNode(node) {
        const child = children[ports.indexOf(node.port)]!;
        if (child.exitCode !== null || child.signalCode !== null) return;
        const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
        child.kill('SIGKILL');
        await exited;
      },
      onNode: (node, work) => onPort(node.port, work),
      async deleteKeys(prefix) {
        let deleted = 0;
        const match = `${prefix.replace(/[*?[\]\\]/g, (c) => `\\${c}`)}*`;
        for (const node of nodes) {
          const child = children[ports.indexOf(node.port)]!;
          if (child.exitCode !== null || child.signalCode !== null) continue;
          deleted += await onPort(node.port, async (client) => {
            let n = 0;
            for await (const keys of client.scanIterator({ MATCH: match, COUNT: 1000 })) {
              for (const key of keys) n += await client.unlink(key);
            }
            return n;
          });
        }
        return deleted;
      },
      async stop() {
        process.removeListener('exit', killAll);
        await Promise.all(children.map((child) => stopChild(child)));
        rmSync(dir, { recursive: true, force: true });
      },
    };
    return running;
  } catch (error) {
    process.removeListener('exit', killAll);
    killAll();
    rmSync(dir, { recursive: true, force: true });
    throw error;
  }
}

/** What one node counted: read events on client connections, and calls per command. */
export interface NodeCounts {
  /** `total_reads_processed`: one per burst of bytes read from a client, so a pipeline that arrives together is one. */
  readonly reads: number;
  /** `cmdstat_<name>:calls`, by command name (`mget`, `evalsha`, `script|load`). */
  readonly calls: Readonly<Record<string, number>>;
}

/**
 * Counters of every node, read over one connection per node kept open (a new connection would add
 * read events of its own). Between two snapshots, a node's `reads` grew by the round trips sent to
 * it plus one (the INFO of the second snapshot); its `calls` by the commands it ran (plus that INFO).
 */
export async function openNodeCounters(cluster: RunningRedisCluster, password?: string): Promise<{ snapshot(): Promise<NodeCounts[]>; close(): Promise<void> }> {
  const clients = await Promise.all(
    cluster.nodes.map(async (node) => {
      const client = createClient({ url: node.url, ...(password ? { password } : {}) });
      client.on('error', () => {});
      await client.connect();
      return client;
    }),
  );
  return {
    snapshot: () =>
      Promise.all(
        clients.map(async (client) => {
          const info = await client.sendCommand<string>(['INFO', 'all']);
          const calls: Record<string, number> = {};
          for (const match of info.matchAll(/^cmdstat_([^:]+):calls=(\d+)/gm)) calls[match[1]!] = Number(match[2]);
          return { reads: Number(/^total_reads_processed:(\d+)/m.exec(info)?.[1]), calls };
        }),
      ),
    close: async () => {
      for (const client of clients) client.destroy();
    },
  };
}

async function launch(executable: string, args: string[], timeoutMs: number): Promise<ChildProcess> {
  const child = spawn(executable, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`redis-server did not start in time: ${executable} ${args.join(' ')}\n${output.slice(-4000)}`));
    }, Math.max(1000, timeoutMs));
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      if (/Ready to accept connections/.test(output)) {
        clearTimeout(timer);
        resolve();
      }
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onData);
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`redis-server exited during start-up (${signal ?? `code ${code}`}): ${executable} ${args.join(' ')}\n${output.slice(-4000)}`));
    });
    child.once('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
  });
  // Keep draining its output so a chatty server never blocks on a full pipe.
  child.stdout?.resume();
  child.stderr?.resume();
  return child;
}

async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
  await exited;
  clearTimeout(timer);
}
