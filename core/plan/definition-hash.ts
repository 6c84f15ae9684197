import { createHash } from 'node:crypto';
import type { DefinitionSpec, ProjectSpec } from '../definitions/specs.ts';

/**
 * JSON with object keys sorted at every level (array order kept, undefined values dropped), so two
 * specs that mean the same thing print the same text however their objects were built.
 */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(sortKeys(value));
}

/** The sha256 (hex) of a spec's canonical JSON: stored with each registry version and in run manifests. */
export function definitionHash(spec: ProjectSpec | DefinitionSpec): string {
  return createHash('sha256').update(canonicalJson('kind' in spec ? spec : withoutEmptyLaterCollections(spec))).digest('hex');
}

/**
 * Collections added to ProjectSpec after its first release. A project's hash leaves them out while
 * they are empty, so a project that declares none of the new kind hashes as it did before the kind
 * existed (registries and manifests store these hashes).
 */
const LATER_COLLECTIONS = ['eventStreams', 'labels', 'loops', 'models'] as const satisfies readonly (keyof ProjectSpec)[];

function withoutEmptyLaterCollections(spec: ProjectSpec): Partial<ProjectSpec> {
  const empty = new Set<string>(LATER_COLLECTIONS.filter((collection) => Object.keys(spec[collection] ?? {}).length === 0));
  return Object.fromEntries(Object.entries(spec).filter(([collection]) => !empty.has(collection)));
}

function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(
      Object.keys(value)
        .sort()
        .map((key) => [key, sortKeys((value as Record<string, unknown>)[key])]),
    );
  }
  return value;
}
