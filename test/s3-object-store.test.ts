import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { networkInterfaces, tmpdir } from 'node:os';
import { join } from 'node:path';
import { S3ServiceException } from '@aws-sdk/client-s3';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createObjectStore } from '../connectors/object-store/create-object-store.ts';
import { ObjectKeyError } from '../connectors/object-store/object-key.ts';
import {
  S3AccessDeniedError,
  S3BucketNotFoundError,
  S3RequestError,
  S3UnavailableError,
  toS3Error,
} from '../connectors/object-store/s3/s3-errors.ts';
import { S3ObjectStore } from '../connectors/object-store/s3/s3-object-store.ts';
import { ConfigError, NotFoundError } from '../core/errors.ts';
import { builtModuleVersion, cachedToolPath } from '../cli/dev/go-tool.ts';
import { locateVersitygw, VERSITYGW } from '../cli/dev/versitygw.ts';
import { describeObjectStoreContract } from './contracts/object-store.contract.ts';
import { AWS_ENV_NAMES, createTestBucket, deleteTestBucket, s3Endpoint, s3TestConfig, s3TestCredentials } from './setup/s3.ts';

/**
 * The S3 object store against a real S3-compatible server: the versitygw started once for the run
 * by test/setup/global-setup.ts, with credentials reaching the SDK through its default chain.
 */

const MiB = 1024 * 1024;

/** One bucket for this file; the "bucket root" contract run gets a fresh bucket per case instead. */
let bucket: string;
let scratch: string;
beforeAll(async () => {
  bucket = await createTestBucket();
  scratch = await mkdtemp(join(tmpdir(), 'flywheel-s3-test-'));
});
afterAll(async () => {
  if (bucket) await deleteTestBucket(bucket);
  if (scratch) await rm(scratch, { recursive: true, force: true });
});

describeObjectStoreContract('S3 (bucket root)', async () => {
  const own = await createTestBucket();
  const store = new S3ObjectStore(s3TestConfig(own));
  return {
    store,
    cleanup: async () => {
      store.destroy();
      await deleteTestBucket(own);
    },
  };
});

describeObjectStoreContract('S3 (under a prefix)', async () => {
  const store = new S3ObjectStore(s3TestConfig(bucket, { prefix: `contract/${randomUUID().slice(0, 8)}` }));
  return {
    store,
    cleanup: async () => {
      await store.deletePrefix('');
      store.destroy();
    },
  };
});

/** Records the name of every command the store's client sends (the requests really made). */
function recordCommands(store: S3ObjectStore): string[] {
  const sent: string[] = [];
  store.client.middlewareStack.add(
    (next, context) => async (args) => {
      sent.push(context.commandName ?? '?');
      return next(args);
    },
    { step: 'initialize', name: 'flywheelRecordCommands' },
  );
  return sent;
}

const count = (names: string[], name: string) => names.filter((n) => n === name).length;

describe('S3ObjectStore', () => {
  let prefix: string;
  let store: S3ObjectStore;
  beforeEach(() => {
    prefix = `cases/${randomUUID().slice(0, 8)}/`;
    store = new S3ObjectStore(s3TestConfig(bucket, { prefix }));
  });
  afterEach(async () => {
    await store.deletePrefix('');
    store.destroy();
  });

  it('uploads a file larger than the part size in parts, streamed, and downloads the same bytes', async () => {
    const source = join(scratch, 'large.bin');
    const content = randomBytes(20 * MiB);
    await writeFile(source, content);
    const sent = recordCommands(store);

    const started = performance.now();
    await store.putFile('large/part-00000.parquet', source);
    const seconds = (performance.now() - started) / 1000;
    console.log(`multipart upload of 20 MiB (8 MiB parts, 4 at a time) to versitygw: ${(20 * MiB / 1e6 / seconds).toFixed(1)} MB/s (${(seconds * 1000).toFixed(0)} ms)`);

    // 8 MiB parts: 8 + 8 + 4.
    expect(count(sent, 'CreateMultipartUploadCommand')).toBe(1);
    expect(count(sent, 'UploadPartCommand')).toBe(3);
    expect(count(sent, 'CompleteMultipartUploadCommand')).toBe(1);
    expect(count(sent, 'PutObjectCommand')).toBe(0);
    expect(await store.list('large/')).toEqual([{ key: 'large/part-00000.parquet', size: 20 * MiB }]);

    const target = join(scratch, 'downloaded', 'large.bin');
    await store.getFile('large/part-00000.parquet', target);
    const sha256 = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex');
    expect(sha256(await readFile(target))).toBe(sha256(content));
    // The multipart object copies server-side too.
    await store.copy('large/part-00000.parquet', 'published/part-00000.parquet');
    expect(sha256((await store.get('published/part-00000.parquet')) ?? new Uint8Array())).toBe(sha256(content));
  });

  it('uploads small and empty files with one PutObject', async () => {
    const small = join(scratch, 'small.json');
    const empty = join(scratch, 'empty.json');
    await writeFile(small, '{"rows":3}');
    await writeFile(empty, '');
    const sent = recordCommands(store);
    await store.putFile('small.json', small);
    await store.putFile('empty.json', empty);
    expect(count(sent, 'PutObjectCommand')).toBe(2);
    expect(count(sent, 'CreateMultipartUploadCommand')).toBe(0);
    expect(await store.list('')).toEqual([{ key: 'empty.json', size: 0 }, { key: 'small.json', size: 10 }]);
    await expect(store.putFile('x', join(scratch, 'missing.bin'))).rejects.toBeInstanceOf(NotFoundError);
  });

  it('lists and deletes more than 1,000 objects across pages', async () => {
    const keys = Array.from({ length: 1005 }, (_, i) => `many/${String(i).padStart(4, '0')}.json`);
    for (let start = 0; start < keys.length; start += 50) {
      await Promise.all(keys.slice(start, start + 50).map((key) => store.putBytes(key, key)));
    }
    await store.putBytes('other.txt', 'x');

    // S3 pages hold at most 1,000 keys: two pages.
    const sent = recordCommands(store);
    const listed = await store.list('many/');
    expect(listed.map((o) => o.key)).toEqual(keys);
    expect(listed[1004]).toEqual({ key: 'many/1004.json', size: 'many/1004.json'.length });
    expect(count(sent, 'ListObjectsV2Command')).toBe(2);

    // Smaller pages: the same objects over 11 pages; deletes still go 1,000 keys per request.
    const paged = new S3ObjectStore(s3TestConfig(bucket, { prefix }), { maxKeysPerPage: 100 });
    const pagedSent = recordCommands(paged);
    try {
      expect((await paged.list('many/')).map((o) => o.key)).toEqual(keys);
      expect(count(pagedSent, 'ListObjectsV2Command')).toBe(11);
      pagedSent.length = 0;
      expect(await paged.deletePrefix('many/')).toBe(1005);
      expect(count(pagedSent, 'DeleteObjectsCommand')).toBe(2);
    } finally {
      paged.destroy();
    }
    expect((await store.list('')).map((o) => o.key)).toEqual(['other.txt']);
  });

  it('keeps stores with different prefixes on one bucket apart', async () => {
    const base = `isolation/${randomUUID().slice(0, 8)}`;
    const a = new S3ObjectStore(s3TestConfig(bucket, { prefix: `${base}/a` }));
    // 'a' is a string prefix of 'ab': the store's prefix ends in '/' so they never overlap.
    const ab = new S3ObjectStore(s3TestConfig(bucket, { prefix: `/${base}/ab/` }));
    const root = new S3ObjectStore(s3TestConfig(bucket));
    try {
      expect(a.prefix).toBe(`${base}/a/`);
      expect(ab.prefix).toBe(`${base}/ab/`);
      for (const s of [a, ab]) {
        await s.putBytes('runs/1/part-0', s.prefix);
        await s.putBytes('shared.txt', s.prefix);
      }
      expect((await a.list('')).map((o) => o.key)).toEqual(['runs/1/part-0', 'shared.txt']);
      expect(new TextDecoder().decode(await a.get('shared.txt'))).toBe(`${base}/a/`);
      expect(new TextDecoder().decode(await ab.get('shared.txt'))).toBe(`${base}/ab/`);
      expect((await root.list(`${base}/`)).map((o) => o.key)).toEqual([
        `${base}/a/runs/1/part-0`, `${base}/a/shared.txt`, `${base}/ab/runs/1/part-0`, `${base}/ab/shared.txt`,
      ]);
      expect(a.uri('runs/1/part-0')).toBe(`s3://${bucket}/${base}/a/runs/1/part-0`);
      expect(root.uri('x.txt')).toBe(`s3://${bucket}/x.txt`);

      await a.copy('shared.txt', 'copy.txt');
      expect(await ab.get('copy.txt')).toBeUndefined();
      expect(await a.deletePrefix('')).toBe(3);
      expect((await ab.list('')).map((o) => o.key)).toEqual(['runs/1/part-0', 'shared.txt']);
      expect(await ab.deletePrefix('')).toBe(2);
      expect(await root.list(`${base}/`)).toEqual([]);
    } finally {
      for (const s of [a, ab, root]) s.destroy();
    }
  });

  it('says clearly, and not retryably, that a bucket does not exist', async () => {
    const missing = new S3ObjectStore(s3TestConfig(`fw-missing-${randomUUID().slice(0, 8)}`));
    try {
      const failure = await missing.putBytes('a.txt', 'x').catch((error: unknown) => error);
      expect(failure).toBeInstanceOf(S3BucketNotFoundError);
      const error = failure as S3BucketNotFoundError;
      expect(error.retryable).toBe(false);
      expect(error.bucket).toBe(missing.bucket);
      expect(error.key).toBe('a.txt');
      expect(error.code).toBe('NoSuchBucket');
      expect(error.message).toContain(`S3 bucket "${missing.bucket}" does not exist at ${s3Endpoint()}`);
      expect(error.message).toMatch(/objectStore\.bucket/);
      // Reads of a missing bucket fail too; they do not pass for a missing object.
      await expect(missing.get('a.txt')).rejects.toBeInstanceOf(S3BucketNotFoundError);
      await expect(missing.list('')).rejects.toBeInstanceOf(S3BucketNotFoundError);
      await expect(missing.getFile('a.txt', join(scratch, 'never'))).rejects.toBeInstanceOf(S3BucketNotFoundError);
      await expect(missing.copy('a.txt', 'b.txt')).rejects.toBeInstanceOf(S3BucketNotFoundError);
      await expect(missing.copy('a.txt', 'a.txt')).rejects.toBeInstanceOf(S3BucketNotFoundError);
      const file = join(scratch, 'upload.txt');
      await writeFile(file, 'x');
      await expect(missing.putFile('a.txt', file)).rejects.toBeInstanceOf(S3BucketNotFoundError);
      expect(existsSync(join(scratch, 'never'))).toBe(false);
    } finally {
      missing.destroy();
    }
  });

  it('turns an unreachable endpoint into a retryable error', async () => {
    // A port nothing listens on: bind one, then close it.
    const { createServer } = await import('node:net');
    const server = createServer();
    const port = await new Promise<number>((resolve) => server.listen(0, '127.0.0.1', () => resolve((server.address() as { port: number }).port)));
    await new Promise((resolve) => server.close(resolve));
    const endpoint = `http://127.0.0.1:${port}`;
    const down = new S3ObjectStore(s3TestConfig(bucket, { endpoint }));
    try {
      const failure = await down.get('a.txt').catch((error: unknown) => error);
      expect(failure).toBeInstanceOf(S3UnavailableError);
      const error = failure as S3UnavailableError;
      expect(error.retryable).toBe(true);
      expect(error.code).toBe('ECONNREFUSED');
      expect(error.message).toContain(`Cannot reach S3 at ${endpoint} for GetObject on s3://${bucket}/a.txt`);
    } finally {
      down.destroy();
    }
  });

  describe('credentials from the AWS chain', () => {
    let saved: Record<string, string | undefined>;
    beforeEach(() => {
      saved = Object.fromEntries(AWS_ENV_NAMES.map((name) => [name, process.env[name]]));
    });
    afterEach(() => {
      for (const [name, value] of Object.entries(saved)) {
        if (value === undefined) delete process.env[name];
        else process.env[name] = value;
      }
    });

    it('reads the profile named in the config from the shared credentials file', async () => {
      const { accessKeyId, secretAccessKey } = s3TestCredentials();
      const credentials = join(scratch, 'aws-credentials');
      await writeFile(
        credentials,
        [
          '[flywheel-test]', `aws_access_key_id = ${accessKeyId}`, `aws_secret_access_key = ${secretAccessKey}`, '',
          '[wrong]', 'aws_access_key_id = FLYWNOSUCHKEY0000000', 'aws_secret_access_key = not-the-secret', '',
        ].join('\n'),
      );
      const config = s3TestConfig(bucket, { prefix });
      const viaProfile = createObjectStore({ ...config, profile: 'flywheel-test' }) as S3ObjectStore;
      const wrongProfile = new S3ObjectStore({ ...config, profile: 'wrong' });
      const noCredentials = new S3ObjectStore(config);
      // Credentials are resolved at the first request: only the profile can provide them now.
      process.env.AWS_SHARED_CREDENTIALS_FILE = credentials;
      delete process.env.AWS_ACCESS_KEY_ID;
      delete process.env.AWS_SECRET_ACCESS_KEY;
      try {
        await viaProfile.putBytes('from-profile.txt', 'ok');
        expect(new TextDecoder().decode(await viaProfile.get('from-profile.txt'))).toBe('ok');

        const refused = await wrongProfile.get('from-profile.txt').catch((error: unknown) => error);
        expect(refused).toBeInstanceOf(S3AccessDeniedError);
        expect((refused as S3AccessDeniedError).retryable).toBe(false);
        expect((refused as S3AccessDeniedError).message).toMatch(/refused GetObject on s3:\/\/.*from-profile\.txt.*objectStore\.profile/);

        // Neither environment nor a profile: the chain finds nothing, and says where it looked.
        process.env.AWS_SHARED_CREDENTIALS_FILE = join(scratch, 'no-such-credentials');
        const none = await noCredentials.get('from-profile.txt').catch((error: unknown) => error);
        expect(none).toBeInstanceOf(S3AccessDeniedError);
        expect((none as S3AccessDeniedError).message).toMatch(/^No AWS credentials for GetObject/);
      } finally {
        for (const s of [viaProfile, wrongProfile, noCredentials]) s.destroy();
      }
    });

    it('refuses wrong credentials from the environment without retrying', async () => {
      const wrong = new S3ObjectStore(s3TestConfig(bucket, { prefix }));
      process.env.AWS_SECRET_ACCESS_KEY = 'not-the-secret';
      try {
        const refused = await wrong.putBytes('x.txt', 'x').catch((error: unknown) => error);
        expect(refused).toBeInstanceOf(S3AccessDeniedError);
        expect((refused as S3AccessDeniedError).code).toBe('SignatureDoesNotMatch');
        expect((refused as S3AccessDeniedError).retryable).toBe(false);
      } finally {
        wrong.destroy();
      }
    });
  });
});

describe('S3 errors', () => {
  const context = { operation: 'PutObject', bucket: 'b', key: 'p/k', endpoint: undefined };
  const serviceError = (name: string, status: number, extra: Partial<{ $retryable: { throttling: boolean }; $fault: 'client' | 'server' }> = {}) =>
    new S3ServiceException({ name, message: `${name} happened`, $fault: extra.$fault ?? (status >= 500 ? 'server' : 'client'), $metadata: { httpStatusCode: status }, ...extra });

  it('makes throttling, 5xx and network errors retryable, the rest not', () => {
    const cases: [unknown, new (...args: never[]) => Error, boolean][] = [
      [serviceError('SlowDown', 503), S3UnavailableError, true],
      [serviceError('InternalError', 500), S3UnavailableError, true],
      [serviceError('ServiceUnavailable', 503), S3UnavailableError, true],
      [serviceError('TooManyRequestsException', 429, { $retryable: { throttling: true } }), S3UnavailableError, true],
      [Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' }), S3UnavailableError, true],
      [Object.assign(new Error('timed out'), { name: 'TimeoutError' }), S3UnavailableError, true],
      [serviceError('NoSuchBucket', 404), S3BucketNotFoundError, false],
      [serviceError('AccessDenied', 403), S3AccessDeniedError, false],
      [serviceError('InvalidAccessKeyId', 403), S3AccessDeniedError, false],
      [serviceError('InvalidArgument', 400), S3RequestError, false],
    ];
    for (const [error, type, retryable] of cases) {
      const wrapped = toS3Error(error, context) as S3RequestError | S3UnavailableError;
      expect(wrapped, String(error)).toBeInstanceOf(type);
      expect(wrapped.retryable).toBe(retryable);
      expect(wrapped.bucket).toBe('b');
      expect(wrapped.key).toBe('p/k');
      expect(wrapped.cause).toBe(error);
      expect(wrapped.message).toContain('s3://b/p/k');
    }
  });

  it('names the 5 GiB limit when CopyObject refuses a large source', () => {
    const error = toS3Error(
      serviceError('InvalidRequest', 400, {}),
      { ...context, operation: 'CopyObject' },
    );
    expect(error).toBeInstanceOf(S3RequestError);
    const tooLarge = new S3ServiceException({
      name: 'InvalidRequest', $fault: 'client', $metadata: { httpStatusCode: 400 },
      message: 'The specified copy source is larger than the maximum allowable size for a copy source: 5368709120',
    });
    expect((toS3Error(tooLarge, { ...context, operation: 'CopyObject' }) as Error).message).toMatch(/at most 5 GiB/);
  });

  it('leaves errors that did not come from S3 alone', () => {
    const local = Object.assign(new Error('EACCES: permission denied'), { code: 'EACCES' });
    expect(toS3Error(local, context)).toBe(local);
    const notFound = new NotFoundError('Object', 'x');
    expect(toS3Error(notFound, context)).toBe(notFound);
  });
});

describe('createObjectStore (S3)', () => {
  it('creates an S3 store from a profile section', () => {
    const store = createObjectStore({ type: 's3', bucket: 'acme-ml', prefix: 'flywheel/card_fraud', region: 'eu-west-1' });
    expect(store).toBeInstanceOf(S3ObjectStore);
    expect(store.uri('training/v1/part-00000.parquet')).toBe('s3://acme-ml/flywheel/card_fraud/training/v1/part-00000.parquet');
    expect(() => store.uri('../x')).toThrow(ObjectKeyError);
    (store as S3ObjectStore).destroy();
  });

  it('rejects a prefix that is not a safe path', () => {
    expect(() => createObjectStore({ type: 's3', bucket: 'b', prefix: 'a/../b' })).toThrow(ConfigError);
    expect(() => createObjectStore({ type: 's3', bucket: 'b', prefix: 'a//b' })).toThrow(/objectStore\.prefix/);
  });
});

describe('the shared versitygw', () => {
  const port = Number(new URL(s3Endpoint()).port);

  it('is the pinned build when it is the cached one (v1.7.0 let two racing `If-None-Match: *` creates win)', async (context) => {
    const executable = await locateVersitygw({ build: false });
    if (executable !== cachedToolPath(VERSITYGW)) context.skip(`versitygw comes from ${executable}, not the repository's cache`);
    const built = await builtModuleVersion(executable);
    if (built === undefined) context.skip('`go` is not on PATH to read the version the binary was built from');
    expect(built).toBe(VERSITYGW.version);
  });

  it('listens on 127.0.0.1 only', async () => {
    // Every listening TCP socket on its port is bound to 127.0.0.1 (never 0.0.0.0 or ::).
    const listening: string[] = [];
    for (const table of ['/proc/net/tcp', '/proc/net/tcp6']) {
      if (!existsSync(table)) continue;
      for (const line of (await readFile(table, 'utf8')).split('\n').slice(1)) {
        const [, local, , state] = line.trim().split(/\s+/);
        if (state !== '0A' || !local) continue; // 0A: LISTEN
        const [address, portHex] = local.split(':');
        if (parseInt(portHex ?? '', 16) === port) listening.push(address ?? '');
      }
    }
    if (existsSync('/proc/net/tcp')) expect(listening).toEqual(['0100007F']); // 127.0.0.1, little-endian

    // And it cannot be reached through any other address of this machine.
    const others = Object.values(networkInterfaces()).flat().flatMap((i) => (i && !i.internal ? [i.address] : []));
    for (const address of others) expect(await canConnect(address, port), address).toBe(false);
    expect(await canConnect('127.0.0.1', port)).toBe(true);
  });
});

function canConnect(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host, port, timeout: 2_000 });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('timeout', () => {
      socket.destroy();
      resolve(false);
    });
    socket.once('error', () => resolve(false));
  });
}
