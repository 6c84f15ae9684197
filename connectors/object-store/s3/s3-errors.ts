import { S3ServiceException } from '@aws-sdk/client-s3';
import { FlywheelError, TransientError } from '../../../core/errors.ts';

/** What a failed request was doing: every S3 error carries it. */
export interface S3RequestContext {
  /** The S3 action, e.g. `PutObject`, `ListObjectsV2`, `Upload` (a multipart upload). */
  readonly operation: string;
  readonly bucket: string;
  /** The full S3 key (store prefix included) or listing prefix, when the request named one. */
  readonly key: string | undefined;
  /** The configured endpoint; undefined for AWS itself. */
  readonly endpoint: string | undefined;
}

interface S3FailureDetails extends S3RequestContext {
  /** S3's error code (`NoSuchBucket`, `SlowDown`), or Node's (`ECONNREFUSED`), when known. */
  readonly code: string | undefined;
  /** The HTTP status of S3's answer, when there was one. */
  readonly status: number | undefined;
}

/**
 * Thrown by the S3 object store when a request fails in a way retrying will not fix: a bad request,
 * a missing bucket, refused credentials. Activities turn it into a non-retryable failure.
 */
export class S3RequestError extends FlywheelError implements S3FailureDetails {
  readonly operation: string;
  readonly bucket: string;
  readonly key: string | undefined;
  readonly endpoint: string | undefined;
  readonly code: string | undefined;
  readonly status: number | undefined;
  constructor(message: string, details: S3FailureDetails, options?: { cause?: unknown }) {
    super(message, options);
    ({ operation: this.operation, bucket: this.bucket, key: this.key, endpoint: this.endpoint, code: this.code, status: this.status } = details);
  }
}

/** Thrown by the S3 object store when the configured bucket does not exist (S3's `NoSuchBucket`). */
export class S3BucketNotFoundError extends S3RequestError {}

/**
 * Thrown by the S3 object store when S3 refuses the request's credentials or permissions
 * (`AccessDenied`, `InvalidAccessKeyId`, `SignatureDoesNotMatch`...), or the AWS chain finds none.
 */
export class S3AccessDeniedError extends S3RequestError {}

/**
 * Thrown by the S3 object store when S3 cannot be reached or asks to slow down: network errors,
 * timeouts, throttling and 5xx answers (after the SDK's own retries). Retryable.
 */
export class S3UnavailableError extends TransientError implements S3FailureDetails {
  readonly operation: string;
  readonly bucket: string;
  readonly key: string | undefined;
  readonly endpoint: string | undefined;
  readonly code: string | undefined;
  readonly status: number | undefined;
  constructor(message: string, details: S3FailureDetails, options?: { cause?: unknown }) {
    super(message, options);
    ({ operation: this.operation, bucket: this.bucket, key: this.key, endpoint: this.endpoint, code: this.code, status: this.status } = details);
  }
}

const ACCESS_CODES = new Set([
  'AccessDenied', 'AllAccessDisabled', 'Forbidden', 'InvalidAccessKeyId', 'SignatureDoesNotMatch',
  'InvalidToken', 'ExpiredToken', 'TokenRefreshRequired', 'AccountProblem', 'InvalidSecurity',
  // versitygw's answer (HTTP 404) to an access key it does not know; AWS says InvalidAccessKeyId.
  'XAdminUserNotFound',
]);
const THROTTLING_CODES = new Set([
  'SlowDown', 'Throttling', 'ThrottlingException', 'ThrottledException', 'RequestThrottled', 'RequestThrottledException',
  'TooManyRequestsException', 'RequestLimitExceeded', 'BandwidthLimitExceeded', 'ProvisionedThroughputExceededException',
  'InternalError', 'ServiceUnavailable', 'RequestTimeout', 'RequestTimeoutException', 'PriorRequestNotComplete',
]);
/** Node's codes for a connection that could not be made or was lost. */
const NETWORK_CODES = new Set([
  'ECONNREFUSED', 'ECONNRESET', 'ECONNABORTED', 'ETIMEDOUT', 'EPIPE', 'EAI_AGAIN', 'ENOTFOUND', 'ENETUNREACH',
  'EHOSTUNREACH', 'ENETDOWN', 'EHOSTDOWN', 'ERR_STREAM_PREMATURE_CLOSE', 'UND_ERR_SOCKET',
]);

/** S3's error code of an SDK error (`NoSuchKey`), if it is one. */
export function s3ErrorCode(error: unknown): string | undefined {
  if (error instanceof S3ServiceException) return error.name;
  return undefined;
}

/**
 * Turns an error from the AWS SDK into a Flywheel error with the request's context: throttling,
 * 5xx answers and network errors become S3UnavailableError (retryable), the rest S3RequestError and
 * its subclasses. Errors that did not come from S3 (a local file that cannot be read) and
 * Flywheel errors are returned unchanged.
 */
export function toS3Error(error: unknown, context: S3RequestContext): unknown {
  if (error instanceof FlywheelError) return error;
  const where = `${context.operation} on s3://${context.bucket}/${context.key ?? ''}`;
  const at = context.endpoint ? ` at ${context.endpoint}` : '';

  if (error instanceof S3ServiceException) {
    const code = error.name;
    const status = error.$metadata?.httpStatusCode;
    const details = { ...context, code, status };
    const reason = `${code}${status ? ` (HTTP ${status})` : ''}: ${error.message}`;
    if (code === 'NoSuchBucket') {
      return new S3BucketNotFoundError(
        `S3 bucket "${context.bucket}" does not exist${at} (${where}). Create it, or fix objectStore.bucket in the profile.`,
        details,
        { cause: error },
      );
    }
    if (ACCESS_CODES.has(code) || status === 403) {
      return new S3AccessDeniedError(
        `S3${at} refused ${where}: ${reason}. Check the credentials the AWS chain finds (AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, ` +
          'the profile named by objectStore.profile or AWS_PROFILE, an instance role) and what they may do on the bucket.',
        details,
        { cause: error },
      );
    }
    if (THROTTLING_CODES.has(code) || error.$retryable !== undefined || error.$fault === 'server' || (status !== undefined && (status >= 500 || status === 429))) {
      return new S3UnavailableError(`S3${at} failed ${where}, a retry may help: ${reason}`, details, { cause: error });
    }
    if (context.operation === 'CopyObject' && code === 'InvalidRequest' && /size|large/i.test(error.message)) {
      return new S3RequestError(
        `S3${at} refused ${where}: CopyObject copies sources of at most 5 GiB, and Flywheel does not do multipart copies (${reason})`,
        details,
        { cause: error },
      );
    }
    return new S3RequestError(`S3${at} failed ${where}: ${reason}`, details, { cause: error });
  }

  if (!(error instanceof Error)) return error;
  const code = 'code' in error && typeof error.code === 'string' ? error.code : undefined;
  const details = { ...context, code: code ?? error.name, status: undefined };
  if (error.name === 'CredentialsProviderError') {
    return new S3AccessDeniedError(
      `No AWS credentials for ${where}: ${error.message}. Set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, name a profile ` +
        '(objectStore.profile or AWS_PROFILE) from the AWS shared config and credentials files, or run where an instance role is available.',
      details,
      { cause: error },
    );
  }
  if (error.message === 'Region is missing') {
    return new S3RequestError(`No AWS region for ${where}: set objectStore.region in the profile, or AWS_REGION.`, details, { cause: error });
  }
  if ((code !== undefined && NETWORK_CODES.has(code)) || error.name === 'TimeoutError') {
    return new S3UnavailableError(`Cannot reach S3${at || ' (AWS)'} for ${where}: ${error.message}`, details, { cause: error });
  }
  return error;
}
