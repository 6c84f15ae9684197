/**
 * What logging one `POST /v1/decide` decision costs the server's event loop (issue 18 item 2), both
 * ways, in one process, alternating: 100 candidates × 50 float features (bench/decide.ts's service,
 * scored, 10 shown), each candidate a stored record of its own, a context-free request.
 *
 * - **direct**: the decision log's path (server/serving/decision-records.ts): the rows written from
 *   the answer's fragments straight into framed records;
 * - **general**: what it replaced: the decision spelt out (one object per row), its 100 events built,
 *   validated by the stream's EventValidator, stored as JSON.stringify writes them, framed.
 *
 * Both give the same bytes (checked on the first decision of each round). Reported per decision: CPU
 * time (`process.cpuUsage`, user + system; the machine's load inflates wall time more than CPU) and
 * wall time, best of `--rounds`.
 *
 *   npx tsx bench/decision-log-encode.ts [--decisions 500] [--rounds 3]
 */
import { readFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { RecordBuilder } from '../connectors/log-store/segment-log/index.ts';
import { decisionEventId, decisionLayoutsOf } from '../core/definitions/decision-stream.ts';
import { uuidv7 } from '../server/event-ids.ts';
import { decisionEvents } from '../server/serving/decision-log.ts';
import { DecisionRecordEncoder } from '../server/serving/decision-records.ts';
import type { ServedFragments } from '../server/serving/served-decision.ts';
import { spellOut } from '../server/serving/served-fragments.ts';
import { streamSchemasOf } from '../server/stream-schema.ts';
import { latestEventTimeOf } from '../server/validation/event-time-bound.ts';
import { EventValidator, IssueSink, RECEIVED_AT } from '../server/validation/event-validator.ts';
import { decideProject, valuesOf } from './decide.ts';

const { values: args } = parseArgs({ options: { decisions: { type: 'string' }, rounds: { type: 'string' } } });
const decisions = Number(args.decisions ?? 500);
const rounds = Number(args.rounds ?? 3);

const project = decideProject(50, { logged: true });
const layout = [...decisionLayoutsOf(project).values()][0]!;
const schema = streamSchemasOf(project).find((s) => s.name === layout.stream)!;
const features = layout.features.map((f) => f.name);
const present = features.map(() => '"present"').join(',');
const stored = Array.from({ length: 10_000 }, (_, id) => JSON.stringify(valuesOf(id, 50)).slice(1, -1));

/** A decision as the serving path leaves it (served-fragments.ts): 100 random items, their stored values as fragments. */
function decision(): ServedFragments {
  const ids = Array.from({ length: 100 }, () => Math.floor(Math.random() * 10_000));
  const time = features.map(() => `"${new Date().toISOString()}"`).join(',');
  return {
    decisionId: uuidv7(), service: 'ranking', servedAt: new Date().toISOString(), context: undefined, features, rowCount: 100, keyNames: ['item_id'],
    key: (row) => ids[row]!, groups: [{ features }], fragment: (row) => row, values: (at) => stored[ids[at]!]!, statuses: () => present, eventTimes: () => time,
    scoring: { model: 'bench_ranker', version: 'v1', explored: false, rows: ids.map((_, i) => ({ score: Math.random(), rank: i, position: i < 10 ? i : null, propensity: i < 10 ? 0.91 : null })) },
  };
}

function direct(served: ServedFragments, receivedAt: string, encoder: DecisionRecordEncoder): Buffer {
  const records = new RecordBuilder(300 * 1024);
  if (!encoder.start(served, receivedAt)!.rows(0, served.rowCount, records)) throw new Error('the direct encoding refused a bench decision');
  return records.finish();
}

function general(served: ServedFragments, receivedAt: string, validator: EventValidator): Buffer {
  const events = decisionEvents(spellOut(served), layout);
  const issues = new IssueSink(10);
  const latest = latestEventTimeOf(schema, receivedAt);
  const records = new RecordBuilder(300 * 1024);
  events.forEach((event, i) => {
    if (validator.validate(event, i, issues, latest) === undefined) throw new Error(`invalid: ${JSON.stringify(issues.issues)}`);
    event[RECEIVED_AT] = receivedAt;
    records.addText(JSON.stringify(event));
  });
  return records.finish();
}

async function main(): Promise<void> {
  const encoder = new DecisionRecordEncoder(layout, schema);
  const validator = new EventValidator(schema, () => decisionEventId('x', 0));
  const load = async () => (await readFile('/proc/loadavg', 'utf8')).split(' ').slice(0, 3).join(' ');
  process.stdout.write(`decision log encoding: ${decisions} decisions of 100 rows x 50 float features per round, best of ${rounds}; load ${await load()}\n`);
  const best = { direct: { cpu: Infinity, wall: Infinity }, general: { cpu: Infinity, wall: Infinity } };
  for (let round = 0; round < rounds; round++) {
    const served = Array.from({ length: 50 }, decision);
    const receivedAt = new Date().toISOString();
    if (!direct(served[0]!, receivedAt, encoder).equals(general(served[0]!, receivedAt, validator))) throw new Error('the two paths stored different bytes');
    for (const [name, run] of [['direct', () => direct(served[0]!, receivedAt, encoder)], ['general', () => general(served[0]!, receivedAt, validator)]] as const) {
      const work = name === 'direct' ? (d: ServedFragments) => direct(d, receivedAt, encoder) : (d: ServedFragments) => general(d, receivedAt, validator);
      run();
      const cpu = process.cpuUsage();
      const wall = performance.now();
      for (let i = 0; i < decisions; i++) work(served[i % served.length]!);
      const used = process.cpuUsage(cpu);
      best[name].cpu = Math.min(best[name].cpu, (used.user + used.system) / 1000 / decisions);
      best[name].wall = Math.min(best[name].wall, (performance.now() - wall) / decisions);
    }
  }
  process.stdout.write(`direct: ${best.direct.cpu.toFixed(3)} ms CPU, ${best.direct.wall.toFixed(3)} ms wall per decision\n`);
  process.stdout.write(`general: ${best.general.cpu.toFixed(3)} ms CPU, ${best.general.wall.toFixed(3)} ms wall per decision (${(best.general.cpu / best.direct.cpu).toFixed(1)}x the direct CPU)\n`);
  process.stdout.write(`the same bytes from both; load ${await load()}\n`);
}

main().catch((error: unknown) => {
  process.stderr.write(`decision log encoding bench failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exitCode = 1;
});
