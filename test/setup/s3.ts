import { randomUUID } from 'node:crypto';
import { basename, join } from 'node:path';
import { tmpdir } from 'node:os';
import { fileURLToPath } from 'node:url';
import { CreateBucketCommand, DeleteBucketCommand, S3Client } from '@aws-sdk/client-s3';
import { expect, inject } from 'vitest';
import { S3ObjectStore } from '../../connectors/object-store/s3/s3-object-store.ts';
import type { S3ObjectStoreConfig } from '../../connectors/object-store/s3/s3-client.ts';
import type {} from './global-setup.ts'; // the `ProvidedContext` keys

/**
 * Helpers for test files that use the shared versitygw started by global-setup.ts. Credentials
 * reach the AWS SDK the way they do in production, through its default chain: these helpers put
 * the server's root credentials into this test process's environment (AWS_ACCESS_KEY_ID,
 * AWS_SECRET_ACCESS_KEY) and point the shared config files at nothing, so a developer's ~/.aws
 * never leaks in. Every test file creates its own bucket.
 *
 * @example
 * const bucket = await createTestBucket();
 * const store = new S3ObjectStore(s3TestConfig(bucket, { prefix: 'runs/' }));
 * // ...
 * await deleteTestBucket(bucket);
 */

export function s3Endpoint(): string {
  return inject('s3Endpoint');
}

/** The shared server's root credentials (for tests that write them into a credentials file). */
export function s3TestCredentials(): { accessKeyId: string; secretAccessKey: string } {
  return { accessKeyId: inject('s3AccessKeyId'), secretAccessKey: inject('s3SecretAccessKey') };
}

/** Names of the variables useTestCredentials() sets, for tests that change and restore them. */
export const AWS_ENV_NAMES = [
  'AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY', 'AWS_SESSION_TOKEN', 'AWS_PROFILE', 'AWS_REGION', 'AWS_DEFAULT_REGION',
  'AWS_CONFIG_FILE', 'AWS_SHARED_CREDENTIALS_FILE', 'AWS_EC2_METADATA_DISABLED',
] as const;

/**
 * Makes the AWS SDK's default chain in this process find the shared server's root credentials and
 * nothing else (no profile, no session token, no shared files, no instance metadata). Idempotent.
 */
export function useTestCredentials(): void {
  const { accessKeyId, secretAccessKey } = s3TestCredentials();
  process.env.AWS_ACCESS_KEY_ID = accessKeyId;
  process.env.AWS_SECRET_ACCESS_KEY = secretAccessKey;
  delete process.env.AWS_SESSION_TOKEN;
  delete process.env.AWS_PROFILE;
  delete process.env.AWS_DEFAULT_REGION;
  process.env.AWS_REGION = inject('s3Region');
  const nowhere = join(tmpdir(), 'flywheel-tests-no-aws-config');
  process.env.AWS_CONFIG_FILE = join(nowhere, 'config');
  process.env.AWS_SHARED_CREDENTIALS_FILE = join(nowhere, 'credentials');
  process.env.AWS_EC2_METADATA_DISABLED = 'true';
  // The SDK warns once per process that its 2027 versions need Node 22; noise in test output.
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';
}

/** An object store config for `bucket` on the shared server (path-style, as S3-compatible servers on an IP need). */
export function s3TestConfig(bucket: string, overrides: Partial<Omit<S3ObjectStoreConfig, 'type'>> = {}): S3ObjectStoreConfig {
  useTestCredentials();
  return { type: 's3', bucket, endpoint: s3Endpoint(), region: inject('s3Region'), forcePathStyle: true, ...overrides };
}

/** A client with the root credentials, for what object stores do not do (buckets). The caller destroys it. */
export function testS3Client(): S3Client {
  useTestCredentials();
  return new S3Client({ endpoint: s3Endpoint(), region: inject('s3Region'), forcePathStyle: true });
}

/**
 * Creates an empty bucket unique to this test file and run (`fw-<file>-<random>`) and returns its
 * name. `file` (a path or `import.meta.url`) defaults to the test file being run.
 */
export async function createTestBucket(file?: string): Promise<string> {
  const path = file ?? expect.getState().testPath ?? 'test';
  const name = basename(path.startsWith('file:') ? fileURLToPath(path) : path).replace(/\.test\.ts$|\.ts$/, '');
  const slug = name.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-+|-+$/g, '').slice(0, 40);
  const bucket = `fw-${slug}-${randomUUID().slice(0, 8)}`;
  const client = testS3Client();
  try {
    await client.send(new CreateBucketCommand({ Bucket: bucket }));
  } finally {
    client.destroy();
  }
  return bucket;
}

/** Deletes every object of a test bucket, then the bucket. */
export async function deleteTestBucket(bucket: string): Promise<void> {
  const store = new S3ObjectStore(s3TestConfig(bucket));
  const client = testS3Client();
  try {
    await store.deletePrefix('');
    await client.send(new DeleteBucketCommand({ Bucket: bucket }));
  } finally {
    store.destroy();
    client.destroy();
  }
}
