import { EVENT_TIME_WIDTH } from './redis-write-script.ts';

/**
 * What lets the Redis store skip the expiry sweep (`deleteExpired`) when it cannot find anything:
 * per view, a known **expiry bound** B in µs, "every stored key of this view expires by itself at
 * most B after its record's event time" (PEXPIRETIME × 1000 − event µs ≤ B). A sweep for a ttl of T
 * µs removes records whose event time is more than T before `now`; when B ≤ T, each of them has
 * already expired by itself, so the sweep has nothing to do and returns at once, without SCANning
 * the view's keys (1M keys: about 5 s of Redis CPU; docs/benchmarks.md, "Materialization").
 *
 * Kept in one hash per key prefix, `<prefix>__expiry`:
 *
 *   <view>   the bound B in µs, or `inf` when some key may never expire (written without a ttl)
 *   <view>?  a sweep in progress that will set the bound to its ttl: `<T µs>:<token>`
 *   *        the prefix is tracked: every record under it was written by a writer that keeps bounds,
 *            so a view with no bound has no records (a prefix is tracked when a writer or a sweep
 *            finds it without a layouts hash, i.e. before any Flywheel record was ever written there)
 *
 * How a bound becomes known:
 *
 * - in a tracked prefix, the first write of a view sets it (and an absent one means "no records");
 * - otherwise (records written by a release before bounds, say) a sweep establishes it: one that
 *   went over every key of the view (SCAN to its end, not stopped by its limit), found every kept
 *   key expiring within its ttl, and during which no writer wrote a key that does not
 *   (compare-and-set on the `<view>?` token) sets the bound to its ttl.
 *
 * Every write keeps it true, before its records are written (same pipeline, in order): a batch
 * whose keys expire within B leaves it; one with a longer bound raises it; one without a ttl sets
 * `inf`; and either of the latter two cancels a sweep in progress whose ttl they exceed. Raising
 * is always true (keys within B are within anything larger); only a completed sweep lowers it.
 *
 * Not covered: a writer of an older release (one that does not run WRITE_BOUND_SCRIPT) writing
 * keys without an expiry into a view whose bound is known: its keys are not swept until a writer of
 * this release writes the view without a ttl; a layouts hash removed while records stay (by hand, or
 * evicted under an `allkeys-*` policy) would make the prefix look fresh. The Redis Cluster store keeps
 * no bounds and always sweeps.
 */

/** The hash of bounds under a key prefix. */
export const expiryBoundsKey = (keyPrefix: string): string => `${keyPrefix}__expiry`;

/** A write's bound argument: µs from event time to key expiry, or '' for a batch with a key that never expires. */
export type WriteBoundArgument = string;

/**
 * The bound a batch of records gives its view: the largest (expiry ms × 1000 − event µs) among its
 * records, or '' when one has no expiry. Exactly what the key's PEXPIRETIME will say, with the
 * store's rounding (expiry = floor((event + ttl) / 1 ms)), so it is never more than the ttl.
 */
export function writeBound(records: readonly { eventMicros: number; expireAtMillis?: number }[]): WriteBoundArgument {
  let bound = -Infinity;
  for (const record of records) {
    if (record.expireAtMillis === undefined) return '';
    const micros = record.expireAtMillis * 1000 - record.eventMicros;
    if (micros > bound) bound = micros;
  }
  return String(bound);
}

/**
 * Run once per view per write pipeline, before its records. KEYS[1] the bounds hash, KEYS[2] the
 * layouts hash; ARGV[1] the view, ARGV[2] the batch's bound (writeBound). Returns nothing useful.
 */
export const WRITE_BOUND_SCRIPT = `local h, view, b = KEYS[1], ARGV[1], tonumber(ARGV[2])
if redis.call('EXISTS', KEYS[2]) == 0 then redis.call('HSETNX', h, '*', '1') end
local s = redis.call('HGET', h, view)
if s then
  if s ~= 'inf' and (b == nil or b > tonumber(s)) then redis.call('HSET', h, view, ARGV[2] == '' and 'inf' or ARGV[2]) end
elseif redis.call('HEXISTS', h, '*') == 1 then
  redis.call('HSET', h, view, ARGV[2] == '' and 'inf' or ARGV[2])
end
local p = redis.call('HGET', h, view .. '?')
if p and (b == nil or b > tonumber(string.match(p, '^[^:]+'))) then redis.call('HDEL', h, view .. '?') end
return 0
`;

/**
 * A sweep's first step. KEYS[1] the bounds hash, KEYS[2] the layouts hash; ARGV[1] the view,
 * ARGV[2] the sweep's ttl in µs, ARGV[3] its token. Returns 'skip' when the bound is known and within
 * the ttl (or the view of a tracked prefix has no records), else registers the sweep and returns 'scan'.
 */
export const SWEEP_BEGIN_SCRIPT = `local h, view = KEYS[1], ARGV[1]
if redis.call('EXISTS', KEYS[2]) == 0 then redis.call('HSETNX', h, '*', '1') end
local s = redis.call('HGET', h, view)
if s == false and redis.call('HEXISTS', h, '*') == 1 then return 'skip' end
if s and s ~= 'inf' and tonumber(s) <= tonumber(ARGV[2]) then return 'skip' end
redis.call('HSET', h, view .. '?', ARGV[2] .. ':' .. ARGV[3])
return 'scan'
`;

/**
 * A page of a sweep: removes the expired records among KEYS, at most ARGV[2] of them (the stored
 * event time, the value's first 17 characters, before ARGV[1] µs), checked and removed in one step
 * as DELETE_EXPIRED_SCRIPT does, and counts the kept records whose key does not expire within
 * ARGV[3] µs of their event time (no expiry, or a later one). Returns { removed, unbounded }.
 */
export const SWEEP_PAGE_SCRIPT = `local removed = 0
local unbounded = 0
local before = tonumber(ARGV[1])
local limit = tonumber(ARGV[2])
local ttl = tonumber(ARGV[3])
for i = 1, #KEYS do
  if removed >= limit then break end
  local t = tonumber(redis.call('GETRANGE', KEYS[i], 0, ${EVENT_TIME_WIDTH - 1}))
  if t ~= nil then
    if t < before then
      redis.call('UNLINK', KEYS[i])
      removed = removed + 1
    else
      local at = redis.call('PEXPIRETIME', KEYS[i])
      if at == -1 or at * 1000 - t > ttl then unbounded = unbounded + 1 end
    end
  end
end
return { removed, unbounded }
`;

/**
 * A sweep's last step. KEYS[1] the bounds hash; ARGV[1] the view, ARGV[2] the sweep's ttl in µs,
 * ARGV[3] its token, ARGV[4] '1' when it went over every key and found each kept one within the
 * ttl. Sets the bound to the ttl only if no writer cancelled the sweep meanwhile; clears the sweep
 * either way. Returns 1 when it set the bound.
 */
export const SWEEP_END_SCRIPT = `local h, view = KEYS[1], ARGV[1]
local mine = redis.call('HGET', h, view .. '?') == ARGV[2] .. ':' .. ARGV[3]
if not mine then return 0 end
redis.call('HDEL', h, view .. '?')
if ARGV[4] ~= '1' then return 0 end
local s = redis.call('HGET', h, view)
if s == false or s == 'inf' or tonumber(s) > tonumber(ARGV[2]) then redis.call('HSET', h, view, ARGV[2]) end
return 1
`;
