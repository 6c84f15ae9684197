/**
 * What a statement is for, sent as Snowflake's QUERY_TAG with every statement, so QUERY_HISTORY
 * (and the account's cost reports) say which project, object and run spent the warehouse's time:
 * `SELECT … FROM TABLE(INFORMATION_SCHEMA.QUERY_HISTORY()) WHERE PARSE_JSON(QUERY_TAG):run = '…'`.
 */
export interface QueryTag {
  /** The Flywheel project. */
  readonly project: string;
  /** The object the statement works for (a training set, feature view, stream), when there is one. */
  readonly object?: string;
  /** The run: the Temporal workflow id (`<project>/<kind>/<object>/<range>`), or a CLI command. */
  readonly run?: string;
  /** The Temporal activity type sending the statement (`buildTrainingSetPartitions`), when an activity sends it. */
  readonly activity?: string;
  /** The activity's attempt (1 for the first), so a retried attempt's statements are told from the first's. */
  readonly attempt?: number;
}

/** Snowflake refuses a QUERY_TAG longer than 2000 characters. */
export const QUERY_TAG_MAX = 2000;

/**
 * The QUERY_TAG text of `tag`: JSON with `flywheel` (the tag's format version) first, so tags are
 * easy to tell from others and to parse (`PARSE_JSON(QUERY_TAG)`). Fields too long for Snowflake's
 * 2000 characters are cut, never dropped whole.
 */
export function queryTagText(tag: QueryTag): string {
  const fields: Record<string, string | number> = { flywheel: 1, project: tag.project };
  if (tag.object !== undefined) fields['object'] = tag.object;
  if (tag.run !== undefined) fields['run'] = tag.run;
  if (tag.activity !== undefined) fields['activity'] = tag.activity;
  if (tag.attempt !== undefined) fields['attempt'] = tag.attempt;
  let text = JSON.stringify(fields);
  if (text.length <= QUERY_TAG_MAX) return text;
  // Cut the longest values until it fits; JSON.stringify keeps the result valid JSON.
  const room = Math.floor((QUERY_TAG_MAX - 120) / 4);
  for (const key of ['project', 'object', 'run', 'activity']) if (typeof fields[key] === 'string') fields[key] = (fields[key] as string).slice(0, room);
  text = JSON.stringify(fields);
  return text;
}
