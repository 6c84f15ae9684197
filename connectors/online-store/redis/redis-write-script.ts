import { createHash } from 'node:crypto';

/** Characters of the event time at the head of a stored value: a sign or a digit, then 16 digits. */
export const EVENT_TIME_WIDTH = 17;

/**
 * An event time (whole µs, a safe integer) as the fixed-width head of a stored value:
 * `01714564800000000`, or `-0000000086400000` before 1970. Equal widths let the write script compare
 * two non-negative times as strings; `Number()` reads either form back.
 */
export function eventTimeField(micros: number): string {
  // Instants from 1973 to 2286 have 16 digits: one '0' in front, without padStart (this runs for every record written).
  if (micros >= 1e15 && micros < 1e16) return `0${micros}`;
  return micros < 0 ? `-${String(-micros).padStart(EVENT_TIME_WIDTH - 1, '0')}` : String(micros).padStart(EVENT_TIME_WIDTH, '0');
}

/**
 * The newer-wins write of a batch of records, atomic per record in Redis (a script runs alone):
 * each record replaces the stored value of its key only when the stored event time is not later
 * than its own. Records are applied in order (a key twice in one batch: the later call sees the
 * first). Returns how many it wrote.
 *
 *   KEYS[i]       a record's key
 *   ARGV[2i - 1]  its stored value, `<event time, 17 characters (eventTimeField)>|<written µs>|<layout id>|<JSON array>`
 *   ARGV[2i]      when it expires, in ms since the epoch (its event time plus the view's ttl), or '' for never
 *
 * The record's event time is read from the head of its value (string.sub), not given as an argument
 * of its own: one argument fewer per record for the client to encode and Redis to parse
 * (docs/benchmarks.md, "Materialization").
 *
 * The script reads only the stored value's first 17 bytes (GETRANGE, not GET: a value is hundreds
 * of bytes, and copying it into Lua was a third of the script's time), and writes every newer
 * record of the batch with one MSET (one `redis.call` instead of one per record); a key twice in
 * the batch is checked against the time the batch gives it first. Two non-negative times of equal
 * width compare as strings; a time before 1970 (a `-`) is compared as a number. MSET clears any
 * expiry of the keys it sets; a written record with an expiry then gets it with PEXPIREAT (one call
 * per such key: only views with a ttl pay for it), the last written record of a key deciding. An
 * expiry already past removes the key at once: a value older than its ttl is never served.
 */
export const WRITE_SCRIPT = `local pending = {}
local sets = {}
local expires = {}
local expiring = {}
for i = 1, #KEYS do
  local key = KEYS[i]
  local value = ARGV[2 * i - 1]
  local t = string.sub(value, 1, ${EVENT_TIME_WIDTH})
  local stored = pending[key]
  if stored == nil then stored = redis.call('GETRANGE', key, 0, ${EVENT_TIME_WIDTH - 1}) end
  local newer = stored == ''
  if not newer then
    if string.byte(stored, 1) ~= 45 and string.byte(t, 1) ~= 45 then
      newer = stored <= t
    else
      newer = (tonumber(stored) or -math.huge) <= tonumber(t)
    end
  end
  if newer then
    pending[key] = t
    sets[#sets + 1] = key
    sets[#sets + 1] = value
    if expires[key] == nil then expiring[#expiring + 1] = key end
    expires[key] = ARGV[2 * i]
  end
end
if #sets > 0 then redis.call('MSET', unpack(sets)) end
for _, key in ipairs(expiring) do
  if expires[key] ~= '' then redis.call('PEXPIREAT', key, expires[key]) end
end
return #sets / 2
`;

/**
 * Removes the expired records among KEYS, at most ARGV[2] of them: those whose stored event time
 * (the value's first 17 characters) is before ARGV[1] (µs since the epoch). Checked and removed in
 * one script, so a record a writer replaced with a newer one meanwhile is never removed. Returns how
 * many it removed.
 */
export const DELETE_EXPIRED_SCRIPT = `local removed = 0
local before = tonumber(ARGV[1])
local limit = tonumber(ARGV[2])
for i = 1, #KEYS do
  if removed >= limit then break end
  local t = tonumber(redis.call('GETRANGE', KEYS[i], 0, ${EVENT_TIME_WIDTH - 1}))
  if t ~= nil and t < before then
    redis.call('UNLINK', KEYS[i])
    removed = removed + 1
  end
end
return removed
`;

/** What EVALSHA names the script by (Redis caches scripts by the SHA-1 of their text). */
export const WRITE_SCRIPT_SHA = createHash('sha1').update(WRITE_SCRIPT).digest('hex');
