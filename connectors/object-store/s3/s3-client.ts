import { S3Client } from '@aws-sdk/client-s3';
import type { ObjectStoreConfig } from '../../../core/config.ts';

/** The `objectStore` section of a profile that picks S3. */
export type S3ObjectStoreConfig = Extract<ObjectStoreConfig, { type: 's3' }>;

/** The region S3-compatible servers (MinIO, versitygw) answer to when none is configured. */
const COMPATIBLE_DEFAULT_REGION = 'us-east-1';

/**
 * An S3 client for a profile's object store. Credentials always come from the SDK's default chain
 * (AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, the shared config and credentials files, with
 * `profile` choosing the profile there, SSO, web identity, container and instance roles), never
 * from Flywheel's config. The region is the configured one, else the chain's (AWS_REGION, the
 * profile's `region`); with a custom `endpoint` and neither, `us-east-1`.
 */
export function createS3Client(config: S3ObjectStoreConfig): S3Client {
  const regionFromEnvironment = process.env.AWS_REGION ?? process.env.AWS_DEFAULT_REGION;
  return new S3Client({
    ...(config.region !== undefined
      ? { region: config.region }
      : config.endpoint !== undefined && regionFromEnvironment === undefined
        ? { region: COMPATIBLE_DEFAULT_REGION }
        : {}),
    ...(config.endpoint !== undefined ? { endpoint: config.endpoint } : {}),
    ...(config.forcePathStyle !== undefined ? { forcePathStyle: config.forcePathStyle } : {}),
    ...(config.profile !== undefined ? { profile: config.profile } : {}),
    // Fail over a dead endpoint in seconds, not the operating system's minutes; a slow transfer is not limited.
    requestHandler: { connectionTimeout: 10_000 },
  });
}
