import type { ProjectProposal, ProposedSource } from './propose-project.ts';

/**
 * The files of a new project, as text, from a proposal: package.json, flywheel.config.ts, one
 * definitions file per kind, .gitignore and a README with the next commands. Pure, so a test can
 * read what init writes without running it.
 */
export interface RenderOptions {
  readonly project: string;
  /** package.json `name`. */
  readonly packageName: string;
  /** The `flywheel` dependency: `^0.1.0`, or a spec such as `file:../flywheel-0.1.0.tgz`. */
  readonly flywheelSpec: string;
  /** The `typescript` dev dependency, for `npm run typecheck`. */
  readonly typescriptSpec: string;
  /** The UTC days the training set's spine spans, [first, last] (YYYY-MM-DD), for the README's first run; undefined when empty. */
  readonly spineDays: readonly [string, string] | undefined;
  /** A key value present in the data, for the README's serving call. */
  readonly exampleKey: string | number | undefined;
  /** Tables init loaded into the local warehouse, and the statement that loads each again (run from the project folder). */
  readonly loaded: readonly { readonly table: string; readonly from: string; readonly statement: string }[];
}

/** Definitions, keyed by path relative to the project folder. */
export function renderProject(proposal: ProjectProposal, options: RenderOptions): Record<string, string> {
  const names = new VariableNames();
  const entityVar = names.take(proposal.entity.name, 'Entity');
  const sourceVars = new Map([...proposal.sources, proposal.trainingSet.spine].map((s) => [s.name, names.take(s.name, 'Source')]));
  const viewVars = new Map(proposal.featureViews.map((v) => [v.name, names.take(v.name, 'View')]));
  const serviceVar = names.take(proposal.service.name, 'Service');
  const trainingVar = names.take(proposal.trainingSet.name, 'TrainingSet');
  const { entity } = proposal;

  const entities = `/** What the features describe: one ${entity.name} per ${entity.key}. */
import { entity } from 'flywheel';

export const ${entityVar} = entity({ name: ${str(entity.name)}, joinKeys: { ${entity.key}: ${str(entity.type)} } });
`;

  const sources = `/**
 * Where rows come from. A \`parquet\` source reads its files in place (the path is relative to the
 * project; a glob picks up new files at the next run); a \`table\` source reads a table of the
 * profile's warehouse (.flywheel/warehouse.duckdb in the local profile).
 */
import { source } from 'flywheel';
${[...proposal.sources.map((s) => renderSource(s, sourceVars.get(s.name)!, `From ${s.label}.`)),
    renderSource(proposal.trainingSet.spine, sourceVars.get(proposal.trainingSet.spine.name)!,
      `The training set's rows: one per row of ${proposal.trainingSet.spine.label}, with only the key and the time, since spine columns and feature names must differ. Declare your label column here.`)].join('')}`;

  const viewImports = [...new Set(proposal.featureViews.map((v) => sourceVars.get(v.source)!))].sort().join(', ');
  const features = `/** Feature views: each ${entity.name}'s latest values, as of any instant (point in time) and online after \`flywheel materialize\`. */
import { featureView } from 'flywheel';
import { ${entityVar} } from './entities.ts';
import { ${viewImports} } from './sources.ts';
${proposal.featureViews.map((v) => `
export const ${viewVars.get(v.name)!} = featureView({
  name: ${str(v.name)},
  entities: [${entityVar}],
  source: ${sourceVars.get(v.source)!},
  features: { ${v.features.map((f) => `${f.name}: ${str(f.type)}`).join(', ')} },
  // Written to the online store by \`flywheel materialize ${v.name}\`; add \`ttl: '7d'\` to serve null for older values.
  online: true,
});
`).join('')}`;

  const services = `/** What a model reads, online (POST /v1/features) and offline (training sets). */
import { featureService } from 'flywheel';
import { ${[...viewVars.values()].join(', ')} } from './features.ts';

export const ${serviceVar} = featureService({ name: ${str(proposal.service.name)}, features: [${[...viewVars.values()].join(', ')}] });
`;

  const spineVar = sourceVars.get(proposal.trainingSet.spine.name)!;
  const training = `/** The point-in-time training set: for each spine row, the features as they were at its time. */
import { trainingSet } from 'flywheel';
import { ${serviceVar} } from './services.ts';
import { ${spineVar} } from './sources.ts';

export const ${trainingVar} = trainingSet({ name: ${str(proposal.trainingSet.name)}, spine: ${spineVar}, features: ${serviceVar} });
`;

  return {
    'package.json': `${JSON.stringify({
      name: options.packageName, private: true, type: 'module',
      scripts: { validate: 'flywheel validate', typecheck: 'tsc -p .', plan: 'flywheel plan', apply: 'flywheel apply' },
      dependencies: { flywheel: options.flywheelSpec },
      devDependencies: { typescript: options.typescriptSpec },
    }, null, 2)}\n`,
    'tsconfig.json': TSCONFIG,
    'flywheel.config.ts': renderConfig(options.project),
    'definitions/entities.ts': entities,
    'definitions/sources.ts': sources,
    'definitions/features.ts': features,
    'definitions/services.ts': services,
    'definitions/training.ts': training,
    '.gitignore': '# Local state: the DuckDB warehouse, objects (training sets), the online store, the log segments.\n.flywheel/\nnode_modules/\n',
    'README.md': renderReadme(proposal, options),
  };
}

/**
 * For editors and `npm run typecheck` only: Flywheel loads the .ts files itself. Definitions import
 * each other with their .ts extensions, as Node's type stripping and tsx need.
 */
const TSCONFIG = `${JSON.stringify({
  compilerOptions: {
    target: 'ES2022', module: 'NodeNext', moduleResolution: 'NodeNext',
    allowImportingTsExtensions: true, noEmit: true, strict: true, skipLibCheck: true,
  },
  include: ['flywheel.config.ts', 'definitions'],
}, null, 2)}\n`;

function renderConfig(project: string): string {
  return `/**
 * The project's configuration. \`local\` runs everything on this machine: DuckDB at
 * .flywheel/warehouse.duckdb, objects (training sets) under .flywheel/objects, the online store in
 * .flywheel/online.sqlite, Temporal at localhost:7233 (\`npx flywheel dev\` starts one). Its options:
 * localProfile({ stateDir, temporalAddress, taskQueue }). Add a profile per environment
 * (Snowflake, S3, Redis, Temporal Cloud) beside it, naming the environment variables that hold secrets.
 */
import { defineConfig, localProfile } from 'flywheel';

export default defineConfig({
  project: ${str(project)},
  definitions: './definitions',
  defaultProfile: 'local',
  profiles: {
    local: localProfile(),
  },
});
`;
}

function renderSource(source: ProposedSource, variable: string, doc: string): string {
  const where = source.location.kind === 'parquet' ? `parquet: ${str(source.location.path)}` : `table: ${str(source.location.table)}`;
  return `
/** ${doc} */
export const ${variable} = source({
  name: ${str(source.name)},
  ${where},
  timestampField: ${str(source.timestampField)},
  columns: { ${source.columns.map((c) => `${c.name}: ${str(c.type)}`).join(', ')} },
});
`;
}

function renderReadme(proposal: ProjectProposal, options: RenderOptions): string {
  const { entity, service, trainingSet, featureViews } = proposal;
  const [first, last] = options.spineDays ?? ['2026-01-01', '2026-01-02'];
  const to = nextDay(last);
  const key = options.exampleKey === undefined ? (entity.type === 'string' ? '"…"' : '1') : JSON.stringify(options.exampleKey);
  const { loaded } = options;
  return `# ${options.project}

A Flywheel project. \`flywheel init\` wrote it; every file is yours to change.

\`\`\`
flywheel.config.ts     the project "${options.project}" and its local profile
definitions/
  entities.ts          ${entity.name} (key ${entity.key})
  sources.ts           ${[...proposal.sources, trainingSet.spine].map((s) => s.name).join(', ')}
  features.ts          ${featureViews.map((v) => v.name).join(', ')}
  services.ts          ${service.name}
  training.ts          ${trainingSet.name}
\`\`\`

## Next commands

\`\`\`sh
npm install
npx flywheel validate    # the definitions only (no warehouse, no Temporal): for CI
npm run typecheck        # the definitions' types (tsc), as your editor shows them
\`\`\`

In another terminal, and keep it running: the Temporal dev server (Web UI on http://localhost:8233),
a worker, and the API server on :8080, which takes the token \`mytoken\`:

\`\`\`sh
FLYWHEEL_TOKENS="mytoken=read" npx flywheel dev
\`\`\`

Then:

\`\`\`sh
npx flywheel plan        # what apply would create
npx flywheel apply
npx flywheel run training-set ${trainingSet.name} --from ${first} --to ${to}
npx flywheel datasets show ${trainingSet.name}
${featureViews.map((v) => `npx flywheel materialize ${v.name}`).join('\n')}
curl -s http://127.0.0.1:8080/v1/features -H "Authorization: Bearer mytoken" -H 'Content-Type: application/json' \\
  -d '{"service": "${service.name}", "entities": [{"${entity.key}": ${key}}]}'
\`\`\`

The last line reads ${entity.name} ${key}'s features; every entity object needs the key \`${entity.key}\`.
${loaded.length > 0 ? `
## Data loaded at init

${loaded.map((l) => `- the table \`${l.table}\`, from ${l.from}`).join('\n')}

These tables are in .flywheel/warehouse.duckdb, which git ignores. To load them again (on another
machine, or after the data changed), from this folder with the DuckDB CLI, while no worker runs:

\`\`\`sh
duckdb .flywheel/warehouse.duckdb <<'SQL'
${loaded.map((l) => `${l.statement};`).join('\n')}
SQL
\`\`\`
` : ''}
See Flywheel's docs/your-own-project.md for the config options, other ways to load data, and the
first training set and serving call in detail.
`;
}

function nextDay(day: string): string {
  const date = new Date(`${day}T00:00:00Z`);
  date.setUTCDate(date.getUTCDate() + 1);
  return date.toISOString().slice(0, 10);
}

/** A single-quoted TypeScript string literal. */
function str(value: string): string {
  return `'${value.replaceAll('\\', '\\\\').replaceAll("'", "\\'")}'`;
}

const RESERVED = new Set(('break case catch class const continue debugger default delete do else enum export extends false finally for function if import in ' +
  'instanceof new null return super switch this throw true try typeof var void while with yield let static implements interface package private protected public await').split(' '));

/** JavaScript names for the definitions: camelCase of the object's name, unique across the project's files. */
class VariableNames {
  private readonly taken = new Set<string>(['entity', 'source', 'featureView', 'featureService', 'trainingSet']);
  take(name: string, kindSuffix: string): string {
    const camel = name.replace(/_+([a-z0-9])/g, (_, c: string) => c.toUpperCase()).replace(/_/g, '');
    let variable = RESERVED.has(camel) || this.taken.has(camel) ? `${camel}${kindSuffix}` : camel;
    for (let n = 2; this.taken.has(variable); n++) variable = `${camel}${kindSuffix}${n}`;
    this.taken.add(variable);
    return variable;
  }
}
