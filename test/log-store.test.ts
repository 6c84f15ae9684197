import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { LocalObjectStore } from '../connectors/object-store/local/local-object-store.ts';
import { S3ObjectStore } from '../connectors/object-store/s3/s3-object-store.ts';
import { defaultNodeId, NodeIdError, resolveNodeId } from '../connectors/log-store/index.ts';
import { describeLogStoreContract } from './contracts/log-store.contract.ts';
import { createTestBucket, deleteTestBucket, s3TestConfig } from './setup/s3.ts';

/** The sealed-segment store over the local-folder object store and over S3 (the shared versitygw). */

describeLogStoreContract('local folder', async () => {
  const root = await mkdtemp(join(tmpdir(), 'flywheel-log-store-'));
  return { objects: new LocalObjectStore(root), cleanup: () => rm(root, { recursive: true, force: true }) };
});

describeLogStoreContract('S3 (versitygw, under a prefix)', async () => {
  const bucket = await createTestBucket();
  const objects = new S3ObjectStore(s3TestConfig(bucket, { prefix: 'project-a' }));
  return {
    objects,
    cleanup: async () => {
      objects.destroy();
      await deleteTestBucket(bucket);
    },
  };
});

describe('node ids', () => {
  it('come from --node-id, else FLYWHEEL_NODE_ID, else the host name and a hash of the state folder', () => {
    expect(resolveNodeId({ flag: 'api-1', env: { FLYWHEEL_NODE_ID: 'env-node' }, stateDir: '/srv/a' })).toBe('api-1');
    expect(resolveNodeId({ env: { FLYWHEEL_NODE_ID: 'env-node' }, stateDir: '/srv/a' })).toBe('env-node');
    // sha256('/srv/a') begins b068a6ce: the hash is of the absolute path, so each state folder has its own id.
    expect(defaultNodeId('/srv/a', 'web.example.com')).toBe('web.example.com-b068a6ce');
    expect(defaultNodeId('/srv/a', 'web')).toBe(defaultNodeId('/srv/a/', 'web'));
    expect(defaultNodeId('/srv/a', 'web')).not.toBe(defaultNodeId('/srv/b', 'web'));
    expect(defaultNodeId('/srv/a', '_under score!')).toBe('under-score--b068a6ce');
    expect(resolveNodeId({ env: {}, stateDir: '/srv/a' })).toMatch(/-[0-9a-f]{8}$/);
  });

  it('refuse what cannot name a folder of object keys, saying where it came from', () => {
    expect(() => resolveNodeId({ flag: 'a/b', stateDir: '/s' })).toThrow(NodeIdError);
    expect(() => resolveNodeId({ flag: 'a/b', stateDir: '/s' })).toThrow(`Invalid node id "a/b" (from --node-id): use 1 to 64 letters, digits, '.', '_' or '-', starting with a letter or digit`);
    expect(() => resolveNodeId({ env: { FLYWHEEL_NODE_ID: '.hidden' }, stateDir: '/s' })).toThrow('(from FLYWHEEL_NODE_ID)');
    expect(() => resolveNodeId({ flag: 'x'.repeat(65), stateDir: '/s' })).toThrow(NodeIdError);
  });
});
