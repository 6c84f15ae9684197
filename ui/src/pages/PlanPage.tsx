/**
 * The Plan page (`/plan`): what `flywheel plan` shows, read-only: the definitions diff, the schedules
 * on Temporal, retention changes, and the warehouse checks with their outcome (server/ui/api/plan-page.ts).
 */
import type { PlanPage as PlanData } from '../../../server/ui/api/plan-page.ts';
import { useApi } from '../api.ts';
import { HEALTH_COLORS, Loading, Section } from '../components/common.tsx';
import { formatAge, formatInstant } from '../format.ts';

const ACTION_WORDS = { add: 'add', change: 'change', remove: 'remove' } as const;
const SCHEDULE_WORDS = { create: 'create', update: 'update', delete: 'delete', unchanged: 'unchanged' } as const;
const OUTCOME_COLORS = { pass: HEALTH_COLORS.fresh, fail: HEALTH_COLORS.failing, skipped: HEALTH_COLORS.never } as const;
const KIND_WORDS = { source: 'source', eventStream: 'event stream', featureView: 'feature view' } as const;

type ScheduleEntry = PlanData['schedules'][number];

/** What a schedule runs: `training set daily`, `materialization of user_clicks`, … */
function scheduleTarget(entry: ScheduleEntry): string {
  if ('trainingSet' in entry && entry.trainingSet !== undefined) return `training set ${entry.trainingSet}`;
  if ('featureView' in entry && entry.featureView !== undefined) return `materialization of ${entry.featureView}`;
  if ('labels' in entry && entry.labels !== undefined) return `labels ${entry.labels}`;
  if ('loop' in entry && entry.loop !== undefined) return `loop ${entry.loop}`;
  if ('retention' in entry && entry.retention !== undefined) return `retention of ${entry.retention}`;
  return '–';
}

function summaryText(plan: PlanData): string {
  if (!plan.hasChanges) return 'No changes: the applied version matches the definitions.';
  const { add, change, remove, breaking } = plan.summary;
  const count = (action: ScheduleEntry['action']) => plan.schedules.filter((entry) => entry.action === action).length;
  const schedules = plan.schedules.some((entry) => entry.action !== 'unchanged')
    ? ` Schedules: ${count('create')} to create, ${count('update')} to update, ${count('delete')} to delete.`
    : '';
  return `${add} to add, ${change} to change, ${remove} to remove${breaking > 0 ? `, ${breaking} breaking` : ''}.${schedules}`;
}

export function PlanPage() {
  const loaded = useApi<PlanData>('/api/plan');
  return (
    <Loading loaded={loaded}>
      {(plan) => (
        <>
          <h1>Plan</h1>
          <p className="lead">
            What <code>flywheel apply</code> would change: the definitions folder now against {plan.applied ? `registry v${plan.applied.version} (applied ${formatInstant(plan.applied.appliedAt)})` : 'nothing applied yet'}.
            Read-only: apply from the command line.
          </p>
          <p data-testid="plan-summary">{summaryText(plan)}</p>
          {plan.checksSummary.fail > 0 && (
            <p className="error" role="alert" data-testid="checks-failed">
              {plan.checksSummary.fail} warehouse {plan.checksSummary.fail === 1 ? 'check fails' : 'checks fail'}: <code>flywheel plan</code> and <code>flywheel apply</code> stop until the warehouse matches the definitions.
            </p>
          )}
          {plan.changes.length > 0 && (
            <Section title="Changes">
              <table>
                <thead><tr><th scope="col">Action</th><th scope="col">Kind</th><th scope="col">Name</th><th scope="col">Breaking</th><th scope="col">Fields and reasons</th></tr></thead>
                <tbody>
                  {plan.changes.map((change) => (
                    <tr key={`${change.kind}/${change.name}`} className={`plan-${change.action}`} data-change={`${change.kind}/${change.name}`}>
                      <td>{ACTION_WORDS[change.action]}</td><td>{change.kind}</td><td><code>{change.name}</code></td><td>{change.breaking ? 'yes' : 'no'}</td>
                      <td>
                        {change.fields?.map((field) => (
                          <div key={field.path}><code>{field.path}</code>: {'before' in field ? <del>{JSON.stringify(field.before)}</del> : ''} {'after' in field ? <ins>{JSON.stringify(field.after)}</ins> : ''}</div>
                        ))}
                        {change.reasons.map((reason) => <div key={reason}>{reason}</div>)}
                      </td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </Section>
          )}
          <Section title="Schedules on Temporal">
            {plan.schedulesUnavailable ? (
              <p className="note" data-testid="schedules-note">Schedules are not compared: {plan.schedulesUnavailable}.</p>
            ) : !plan.schedulesOn ? (
              <p className="muted" data-testid="schedules-note">Neither the definitions nor the applied version schedule anything: Temporal is not asked.</p>
            ) : (
              <>
                <p className="muted">On {plan.schedulesOn.address}, namespace <code>{plan.schedulesOn.namespace}</code>.</p>
                <table>
                  <thead><tr><th scope="col">Action</th><th scope="col">Schedule</th><th scope="col">Runs</th><th scope="col">When</th><th scope="col">Changed fields</th></tr></thead>
                  <tbody>
                    {plan.schedules.map((entry) => (
                      <tr key={entry.id} data-schedule={entry.id}>
                        <td>{SCHEDULE_WORDS[entry.action]}</td><td><code>{entry.id}</code></td><td>{scheduleTarget(entry)}</td><td>{entry.spec ?? '–'}</td>
                        <td>{entry.fields?.map((field) => <div key={field.path}><code>{field.path}</code>: <del>{field.before}</del> <ins>{field.after}</ins></div>)}</td>
                      </tr>
                    ))}
                  </tbody>
                </table>
              </>
            )}
          </Section>
          {plan.retention && plan.retention.length > 0 && (
            <Section title="Retention changes">
              <table>
                <thead><tr><th scope="col">Stream</th><th scope="col">Retention</th><th scope="col">Cutoff</th><th scope="col">Stored events the next retention run deletes</th></tr></thead>
                <tbody>
                  {plan.retention.map((change) => (
                    <tr key={change.stream} data-retention={change.stream}>
                      <td><code>{change.stream}</code></td><td><del>{formatAge(change.beforeSeconds)}</del> <ins>{formatAge(change.afterSeconds)}</ins></td><td>{formatInstant(change.cutoff)}</td><td>{change.rows.toLocaleString('en-US')}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </Section>
          )}
          {plan.ingestSweep && (
            <Section title="Started by flywheel serve, not by apply">
              <p data-testid="ingest-sweep">
                The ingest sweep <code>{plan.ingestSweep.workflowId}</code>: every {formatAge(plan.ingestSweep.everySeconds)}, one long-lived workflow; it loads the closed segments whose ingestion did not start as they closed, and <code>from</code> tables by watermark.
                {plan.ingestSweep.retention.streams.length > 0 && <> The retention of {plan.ingestSweep.retention.streams.join(', ')}: every {formatAge(plan.ingestSweep.retention.everySeconds)} from the sweep (streams without a <code>retentionSchedule</code>).</>}
              </p>
            </Section>
          )}
          <Section title="Warehouse checks">
            <p className="muted" data-testid="checks-summary">
              {plan.checksSummary.pass} passed, {plan.checksSummary.fail} failed, {plan.checksSummary.skipped} not run: each source, each table an event stream loads, each feature view's transformation, against what the definitions declare.
            </p>
            <table>
              <thead><tr><th scope="col">Outcome</th><th scope="col">Kind</th><th scope="col">Name</th><th scope="col">Reads</th><th scope="col">Result</th></tr></thead>
              <tbody>
                {plan.warehouseChecks.map((check) => (
                  <tr key={`${check.kind}/${check.object}`} data-check={`${check.kind}/${check.object}`} data-outcome={check.outcome}>
                    <td><span className="badge" style={{ borderColor: OUTCOME_COLORS[check.outcome], color: OUTCOME_COLORS[check.outcome] }}>{check.outcome}</span></td>
                    <td>{KIND_WORDS[check.kind]}</td><td><code>{check.object}</code></td><td>{check.relation}</td><td>{check.message}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </Section>
        </>
      )}
    </Loading>
  );
}
