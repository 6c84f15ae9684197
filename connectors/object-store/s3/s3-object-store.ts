import { randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, rename, rm, stat } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import {
  CopyObjectCommand,
  DeleteObjectCommand,
  DeleteObjectsCommand,
  GetObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { NotFoundError } from '../../../core/errors.ts';
import { assertObjectKey, assertObjectPrefix } from '../object-key.ts';
import type { ObjectStore, StoredObject } from '../object-store.ts';
import { createS3Client, type S3ObjectStoreConfig } from './s3-client.ts';
import { S3AccessDeniedError, S3RequestError, s3ErrorCode, toS3Error } from './s3-errors.ts';
import { compareKeys, copySource, normalizeKeyPrefix } from './s3-keys.ts';

const MiB = 1024 * 1024;
/** S3's smallest part (except the last) and most keys per ListObjectsV2 page and per DeleteObjects request. */
const MIN_PART_SIZE = 5 * MiB;
const MAX_KEYS_PER_REQUEST = 1000;
const MAX_PARTS = 10_000;

/** Tuning of an S3ObjectStore; the defaults suit production, tests lower them to reach edge cases quickly. */
export interface S3ObjectStoreOptions {
  /** Bytes per part of a multipart upload (at least 5 MiB). Files up to one part go in one PutObject. Default 8 MiB. */
  partSize?: number;
  /** Parts of one file uploaded at once; at most partSize × queueSize bytes are in memory. Default 4. */
  queueSize?: number;
  /** Keys per ListObjectsV2 page, 1 to 1000. Default 1000. */
  maxKeysPerPage?: number;
}

/**
 * The object store of production profiles: objects in an S3 bucket (or an S3-compatible store:
 * MinIO, versitygw, R2...) under an optional key prefix. Keys follow the same rules as the local
 * store's. A PUT, a completed multipart upload and a CopyObject each replace an object atomically.
 *
 * Files go up with multipart uploads streamed from disk (8 MiB parts, 4 at a time); `copy` is one
 * CopyObject, which S3 limits to sources of 5 GiB. Failures become S3RequestError and its
 * subclasses (a missing bucket, refused credentials), or the retryable S3UnavailableError.
 *
 * @example
 * const store = new S3ObjectStore({ type: 's3', bucket: 'acme-ml', prefix: 'flywheel/card_fraud', region: 'eu-west-1' });
 * await store.putFile('training/v1/part-00000.parquet', '/tmp/part-00000.parquet');
 * store.uri('training/v1/part-00000.parquet'); // 's3://acme-ml/flywheel/card_fraud/training/v1/part-00000.parquet'
 */
export class S3ObjectStore implements ObjectStore {
  readonly bucket: string;
  /** '' or the configured prefix with one trailing '/': every S3 key of this store starts with it. */
  readonly prefix: string;
  /** The SDK client, for what the interface does not cover (and to observe requests in tests). */
  readonly client: S3Client;
  private readonly endpoint: string | undefined;
  private readonly partSize: number;
  private readonly queueSize: number;
  private readonly maxKeysPerPage: number;

  constructor(config: S3ObjectStoreConfig, options: S3ObjectStoreOptions = {}) {
    this.bucket = config.bucket;
    this.prefix = normalizeKeyPrefix(config.prefix);
    this.endpoint = config.endpoint;
    this.client = createS3Client(config);
    this.partSize = Math.max(MIN_PART_SIZE, options.partSize ?? 8 * MiB);
    this.queueSize = Math.max(1, options.queueSize ?? 4);
    this.maxKeysPerPage = Math.min(MAX_KEYS_PER_REQUEST, Math.max(1, options.maxKeysPerPage ?? MAX_KEYS_PER_REQUEST));
  }

  /** `s3://bucket/prefix/key`, the key as is (not percent-encoded), as the AWS CLI and DuckDB write them. */
  uri(key: string): string {
    return `s3://${this.bucket}/${this.s3Key(key)}`;
  }

  /** Streams the file up: one PutObject up to the part size, a multipart upload above it. */
  async putFile(key: string, localPath: string, options: { move?: boolean } = {}): Promise<void> {
    const s3Key = this.s3Key(key);
    const file = await stat(localPath).catch(() => undefined);
    if (!file?.isFile()) throw new NotFoundError('Local file', localPath);
    const body = createReadStream(localPath);
    try {
      const upload = new Upload({
        client: this.client,
        params: { Bucket: this.bucket, Key: s3Key, Body: body },
        // S3 allows 10,000 parts: files above 10,000 × 8 MiB (~78 GiB) get larger parts.
        partSize: Math.max(this.partSize, Math.ceil(file.size / MAX_PARTS)),
        queueSize: this.queueSize,
        // Abort the multipart upload on failure, so no invisible (but billed) parts stay behind.
        leavePartsOnError: false,
      });
      await upload.done();
    } catch (error) {
      throw this.failure(error, 'Upload', s3Key);
    } finally {
      body.destroy();
    }
    if (options.move) await rm(localPath, { force: true });
  }

  async putBytes(key: string, body: Uint8Array | string): Promise<void> {
    const s3Key = this.s3Key(key);
    try {
      // The length given even when 0: without it the SDK takes an empty body for a stream of unknown length.
      const contentLength = typeof body === 'string' ? Buffer.byteLength(body) : body.byteLength;
      await this.client.send(new PutObjectCommand({ Bucket: this.bucket, Key: s3Key, Body: body, ContentLength: contentLength }));
    } catch (error) {
      throw this.failure(error, 'PutObject', s3Key);
    }
  }

  /**
   * One PutObject with `If-None-Match: *`: S3 answers 412 PreconditionFailed when the key exists, and
   * 409 ConditionalRequestConflict when a racing conditional write to it is in progress; either way
   * this write did not happen (false), and the caller reads what is there.
   */
  async putBytesIfAbsent(key: string, body: Uint8Array | string): Promise<boolean> {
    const s3Key = this.s3Key(key);
    try {
      const contentLength = typeof body === 'string' ? Buffer.byteLength(body) : body.byteLength;
      await this.client.send(new PutObjectCommand({ Bucket: this.bucket, Key: s3Key, Body: body, ContentLength: contentLength, IfNoneMatch: '*' }));
      return true;
    } catch (error) {
      const code = s3ErrorCode(error);
      if (code === 'PreconditionFailed' || code === 'ConditionalRequestConflict') return false;
      throw this.failure(error, 'PutObject', s3Key);
    }
  }

  async get(key: string): Promise<Uint8Array | undefined> {
    const s3Key = this.s3Key(key);
    try {
      const response = await this.client.send(new GetObjectCommand({ Bucket: this.bucket, Key: s3Key }));
      const bytes = (await response.Body?.transformToByteArray()) ?? new Uint8Array();
      return new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    } catch (error) {
      if (s3ErrorCode(error) === 'NoSuchKey') return undefined;
      throw this.failure(error, 'GetObject', s3Key);
    }
  }

  /** Streams the object to a temporary file beside `localPath` (folders created), then renames it into place. */
  async getFile(key: string, localPath: string): Promise<void> {
    const s3Key = this.s3Key(key);
    const target = resolve(localPath);
    await mkdir(dirname(target), { recursive: true });
    const partial = join(dirname(target), `.${basename(target)}.${randomBytes(6).toString('hex')}.flywheel-partial`);
    try {
      const response = await this.client.send(new GetObjectCommand({ Bucket: this.bucket, Key: s3Key }));
      await pipeline(response.Body as Readable, createWriteStream(partial));
      await rename(partial, target);
    } catch (error) {
      await rm(partial, { force: true }).catch(() => undefined);
      if (s3ErrorCode(error) === 'NoSuchKey') throw new NotFoundError('Object', this.uri(key));
      throw this.failure(error, 'GetObject', s3Key);
    }
  }

  async list(prefix: string): Promise<StoredObject[]> {
    const objects: StoredObject[] = [];
    for await (const page of this.pages(prefix)) objects.push(...page);
    return objects.sort((a, b) => compareKeys(a.key, b.key));
  }

  async delete(key: string): Promise<void> {
    const s3Key = this.s3Key(key);
    try {
      await this.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: s3Key }));
    } catch (error) {
      if (s3ErrorCode(error) === 'NoSuchKey') return;
      throw this.failure(error, 'DeleteObject', s3Key);
    }
  }

  /** Lists page by page and deletes with DeleteObjects, 1,000 keys per request. */
  async deletePrefix(prefix: string): Promise<number> {
    let deleted = 0;
    let batch: string[] = [];
    for await (const page of this.pages(prefix)) {
      batch.push(...page.map((object) => object.key));
      while (batch.length >= MAX_KEYS_PER_REQUEST) {
        deleted += await this.deleteBatch(batch.slice(0, MAX_KEYS_PER_REQUEST));
        batch = batch.slice(MAX_KEYS_PER_REQUEST);
      }
    }
    if (batch.length > 0) deleted += await this.deleteBatch(batch);
    return deleted;
  }

  /**
   * One CopyObject: the bytes stay in S3 and the target is replaced atomically. S3 copies sources of
   * at most 5 GiB this way (larger ones would need a multipart copy, which this store does not do).
   */
  async copy(fromKey: string, toKey: string): Promise<void> {
    const source = this.s3Key(fromKey);
    const target = this.s3Key(toKey);
    if (source === target) {
      // S3 refuses to copy an object onto itself unchanged; there is nothing to do once it exists.
      if (!(await this.exists(source))) throw new NotFoundError('Object', this.uri(fromKey));
      return;
    }
    try {
      await this.client.send(new CopyObjectCommand({ Bucket: this.bucket, Key: target, CopySource: copySource(this.bucket, source) }));
    } catch (error) {
      if (s3ErrorCode(error) === 'NoSuchKey') throw new NotFoundError('Object', this.uri(fromKey));
      throw this.failure(error, 'CopyObject', target);
    }
  }

  /** Closes the client's connections; the store must not be used afterwards. */
  destroy(): void {
    this.client.destroy();
  }

  private s3Key(key: string): string {
    return this.prefix + assertObjectKey(key);
  }

  /** The objects under `prefix`, one ListObjectsV2 page at a time, keys relative to the store's prefix. */
  private async *pages(prefix: string): AsyncGenerator<StoredObject[]> {
    const s3Prefix = this.prefix + assertObjectPrefix(prefix);
    let continuationToken: string | undefined;
    do {
      let response;
      try {
        response = await this.client.send(
          new ListObjectsV2Command({ Bucket: this.bucket, Prefix: s3Prefix, MaxKeys: this.maxKeysPerPage, ContinuationToken: continuationToken }),
        );
      } catch (error) {
        throw this.failure(error, 'ListObjectsV2', s3Prefix);
      }
      const page: StoredObject[] = [];
      for (const object of response.Contents ?? []) {
        // Keys ending in '/' are "folder" markers some tools create; they are not objects.
        if (object.Key === undefined || !object.Key.startsWith(this.prefix) || object.Key.endsWith('/')) continue;
        page.push({ key: object.Key.slice(this.prefix.length), size: object.Size ?? 0 });
      }
      yield page;
      continuationToken = response.IsTruncated ? response.NextContinuationToken : undefined;
      if (response.IsTruncated && !continuationToken) {
        throw new S3RequestError(`S3 returned a truncated listing of s3://${this.bucket}/${s3Prefix} without a continuation token`, {
          operation: 'ListObjectsV2', bucket: this.bucket, key: s3Prefix, endpoint: this.endpoint, code: undefined, status: undefined,
        });
      }
    } while (continuationToken);
  }

  /** Deletes up to 1,000 objects (keys relative to the store) in one request; S3 counts a missing key as deleted. */
  private async deleteBatch(keys: string[]): Promise<number> {
    let response;
    try {
      response = await this.client.send(
        new DeleteObjectsCommand({ Bucket: this.bucket, Delete: { Objects: keys.map((key) => ({ Key: this.prefix + key })), Quiet: true } }),
      );
    } catch (error) {
      throw this.failure(error, 'DeleteObjects', this.prefix + (keys[0] ?? ''));
    }
    const failed = response.Errors ?? [];
    const first = failed[0];
    if (first) {
      const details = { operation: 'DeleteObjects', bucket: this.bucket, key: first.Key, endpoint: this.endpoint, code: first.Code, status: undefined };
      const message = `S3 did not delete ${failed.length} of ${keys.length} objects, the first s3://${this.bucket}/${first.Key ?? ''}: ${first.Code ?? 'error'}: ${first.Message ?? ''}`;
      throw first.Code === 'AccessDenied' ? new S3AccessDeniedError(message, details) : new S3RequestError(message, details);
    }
    return keys.length;
  }

  /** Whether an object has exactly this S3 key (a listing, so a missing bucket is told apart from a missing key). */
  private async exists(s3Key: string): Promise<boolean> {
    try {
      // A key sorts before every other key it is a prefix of, so it comes first if it exists.
      const response = await this.client.send(new ListObjectsV2Command({ Bucket: this.bucket, Prefix: s3Key, MaxKeys: 1 }));
      return response.Contents?.[0]?.Key === s3Key;
    } catch (error) {
      throw this.failure(error, 'ListObjectsV2', s3Key);
    }
  }

  private failure(error: unknown, operation: string, s3Key: string | undefined): unknown {
    return toS3Error(error, { operation, bucket: this.bucket, key: s3Key, endpoint: this.endpoint });
  }
}
