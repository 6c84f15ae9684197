import { createHash } from 'node:crypto';

/**
 * The newer-wins write of a batch of records, atomic per record in Redis (a script runs alone):
 * each record replaces the stored value of its key only when the stored event time is not later
 * than its own. Records are applied in order (a key twice in one batch: the later call sees the
 * first). Returns how many it wrote. Times are microseconds since the epoch; Lua numbers are
 * doubles, exact below 2^53.
 *
 *   KEYS[i]       a record's key
 *   ARGV[2i - 1]  its event time
 *   ARGV[2i]      its stored value, `<event µs>|<written µs>|<layout id>|<JSON array>`
 *
 * Reading the stored event time needs only the text before the first `|`.
 */
export const WRITE_SCRIPT = `local written = 0
for i = 1, #KEYS do
  local stored = redis.call('GET', KEYS[i])
  local bar = stored and string.find(stored, '|', 1, true)
  if not bar or tonumber(string.sub(stored, 1, bar - 1)) <= tonumber(ARGV[2 * i - 1]) then
    redis.call('SET', KEYS[i], ARGV[2 * i])
    written = written + 1
  end
end
return written
`;

/** What EVALSHA names the script by (Redis caches scripts by the SHA-1 of their text). */
export const WRITE_SCRIPT_SHA = createHash('sha1').update(WRITE_SCRIPT).digest('hex');
