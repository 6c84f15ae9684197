import type { FeatureSelection, FeatureViewSpec, ProjectSpec } from '../../core/definitions/specs.ts';
import type { ValueType } from '../../core/types.ts';

/**
 * What serving needs of a feature service, worked out once when the server starts (pure): the
 * output columns in the service's order, the join keys its rows must carry, the views to read and
 * how each selection's values are laid out. The request path then only looks things up.
 *
 * Output columns are the bare feature names, as in training sets (core/training-set/): validation
 * keeps them unique within a service, so a model sees the same names online and offline.
 *
 * @example
 * const targets = resolveServices(project);
 * const fraud = targets.get('fraud_model'); // { kind: 'target', features: ['txn_count_7d', ...], keys: [...], views: [...], groups: [...] }
 */

/** A join key rows must carry, with its entity's declared type. */
export interface ServingKey {
  readonly name: string;
  readonly type: ValueType;
}

/** A feature view the target reads: one online-store key per distinct value of its join keys. */
export interface ServingView {
  readonly view: string;
  /** Its join keys in entity order, as indexes into ServingTarget.keys: the online key's parts. */
  readonly keyIndexes: readonly number[];
  readonly ttlSeconds: number | null;
  /** Its groups (indexes into ServingTarget.groups), in output order. */
  readonly groups: readonly number[];
}

/**
 * A run of consecutive output columns from one view (a selection of the service). The response's
 * JSON for it is assembled from whole fragments; those that never change are built here.
 */
export interface ServingGroup {
  /** Index into ServingTarget.views. */
  readonly viewIndex: number;
  /** Its position among its view's groups (ServingView.groups). */
  readonly indexInView: number;
  /** The view's features selected, in output order. */
  readonly features: readonly string[];
  /** `null,null,…`: one per feature. */
  readonly nulls: string;
  /** `"present","present",…`, and the same for `missing` and `expired`. */
  readonly present: string;
  readonly missing: string;
  readonly expired: string;
}

/** A feature service (or a list of feature references) ready to serve. */
export interface ServingTarget {
  readonly kind: 'target';
  /** The service's name; undefined for a list of feature references. */
  readonly service: string | undefined;
  /** The output columns, in order. */
  readonly features: readonly string[];
  /** `features` as JSON text, for the response. */
  readonly featuresJson: string;
  /** Every join key of every view, each once, in order of first use. */
  readonly keys: readonly ServingKey[];
  /** Join key name → index into `keys`. */
  readonly keyIndex: ReadonlyMap<string, number>;
  /** `keys` named for messages: `user_id (int64), item_id (string)`. */
  readonly keysText: string;
  readonly views: readonly ServingView[];
  readonly groups: readonly ServingGroup[];
}

/** A service that exists but cannot be served, and why (said in each answer for it). */
export interface UnservableTarget {
  readonly kind: 'unservable';
  readonly service: string;
  readonly problem: string;
}

export type ResolvedService = ServingTarget | UnservableTarget;

/** Online-store keys are integers and strings, so entities keyed by these cannot be served. */
const UNSERVABLE_KEY_TYPES: ReadonlySet<ValueType> = new Set(['bool', 'float32', 'float64']);

/** Every feature service of the project, by name. */
export function resolveServices(project: ProjectSpec): Map<string, ResolvedService> {
  const resolved = new Map<string, ResolvedService>();
  for (const service of Object.values(project.featureServices)) {
    const target = resolveSelections(project, service.features, service.name);
    resolved.set(service.name, typeof target === 'string' ? { kind: 'unservable', service: service.name, problem: target } : target);
  }
  return resolved;
}

/** Thrown by resolveFeatureList for a reference it cannot follow; `reference` is the one at fault. */
export class FeatureReferenceError extends Error {
  constructor(
    readonly reference: string,
    message: string,
  ) {
    super(message);
  }
}

/**
 * A list of `view:feature` references as a target of its own, in the order given; consecutive
 * features of one view form one group. Throws FeatureReferenceError.
 *
 * @example resolveFeatureList(project, ['user_stats:txn_count_7d', 'merchant_risk:fraud_rate_30d'])
 */
export function resolveFeatureList(project: ProjectSpec, references: readonly string[]): ServingTarget {
  const selections: { view: string; features: string[] }[] = [];
  const seen = new Map<string, string>();
  for (const reference of references) {
    const colon = reference.indexOf(':');
    if (colon <= 0 || colon === reference.length - 1 || reference.indexOf(':', colon + 1) !== -1) {
      throw new FeatureReferenceError(reference, `a feature reference is "<view>:<feature>", got ${JSON.stringify(reference)}`);
    }
    const viewName = reference.slice(0, colon);
    const feature = reference.slice(colon + 1);
    const view = project.featureViews[viewName];
    if (!view) throw new FeatureReferenceError(reference, `no feature view "${viewName}"${known('feature views', Object.keys(project.featureViews))}`);
    if (!view.features.some((f) => f.name === feature)) {
      throw new FeatureReferenceError(reference, `feature view "${viewName}" has no feature "${feature}"${known('its features', view.features.map((f) => f.name))}`);
    }
    const other = seen.get(feature);
    if (other !== undefined) {
      throw new FeatureReferenceError(
        reference,
        other === viewName ? `"${reference}" is listed twice` : `feature "${feature}" is selected from both "${other}" and "${viewName}"; output columns must be unique`,
      );
    }
    seen.set(feature, viewName);
    const last = selections.at(-1);
    if (last?.view === viewName) last.features.push(feature);
    else selections.push({ view: viewName, features: [feature] });
  }
  const target = resolveSelections(project, selections, undefined);
  if (typeof target === 'string') throw new FeatureReferenceError(references.join(', '), target);
  return target;
}

/** The target of some selections, or why it cannot be served. */
function resolveSelections(project: ProjectSpec, selections: readonly FeatureSelection[], service: string | undefined): ServingTarget | string {
  const keys: ServingKey[] = [];
  const keyIndex = new Map<string, number>();
  const keyOwner = new Map<string, string>();
  const views: (ServingView & { groups: number[] })[] = [];
  const viewIndex = new Map<string, number>();
  const groups: ServingGroup[] = [];
  const features: string[] = [];

  for (const selection of selections) {
    const view: FeatureViewSpec | undefined = project.featureViews[selection.view];
    if (!view) return `it refers to feature view "${selection.view}", which the project does not define`;
    if (!view.online) return `feature view "${view.name}" is not online (declared with \`online: false\`), so no values are ever materialized for it`;
    let index = viewIndex.get(view.name);
    if (index === undefined) {
      const keyIndexes: number[] = [];
      for (const entityName of view.entities) {
        const entity = project.entities[entityName];
        if (!entity) return `feature view "${view.name}" refers to entity "${entityName}", which the project does not define`;
        for (const key of entity.joinKeys) {
          if (UNSERVABLE_KEY_TYPES.has(key.type)) {
            return `entity "${entityName}" has join key ${key.name} of type ${key.type}; online keys are integers, strings, dates or timestamps`;
          }
          let at = keyIndex.get(key.name);
          if (at === undefined) {
            at = keys.length;
            keys.push({ name: key.name, type: key.type });
            keyIndex.set(key.name, at);
            keyOwner.set(key.name, entityName);
          } else if (keys[at]!.type !== key.type) {
            return `join key ${key.name} is ${keys[at]!.type} in entity "${keyOwner.get(key.name)}" but ${key.type} in entity "${entityName}"; one request row cannot hold both`;
          }
          if (!keyIndexes.includes(at)) keyIndexes.push(at);
        }
      }
      index = views.length;
      views.push({ view: view.name, keyIndexes, ttlSeconds: view.ttlSeconds, groups: [] });
      viewIndex.set(view.name, index);
    }
    const selected = [...selection.features];
    if (selected.length === 0) continue;
    const inView = views[index]!.groups;
    inView.push(groups.length);
    groups.push({
      viewIndex: index,
      indexInView: inView.length - 1,
      features: Object.freeze(selected),
      nulls: repeatJoined('null', selected.length),
      present: repeatJoined('"present"', selected.length),
      missing: repeatJoined('"missing"', selected.length),
      expired: repeatJoined('"expired"', selected.length),
    });
    features.push(...selected);
  }

  return {
    kind: 'target', service, features, featuresJson: JSON.stringify(features), keys, keyIndex,
    keysText: keys.map((k) => `${k.name} (${k.type})`).join(', '), views, groups,
  };
}

/** `text,text,…`, `count` times. */
export function repeatJoined(text: string, count: number): string {
  return count <= 0 ? '' : `${text},`.repeat(count - 1) + text;
}

function known(what: string, names: readonly string[]): string {
  if (names.length === 0) return '';
  const shown = names.slice(0, 20).join(', ');
  return `; ${what}: ${shown}${names.length > 20 ? `, … (${names.length} in all)` : ''}`;
}
