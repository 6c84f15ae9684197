/**
 * Event times in online stores are whole microseconds since the Unix epoch (the warehouse's
 * precision), held in a JS number: exact up to 2^53 µs, past the year 2200.
 */

const ISO_INSTANT = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?(Z|[+-]\d{2}:\d{2})$/;

/**
 * Microseconds since the epoch of an ISO-8601 instant with a zone (`2024-05-01T12:00:00Z`,
 * `2024-05-01T14:00:00.123456+02:00`); undefined when `text` is not one (no zone, an impossible
 * date such as February 30, a time past 23:59:59). Digits past the sixth are cut.
 */
export function microsFromIso(text: string): number | undefined {
  const match = ISO_INSTANT.exec(text);
  if (!match) return undefined;
  const [, y, mo, d, h, mi, s, fraction = '', zone = 'Z'] = match;
  const [year, month, day, hour, minute, second] = [y, mo, d, h, mi, s].map(Number) as [number, number, number, number, number, number];
  if (hour > 23 || minute > 59 || second > 59) return undefined;
  const local = new Date(Date.UTC(year, month - 1, day, hour, minute, second));
  local.setUTCFullYear(year); // Date.UTC maps years 0-99 to 1900-1999
  if (local.getUTCFullYear() !== year || local.getUTCMonth() !== month - 1 || local.getUTCDate() !== day) return undefined;
  let offsetMinutes = 0;
  if (zone !== 'Z') {
    const zoneHours = Number(zone.slice(1, 3));
    const zoneMinutes = Number(zone.slice(4, 6));
    if (zoneHours > 23 || zoneMinutes > 59) return undefined;
    offsetMinutes = (zone.startsWith('-') ? -1 : 1) * (zoneHours * 60 + zoneMinutes);
  }
  const micros = (local.getTime() - offsetMinutes * 60_000) * 1000 + Number(fraction.padEnd(6, '0').slice(0, 6));
  return Number.isSafeInteger(micros) ? micros : undefined;
}

/** Microseconds since the epoch of a Date (which has milliseconds); undefined for an invalid Date. */
export function microsFromDate(date: Date): number | undefined {
  const millis = date.getTime();
  return Number.isNaN(millis) ? undefined : millis * 1000;
}

/**
 * An instant as ISO-8601 UTC, the way `Date.prototype.toISOString` writes it
 * (`2024-05-01T12:00:00.000Z`), with three more digits when it has microseconds
 * (`2024-05-01T12:00:00.123456Z`): the format the offline engine gives timestamps in.
 */
export function isoFromMicros(micros: number): string {
  const extra = ((micros % 1000) + 1000) % 1000;
  const iso = new Date((micros - extra) / 1000).toISOString();
  return extra === 0 ? iso : `${iso.slice(0, -1)}${String(extra).padStart(3, '0')}Z`;
}

/**
 * The training-set ttl rule (docs/point-in-time.md, rule 4) for a value read at `nowMicros`: it is
 * expired when `now - eventTime > ttl`; exactly `ttl` old is still valid. A null ttl never expires.
 */
export function isExpired(eventMicros: number, nowMicros: number, ttlSeconds: number | null): boolean {
  return ttlSeconds !== null && nowMicros - eventMicros > ttlSeconds * 1_000_000;
}
