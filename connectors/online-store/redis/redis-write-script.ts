import { createHash } from 'node:crypto';

/** Hash fields the store keeps beside the features (feature names may not start with `__`). */
export const EVENT_TIME_FIELD = '__event_time';
export const WRITTEN_AT_FIELD = '__written_at';

/**
 * The newer-wins write of one record, atomic in Redis (a script runs alone): the record replaces
 * the hash only when no stored event time is later than its own. Returns 1 when it wrote, 0 when it
 * skipped an older record. Times are microseconds since the epoch; Lua numbers are doubles, exact
 * below 2^53.
 *
 *   KEYS[1]  the record's hash
 *   ARGV[1]  event time, ARGV[2] written at, ARGV[3..] feature, JSON value, feature, JSON value, ...
 */
export const WRITE_SCRIPT = `local stored = redis.call('HGET', KEYS[1], '${EVENT_TIME_FIELD}')
if stored and tonumber(stored) > tonumber(ARGV[1]) then
  return 0
end
redis.call('DEL', KEYS[1])
redis.call('HSET', KEYS[1], '${EVENT_TIME_FIELD}', ARGV[1], '${WRITTEN_AT_FIELD}', ARGV[2], unpack(ARGV, 3))
return 1
`;

/** What EVALSHA names the script by (Redis caches scripts by the SHA-1 of their text). */
export const WRITE_SCRIPT_SHA = createHash('sha1').update(WRITE_SCRIPT).digest('hex');
