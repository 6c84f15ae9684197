import { describe, expect, it } from 'vitest';
import { entity, eventStream } from '../index.ts';
import { DefinitionError } from '../core/errors.ts';
import { validateProject } from '../core/validation/validate-project.ts';
import { streamSchemasOf } from '../server/index.ts';

// A stream's limits on the events the log API takes (docs/collect-api.md, "Limits"): `maxLength` on
// string fields and `maxEventTimeAhead`, checked by validation and carried to the server's schema.

const user = entity({ name: 'user', joinKeys: { user_id: 'int64' } });

function issuesOf(...definitions: Parameters<typeof eventStream>[0][]) {
  try {
    validateProject([user, ...definitions.map(eventStream)].map((definition) => ({ definition })));
    return [];
  } catch (error) {
    if (!(error instanceof DefinitionError)) throw error;
    return error.issues.map((i) => ({ object: i.object, field: i.field, message: i.message }));
  }
}

describe('event stream limits', () => {
  it('carry a declared maxLength and maxEventTimeAhead to the spec and the server schema; absent, they stay absent (the defaults apply)', () => {
    const project = validateProject([user, eventStream({
      name: 'orders', entities: [user], timestampField: 'ts', eventIdField: 'order_id', retention: '30d', maxEventTimeAhead: '2h',
      fields: { order_id: { type: 'string', maxLength: 64 }, note: { type: 'string', nullable: true, maxLength: 1000 }, page: 'string' },
    }), eventStream({ name: 'plain', entities: [user], timestampField: 'ts', retention: '30d', fields: { page: 'string' } })].map((definition) => ({ definition })));
    expect(project.eventStreams.orders).toMatchObject({
      maxEventTimeAheadSeconds: 7200,
      fields: [{ name: 'order_id', type: 'string', nullable: false, maxLength: 64 }, { name: 'note', type: 'string', nullable: true, maxLength: 1000 }, { name: 'page', type: 'string', nullable: false }],
    });
    expect(Object.hasOwn(project.eventStreams.plain!, 'maxEventTimeAheadSeconds')).toBe(false);
    expect(Object.hasOwn(project.eventStreams.orders!.fields[2]!, 'maxLength')).toBe(false);
    const [orders, plain] = streamSchemasOf(project);
    expect(orders).toEqual({
      name: 'orders', keys: [{ name: 'user_id', type: 'int64' }], timestampField: 'ts', eventIdField: 'order_id', maxEventTimeAheadSeconds: 7200,
      fields: [{ name: 'order_id', type: 'string', nullable: false, maxLength: 64 }, { name: 'note', type: 'string', nullable: true, maxLength: 1000 }, { name: 'page', type: 'string', nullable: false }],
    });
    expect(plain).toEqual({ name: 'plain', keys: [{ name: 'user_id', type: 'int64' }], timestampField: 'ts', fields: [{ name: 'page', type: 'string', nullable: false }] });
  });

  it('refuse maxLength on a field that is not a string, out of range, or over 128 on the event id field, and maxEventTimeAhead on a stream loaded from a table', () => {
    const issues = issuesOf({
      name: 'bad', entities: [user], timestampField: 'ts', eventIdField: 'id', retention: '30d',
      fields: { id: { type: 'string', maxLength: 129 }, n: { type: 'int64', maxLength: 5 } },
    }, {
      name: 'shapes', entities: [user], timestampField: 'ts', retention: '30d', fields: { s: { type: 'string', maxLength: 0 }, t: { type: 'string', maxLength: 2.5 } },
    }, {
      name: 'pulled', entities: [user], timestampField: 'ts', retention: '30d', maxEventTimeAhead: '1h', fields: {},
      from: { table: 'raw.pulled', watermark: 'ts', lookback: '1h' },
    }, { name: 'zero', entities: [user], timestampField: 'ts', retention: '30d', maxEventTimeAhead: '0s', fields: {} });
    expect(issues.sort((a, b) => `${a.object} ${a.field}`.localeCompare(`${b.object} ${b.field}`))).toEqual([
      { object: 'bad', field: 'fields.id.maxLength', message: 'an event id is at most 128 characters; declare a maxLength of at most that, or none' },
      { object: 'bad', field: 'fields.n.maxLength', message: 'maxLength bounds string values, and this field is int64' },
      { object: 'pulled', field: 'maxEventTimeAhead', message: 'a stream loaded from a table receives no events over HTTP, which is what maxEventTimeAhead bounds; leave it out' },
      { object: 'shapes', field: 'fields.s.maxLength', message: 'expected a whole number from 1 to 16777216 (16 MiB), got 0' },
      { object: 'shapes', field: 'fields.t.maxLength', message: 'expected a whole number from 1 to 16777216 (16 MiB), got 2.5' },
      { object: 'zero', field: 'maxEventTimeAhead', message: 'a duration must be greater than zero' },
    ]);
  });
});
