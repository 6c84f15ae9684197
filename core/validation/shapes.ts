import { z } from 'zod';
import { parseDuration } from '../duration.ts';
import { identifierProblem, qualifiedNameProblem } from '../identifiers.ts';
import { VALUE_TYPES } from '../types.ts';

/**
 * Shape checks for each kind of definition, one zod schema per kind. Cross-object rules (references,
 * join keys, column types) live in validate-project.ts.
 */

const identifier = z.string().superRefine((value, ctx) => {
  const problem = identifierProblem(value);
  if (problem) ctx.addIssue({ code: 'custom', message: `${JSON.stringify(value)} is not a valid identifier: ${problem}` });
});

/**
 * Names of objects that become warehouse objects (`flywheel.fv_<name>`, `flywheel.src_<name>`,
 * `run_ts_<name>_<run key>`) leave room for those prefixes and suffixes within 63 characters.
 */
const objectName = identifier.refine((value) => value.length <= 30, 'must be at most 30 characters (it prefixes warehouse object names)');

const qualifiedName = z.string().superRefine((value, ctx) => {
  const problem = qualifiedNameProblem(value);
  if (problem) ctx.addIssue({ code: 'custom', message: `${JSON.stringify(value)} is not a valid table name: ${problem}` });
});

const valueType = z.enum(VALUE_TYPES, {
  error: (issue) => `unknown type ${JSON.stringify(issue.input)}; expected one of ${VALUE_TYPES.join(', ')}`,
});

/** Names in one record (columns, keys, features) must differ in more than case: warehouses fold case. */
const distinctIgnoringCase = (record: Record<string, unknown>) =>
  new Set(Object.keys(record).map((k) => k.toLowerCase())).size === Object.keys(record).length;

const columns = z
  .record(identifier, valueType)
  .refine((record) => Object.keys(record).length > 0, 'declare at least one column')
  .refine(distinctIgnoringCase, 'column names may not differ only in case');

const tags = z.record(z.string(), z.string()).optional();

const reference = (what: string) =>
  z.string({ error: `expected a ${what} (the object or its name)` }).pipe(identifier);

const duration = z.union([z.string(), z.number()]).superRefine((value, ctx) => {
  const parsed = parseDuration(value);
  if ('error' in parsed) ctx.addIssue({ code: 'custom', message: parsed.error });
});

export const entityShape = z.strictObject({
  name: identifier,
  joinKeys: z.record(identifier, valueType).refine((keys) => Object.keys(keys).length > 0, 'declare at least one join key'),
  description: z.string().optional(),
});

export const sourceShape = z
  .strictObject({
    name: objectName,
    table: qualifiedName.optional(),
    query: z.string().min(1).optional(),
    parquet: z.string().min(1).optional(),
    timestampField: identifier,
    createdTimestampField: identifier.optional(),
    columns,
    description: z.string().optional(),
    owner: z.string().optional(),
    tags,
  })
  .superRefine((value, ctx) => {
    const given = (['table', 'query', 'parquet'] as const).filter((k) => value[k] !== undefined);
    if (given.length !== 1) {
      ctx.addIssue({
        code: 'custom',
        path: ['table'],
        message: given.length === 0 ? 'give one of table, query or parquet' : `give only one of table, query or parquet (got ${given.join(', ')})`,
      });
    }
  });

const featureObject = z.strictObject({ type: valueType, description: z.string().optional() });

/** A feature is a type name or `{ type, description }`; checked by form so errors name the real problem. */
const feature = z.unknown().transform((value, ctx) => {
  const result = (typeof value === 'string' ? valueType : featureObject).safeParse(value);
  if (result.success) return result.data;
  for (const issue of result.error.issues) ctx.addIssue({ code: 'custom', message: issue.message, path: issue.path });
  return z.NEVER;
});

export const featureViewShape = z.strictObject({
  name: objectName,
  entities: z.array(reference('entity')).min(1, 'declare at least one entity'),
  source: reference('source'),
  features: z.record(identifier, feature).refine((f) => Object.keys(f).length > 0, 'declare at least one feature'),
  transformation: z.string().min(1).optional(),
  ttl: duration.optional(),
  online: z.boolean().optional(),
  offline: z.boolean().optional(),
  owner: z.string().optional(),
  description: z.string().optional(),
  tags,
});

const selection = z.strictObject({
  view: reference('feature view'),
  features: z.array(identifier).min(1, 'select at least one feature').optional(),
});

export const featureServiceShape = z.strictObject({
  name: identifier,
  features: z.array(selection).min(1, 'select at least one feature view'),
  owner: z.string().optional(),
  description: z.string().optional(),
  tags,
});

export const trainingSetShape = z.strictObject({
  name: objectName,
  spine: reference('source'),
  features: z.union([z.strictObject({ service: reference('feature service') }), z.strictObject({ views: z.array(selection).min(1) })]),
  output: z
    .strictObject({
      format: z.literal('parquet').optional(),
      path: z
        .string()
        .regex(/^[A-Za-z0-9_\-./]+$/, 'use letters, digits, "_", "-", "." and "/" only')
        .refine((p) => !p.split('/').includes('..') && !p.startsWith('/'), 'must be a relative path without ".."')
        .optional(),
    })
    .optional(),
  owner: z.string().optional(),
  description: z.string().optional(),
  tags,
});
