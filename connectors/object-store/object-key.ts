import { FlywheelError } from '../../core/errors.ts';

/** Thrown by object stores when a key or prefix is not a safe relative path, or cannot be stored as given. */
export class ObjectKeyError extends FlywheelError {
  readonly key: string;
  constructor(key: string, reason: string) {
    super(`Invalid object key ${JSON.stringify(key)}: ${reason}`);
    this.key = key;
  }
}

/**
 * Checks that `key` is a `/`-separated relative path every store can hold the same way: not empty,
 * not absolute, no empty, `.` or `..` segments (a local store would step outside its root), no
 * backslashes (a path separator on Windows) and no control characters.
 */
export function assertObjectKey(key: string): string {
  if (key === '') throw new ObjectKeyError(key, 'it is empty');
  checkCharacters(key);
  for (const segment of key.split('/')) checkSegment(key, segment);
  return key;
}

/**
 * Checks a listing prefix. Like S3, a prefix is matched as a string: 'data/tr' matches
 * 'data/train.parquet'; '' matches everything. Every segment before the last `/` must be valid.
 */
export function assertObjectPrefix(prefix: string): string {
  if (prefix === '') return prefix;
  checkCharacters(prefix);
  const segments = prefix.split('/');
  segments.pop(); // the last part may be partial, or empty after a trailing '/'
  for (const segment of segments) checkSegment(prefix, segment);
  return prefix;
}

function checkCharacters(key: string): void {
  if (key.startsWith('/')) throw new ObjectKeyError(key, 'keys are relative to the store root and must not start with "/"');
  if (key.includes('\\')) throw new ObjectKeyError(key, 'use "/" to separate segments, not "\\"');
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f]/.test(key)) throw new ObjectKeyError(key, 'it contains a control character');
}

function checkSegment(key: string, segment: string): void {
  if (segment === '') throw new ObjectKeyError(key, 'it has an empty segment (a leading, doubled or trailing "/")');
  if (segment === '.' || segment === '..') throw new ObjectKeyError(key, `"${segment}" segments are not allowed`);
}
