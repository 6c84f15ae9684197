import { compareInstants, InstantError, parseInstant as parseExactInstant } from '../../core/instant.ts';
import { UsageError } from '../errors.ts';

const WITH_ZONE = /^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d+)?)?)?(Z|[+-]\d{2}:?\d{2})$/;
const DATE_ONLY = /^\d{4}-\d{2}-\d{2}$/;

/**
 * Reads a time given on the command line as a UTC instant, exact to the microsecond (core/instant.ts).
 * A date alone means its UTC midnight; a date-time must say its zone (`Z` or `+02:00`), since a bare
 * local time is ambiguous; more than six fractional digits are refused, not cut.
 */
export function parseInstant(value: string, option: string): string {
  const text = value.trim();
  if (DATE_ONLY.test(text)) return checked(`${text}T00:00:00Z`, value, option);
  if (!WITH_ZONE.test(text)) {
    throw new UsageError(`${option} ${JSON.stringify(value)} is not an unambiguous instant: use a date (2024-05-01) or a date-time with a zone (2024-05-01T12:00:00Z)`);
  }
  return checked(text, value, option);
}

function checked(text: string, original: string, option: string): string {
  try {
    return parseExactInstant(text, option);
  } catch (error) {
    if (error instanceof InstantError) throw new UsageError(error.message.replace(JSON.stringify(text), JSON.stringify(original)), { cause: error });
    throw error;
  }
}

/**
 * `--from`/`--to` of a command that builds whole partitions: both or neither, `from` before `to`.
 * `builds` says what happens to partitions (`built`, `rebuilt`) in the message for one without the other.
 */
export function parsePartitionRange(options: { from?: string; to?: string }, builds: string): { from?: string; to?: string } {
  const from = options.from ? parseInstant(options.from, '--from') : undefined;
  const to = options.to ? parseInstant(options.to, '--to') : undefined;
  if ((from === undefined) !== (to === undefined)) throw new UsageError(`give both --from and --to, or neither (partitions are ${builds} whole)`);
  if (from && to && compareInstants(from, to) >= 0) throw new UsageError(`--from (${from}) must be before --to (${to})`);
  return { ...(from !== undefined ? { from } : {}), ...(to !== undefined ? { to } : {}) };
}
