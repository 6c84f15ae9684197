import { assertObjectKey, ObjectKeyError } from '../object-key.ts';

/**
 * The store's key prefix as S3 keys start with it: '' for the bucket's root, else the configured
 * prefix with one trailing '/' ('card_fraud', '/card_fraud/' and 'card_fraud/' all give 'card_fraud/').
 * Its segments follow the rules of object keys.
 */
export function normalizeKeyPrefix(prefix: string | undefined): string {
  const trimmed = (prefix ?? '').replace(/^\/+|\/+$/g, '');
  if (trimmed === '') return '';
  try {
    return `${assertObjectKey(trimmed)}/`;
  } catch (error) {
    if (error instanceof ObjectKeyError) throw new ObjectKeyError(prefix ?? '', `not usable as the store's prefix: ${error.message}`);
    throw error;
  }
}

/**
 * The `CopySource` of a CopyObject request: `bucket/key` with each key segment URL-encoded, as S3
 * requires (a raw '+', '%', '?' or non-ASCII character would name another object, or none).
 */
export function copySource(bucket: string, s3Key: string): string {
  return `${bucket}/${s3Key.split('/').map(encodeURIComponent).join('/')}`;
}

/**
 * Orders keys as the local store does (by UTF-16 code units). S3 lists in UTF-8 byte order, which
 * differs only between characters above U+FFFF and those in U+E000–U+FFFF.
 */
export function compareKeys(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
