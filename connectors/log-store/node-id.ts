import { createHash } from 'node:crypto';
import { hostname } from 'node:os';
import { resolve } from 'node:path';
import { NodeIdError } from './errors.ts';

/** The environment variable a node id comes from when `--node-id` is not given. */
export const NODE_ID_ENV = 'FLYWHEEL_NODE_ID';

const NODE_ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

/** Checks a node id: it names a folder of object keys and is part of workflow ids and ledger batches. */
export function assertNodeId(nodeId: string, source: string): string {
  if (!NODE_ID.test(nodeId)) throw new NodeIdError(nodeId, source);
  return nodeId;
}

/**
 * The node id of a log API node: `--node-id`, else FLYWHEEL_NODE_ID, else the host name followed by
 * 8 hex digits of the SHA-256 of the state folder's absolute path (`api-1-3f9a1c0e`), so two nodes on
 * one host with their own state folders get their own ids, and a node restarted on its state folder
 * gets its old one back (and uploads what it left sealed under it).
 */
export function resolveNodeId(options: { flag?: string | undefined; env?: NodeJS.ProcessEnv; stateDir: string }): string {
  if (options.flag !== undefined) return assertNodeId(options.flag, '--node-id');
  const fromEnv = (options.env ?? process.env)[NODE_ID_ENV];
  if (fromEnv !== undefined && fromEnv !== '') return assertNodeId(fromEnv, NODE_ID_ENV);
  return defaultNodeId(options.stateDir);
}

export function defaultNodeId(stateDir: string, host: string = hostname()): string {
  const hash = createHash('sha256').update(resolve(stateDir)).digest('hex').slice(0, 8);
  const name = host.replace(/[^A-Za-z0-9._-]/g, '-').replace(/^[^A-Za-z0-9]+/, '').slice(0, 55);
  return assertNodeId(name === '' ? `node-${hash}` : `${name}-${hash}`, 'the host name and state folder');
}
