import type { DataInput } from './data-inputs.ts';

/**
 * The table `flywheel init` puts in an empty warehouse so that the first commands (plan, apply, a
 * training set, materialize, a serving call) have rows to work on: six orders of three customers
 * over three days. Its values are fixed, so what the README says they give is what they give.
 */
export const SAMPLE_TABLE = 'sample_orders';

const SAMPLE_ROWS = [
  "(1, 1, TIMESTAMPTZ '2026-11-02 09:15:00+00', 25.0, 2, 'web')",
  "(2, 2, TIMESTAMPTZ '2026-11-02 11:40:00+00', 12.5, 1, 'store')",
  "(3, 1, TIMESTAMPTZ '2026-11-03 08:05:00+00', 40.0, 3, 'web')",
  "(4, 3, TIMESTAMPTZ '2026-11-03 17:30:00+00', 7.25, 1, 'app')",
  "(5, 2, TIMESTAMPTZ '2026-11-04 10:00:00+00', 18.0, 2, 'web')",
  "(6, 1, TIMESTAMPTZ '2026-11-04 19:45:00+00', 60.5, 4, 'app')",
];

const SAMPLE_LOAD = `CREATE OR REPLACE TABLE ${SAMPLE_TABLE} (order_id BIGINT, customer_id BIGINT, ts TIMESTAMPTZ, amount DOUBLE, items INTEGER, channel VARCHAR);
INSERT INTO ${SAMPLE_TABLE} VALUES
  ${SAMPLE_ROWS.join(',\n  ')}`;

export const SAMPLE_INPUT: DataInput = {
  label: `the sample table ${SAMPLE_TABLE}`,
  sourceName: 'orders',
  location: { kind: 'table', table: SAMPLE_TABLE },
  relation: SAMPLE_TABLE,
  load: SAMPLE_LOAD,
  reload: SAMPLE_LOAD,
};
