import type { z } from 'zod';
import type { DefinitionKind, FeatureServiceSpec, ModelArtifactSpec, ModelInputSpec, ModelSpec, ScheduleSpec, SourceSpec } from '../definitions/specs.ts';
import type { modelShape } from './shapes.ts';
import { FilterExpressionError, parseFilterExpression } from '../decide/filter-expression.ts';

export type ModelShaped = z.output<typeof modelShape>;

export interface ModelContext {
  readonly featureServices: Readonly<Record<string, FeatureServiceSpec>>;
  readonly sources: Readonly<Record<string, SourceSpec>>;
  /** The defining file, relative to the project root (a TypeScript artifact's module is relative to it). */
  readonly file: string | undefined;
  readonly suggest: (name: string, candidates: readonly string[]) => string;
  readonly isFailed: (kind: DefinitionKind, name: string) => boolean;
  readonly schedule: (input: NonNullable<NonNullable<ModelShaped['batch']>['schedule']>) => ScheduleSpec;
}

/** Default rows per batch-scoring chunk. */
export const DEFAULT_SCORING_CHUNK_SIZE = 10_000;

/**
 * The spec of a model whose shape is valid, reporting what does not fit the project: an unknown
 * service, an input the service does not serve (naming the features it does), an input named twice,
 * an unknown batch spine or one missing a request input's column.
 */
export function modelSpecOf(name: string, input: ModelShaped, context: ModelContext, report: (field: string, message: string) => void): ModelSpec {
  const service = context.featureServices[input.service];
  if (!service && !context.isFailed('featureService', input.service)) {
    report('service', `unknown feature service "${input.service}"${context.suggest(input.service, Object.keys(context.featureServices))}`);
  }
  const served = service ? servedFeatures(service) : undefined;
  const inputs: ModelInputSpec[] = input.inputs.map((entry) => (typeof entry === 'string' ? { feature: entry } : { request: entry.request }));
  const seen = new Set<string>();
  inputs.forEach((entry, index) => {
    const inputName = modelInputName(entry);
    if (seen.has(inputName)) report(`inputs.${index}`, `input "${inputName}" is listed twice; each input is one column of the model`);
    seen.add(inputName);
    if ('feature' in entry && served && !served.includes(entry.feature)) {
      report(`inputs.${index}`, `model "${name}" input "${entry.feature}" is not a feature of feature service "${input.service}"; the service serves ${served.join(', ')}${closest(entry.feature, served, context)}. A field of the request is written { request: "${entry.feature}" }`);
    }
  });
  // Filters (POST /v1/decide) read the service's features and the request inputs; checked here so a request never meets a bad one.
  for (const [filter, text] of Object.entries(input.filters ?? {})) {
    try {
      const parsed = parseFilterExpression(text);
      const readable = [...(served ?? []), ...inputs.flatMap((entry) => ('request' in entry ? [entry.request] : []))];
      for (const feature of parsed.features) {
        if (served && !readable.includes(feature)) {
          report(`filters.${filter}`, `filter "${filter}" reads "${feature}", which is neither a feature of feature service "${input.service}" nor a request input of the model; it can read ${readable.join(', ')}`);
        }
      }
    } catch (error) {
      if (!(error instanceof FilterExpressionError)) throw error;
      report(`filters.${filter}`, error.message);
    }
  }
  let batch: ModelSpec['batch'];
  if (input.batch) {
    const spine = context.sources[input.batch.spine];
    if (!spine && !context.isFailed('source', input.batch.spine)) {
      report('batch.spine', `unknown source "${input.batch.spine}"${context.suggest(input.batch.spine, Object.keys(context.sources))}`);
    }
    if (spine) {
      const columns = spine.columns.map((c) => c.name);
      for (const entry of inputs) {
        if ('request' in entry && !columns.includes(entry.request)) {
          report('batch.spine', `request input "${entry.request}" is not a column of spine source "${spine.name}" (its columns: ${columns.join(', ')}); batch scoring reads request inputs from the spine`);
        }
      }
    }
    batch = {
      spine: input.batch.spine,
      chunkSize: input.batch.chunkSize ?? DEFAULT_SCORING_CHUNK_SIZE,
      ...(input.batch.schedule ? { schedule: context.schedule(input.batch.schedule) } : {}),
    };
  }
  const artifact: ModelArtifactSpec = input.artifact.format === 'onnx'
    ? { format: 'onnx' }
    : { format: 'typescript', module: joinRelative(context.file, input.artifact.module), export: input.artifact.export ?? 'score' };
  return {
    kind: 'model', name, service: input.service, inputs, output: input.output, artifact, tags: input.tags ?? {},
    ...(batch ? { batch } : {}),
    ...(input.filters !== undefined ? { filters: input.filters } : {}),
    ...(input.coldStart !== undefined ? { coldStart: input.coldStart } : {}),
    ...(input.owner !== undefined ? { owner: input.owner } : {}),
    ...(input.description !== undefined ? { description: input.description } : {}),
  };
}

/** The name an input has in a scored row: the feature's name or the request field's. */
export function modelInputName(entry: ModelInputSpec): string {
  return 'feature' in entry ? entry.feature : entry.request;
}

/** Every feature a service serves, in its order. */
export function servedFeatures(service: FeatureServiceSpec): string[] {
  return service.features.flatMap((selection) => selection.features);
}

function closest(name: string, served: readonly string[], context: ModelContext): string {
  const hint = context.suggest(name, served);
  return hint.startsWith(' (did you mean') ? hint : '';
}

/** `definitions/models.ts` + `./ranker.ts` → `definitions/ranker.ts` (posix, no Node built-ins in core). */
function joinRelative(file: string | undefined, module: string): string {
  const base = file === undefined ? [] : file.split(/[\\/]/).slice(0, -1);
  const parts = module.startsWith('/') ? [] : [...base];
  for (const segment of module.split('/')) {
    if (segment === '' || segment === '.') continue;
    if (segment === '..' && parts.length > 0 && parts.at(-1) !== '..') parts.pop();
    else parts.push(segment);
  }
  return (module.startsWith('/') ? '/' : '') + parts.join('/');
}
