/**
 * The bounds every event sent to a stream is held to (docs/collect-api.md, "Limits"), shared by the
 * definitions that may change them and the log API that enforces them. Lengths are counted in UTF-16
 * code units, as JavaScript counts a string's length: a character outside the Basic Multilingual
 * Plane (an emoji, say) counts 2.
 */

/** The longest event id: a client's `_event_id`, or the value of a stream's `eventIdField`. */
export const MAX_EVENT_ID_LENGTH = 128;

/** The longest string value of a field (or string join key) that declares no `maxLength`. */
export const DEFAULT_MAX_STRING_LENGTH = 65_536;

/** The largest `maxLength` a field may declare: Snowflake's longest VARCHAR, in bytes (16 MiB). */
export const MAX_DECLARED_STRING_LENGTH = 16_777_216;

/**
 * How far after the server's clock an event time may be when a stream declares no
 * `maxEventTimeAhead`: a day, more than any clock skew, and short enough that an event time in the
 * far future (which would pin the online value of its entity, newest event time winning) is refused.
 */
export const DEFAULT_MAX_EVENT_TIME_AHEAD_SECONDS = 86_400;
