import { ValidationError } from '@aaps/mpc-core';
import { describe, expect, it } from 'vitest';
import { check, issuesToError, MAX_ERROR_FIELDS, parse } from './check.js';
import * as s from './define.js';
import { toJsonSchema, toOpenApiComponents } from './emit.js';

const Label = s.record(s.string({ maxLength: 8 }), { maxProperties: 3 });
const Alert = s.named(
  'Alert',
  s.object({
    status: s.enumOf(['firing', 'resolved']),
    labels: Label,
    startsAt: s.string({ format: 'date-time' }),
    count: s.optional(s.integer({ minimum: 1 })),
    note: s.nullish(s.string()),
  }),
);
const Body = s.named(
  'Body',
  s.object(
    { version: s.literal('4'), alerts: s.array(Alert, { minItems: 1, maxItems: 2 }) },
    { unknownKeys: 'reject' },
  ),
);

function fieldsOf(fn: () => unknown): readonly string[] {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(ValidationError);
    if (e instanceof ValidationError) {
      expect(e.code).toBe('INVALID_ARGUMENT');
      return e.fields;
    }
  }
  throw new Error('expected a ValidationError');
}

describe('schema check', () => {
  const good = {
    version: '4',
    alerts: [
      { status: 'firing', labels: { a: 'x' }, startsAt: '2026-01-02T03:04:05.123456789+02:00', extra: 1 },
    ],
  };

  it('returns a typed copy holding only the named keys', () => {
    const v = parse(Body, good);
    expect(v.alerts[0]?.status).toBe('firing');
    expect(v.alerts[0]).not.toHaveProperty('extra');
    expect(v.alerts[0]?.count).toBeUndefined();
  });

  it('accepts null for nullish fields', () => {
    const v = parse(Body, { ...good, alerts: [{ ...good.alerts[0], note: null }] });
    expect(v.alerts[0]?.note).toBeNull();
  });

  it('gathers every problem with its dot path', () => {
    const fields = fieldsOf(() =>
      parse(Body, {
        version: '3',
        other: true,
        alerts: [
          {
            status: 'weird',
            labels: { 'app.kubernetes.io/name': 'way-too-long' },
            startsAt: 'yesterday',
            count: 0,
          },
          { labels: [] },
        ],
      }),
    );
    expect([...fields].sort()).toEqual(
      [
        'version',
        'other',
        'alerts[0].status',
        'alerts[0].labels["app.kubernetes.io/name"]',
        'alerts[0].startsAt',
        'alerts[0].count',
        'alerts[1].status',
        'alerts[1].labels',
        'alerts[1].startsAt',
      ].sort(),
    );
  });

  it('bounds arrays, maps and the root', () => {
    expect(fieldsOf(() => parse(Body, { version: '4', alerts: [] }))).toEqual(['alerts']);
    expect(
      fieldsOf(() => parse(Body, { version: '4', alerts: [good.alerts[0], good.alerts[0], good.alerts[0]] })),
    ).toEqual(['alerts']);
    expect(fieldsOf(() => parse(Label, { a: '1', b: '2', c: '3', d: '4' }))).toEqual(['$']);
    expect(fieldsOf(() => parse(Body, 'text'))).toEqual(['$']);
    expect(fieldsOf(() => parse(s.integer(), 1.5))).toEqual(['$']);
    expect(fieldsOf(() => parse(s.number(), Number.NaN))).toEqual(['$']);
  });

  it(`lists the first MAX_ERROR_FIELDS (${MAX_ERROR_FIELDS}) failing paths and says how many failed`, () => {
    const Many = s.array(s.object({ a: s.string(), b: s.string() }), { maxItems: 100 });
    const e = (() => {
      try {
        parse(
          Many,
          Array.from({ length: 60 }, () => ({})),
        );
      } catch (err) {
        return err as ValidationError;
      }
      throw new Error('expected a ValidationError');
    })();
    expect(e.fields).toHaveLength(MAX_ERROR_FIELDS);
    expect(e.fields.slice(0, 3)).toEqual(['[0].a', '[0].b', '[1].a']);
    expect(e.message).toContain('and 100 more (120 paths failed; fields lists the first 100)');
    // At the limit nothing is left out, and nothing is said of it.
    const exact = issuesToError(
      'x',
      Array.from({ length: MAX_ERROR_FIELDS }, (_, i) => ({ path: `p${i}`, message: 'bad' })),
    );
    expect(exact.fields).toHaveLength(MAX_ERROR_FIELDS);
    expect(exact.message).not.toContain('paths failed');
  });

  it('chooses a union branch with its selector and reports against that branch only', () => {
    const A = s.object({ kind: s.literal('A'), a: s.string() });
    const B = s.object({ kind: s.literal('B'), b: s.integer() });
    const U = s.union([A, B], (v) => (typeof v === 'object' && v !== null && 'b' in v ? 1 : 0), {
      expected: 'an A or a B',
    });
    expect(check(U, { kind: 'B', b: 2 })).toEqual({ ok: true, value: { kind: 'B', b: 2 } });
    const r = check(U, { kind: 'B', b: 'x' });
    expect(r.ok ? [] : r.issues.map((i) => i.path)).toEqual(['b']);
    const none = s.union([A], () => -1, { expected: 'an A' });
    expect(fieldsOf(() => parse(none, {}))).toEqual(['$']);
  });
});

describe('schema emit', () => {
  it('emits JSON Schema with bounds, required keys and nulls', () => {
    const js = toJsonSchema(Alert);
    expect(js).toMatchObject({
      type: 'object',
      required: ['status', 'labels', 'startsAt'],
      properties: {
        status: { type: 'string', enum: ['firing', 'resolved'] },
        labels: { type: 'object', maxProperties: 3, additionalProperties: { type: 'string', maxLength: 8 } },
        startsAt: { type: 'string', format: 'date-time' },
        count: { type: 'integer', minimum: 1 },
        note: { type: ['string', 'null'] },
      },
    });
  });

  it('hoists named schemas into OpenAPI components', () => {
    const c = toOpenApiComponents([Body]);
    expect(Object.keys(c)).toEqual(['Alert', 'Body']);
    expect(c['Body']).toMatchObject({
      additionalProperties: false,
      properties: { version: { const: '4' }, alerts: { items: { $ref: '#/components/schemas/Alert' } } },
    });
    expect(() => toOpenApiComponents([Label])).toThrow(ValidationError);
  });
});

describe('schema check on hostile keys', () => {
  it('keeps __proto__ as an ordinary key of maps and passed-through objects', () => {
    const body = JSON.parse('{"__proto__": "x", "a": "y"}');
    const v = parse(s.record(s.string()), body);
    expect(Object.getPrototypeOf(v)).toBe(Object.prototype);
    expect(Object.keys(v)).toEqual(['__proto__', 'a']);
    const p = parse(
      s.object({}, { unknownKeys: 'passthrough' }),
      JSON.parse('{"__proto__": {"polluted": true}}'),
    );
    expect(Object.getPrototypeOf(p)).toBe(Object.prototype);
    expect(({} as Record<string, unknown>)['polluted']).toBeUndefined();
  });
});
