import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isAapsError } from '../errors.js';
import { canonicalize, canonicalizeEnvelope } from './canonical.js';

/**
 * The JCS law for plain JSON values, written the plainest way: members sorted by UTF-16 code
 * units with an explicit comparator (an object literal cannot hold them in that order: integer-like
 * keys always enumerate first), primitives as JSON.stringify writes them, -0 as 0.
 */
function reference(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(reference).join(',')}]`;
  if (v !== null && typeof v === 'object') {
    const members = Object.entries(v)
      .filter(([, x]) => x !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${members.map(([k, x]) => `${JSON.stringify(k)}:${reference(x)}`).join(',')}}`;
  }
  return Object.is(v, -0) ? '0' : JSON.stringify(v);
}

/**
 * JSON values a signature can cover. fast-check makes members named `__proto__` now and then
 * (JSON.parse keeps them as own members); canonicalize refuses them (the test below says so).
 */
const json = fc.jsonValue().filter((v) => !JSON.stringify(v).includes('"__proto__":'));
const key = fc.string().filter((k) => k !== '__proto__');

function errorOf(f: () => unknown): unknown {
  try {
    f();
  } catch (e) {
    return e;
  }
  throw new Error('expected a throw');
}

describe('canonicalize (RFC 8785)', () => {
  it('is JSON.stringify with keys sorted by UTF-16 code units, and round-trips', () => {
    fc.assert(
      fc.property(json, (v) => {
        const s = canonicalize(v);
        expect(s).toBe(reference(v));
        expect(canonicalize(JSON.parse(s))).toBe(s);
      }),
    );
  });

  it('does not depend on key insertion order', () => {
    fc.assert(
      fc.property(fc.dictionary(key, json, { maxKeys: 8 }), (o) => {
        const reversed = Object.fromEntries(Object.entries(o).reverse());
        expect(canonicalize(reversed)).toBe(canonicalize(o));
      }),
    );
  });

  it('RFC 8785 examples: numbers, key order by code units, -0, undefined members dropped', () => {
    expect(canonicalize({ b: 1e21, a: [1.5, -0, 1e-7], '\u20ac': 'x', '\r': 'y', z: undefined })).toBe(
      '{"\\r":"y","a":[1.5,0,1e-7],"b":1e+21,"€":"x"}',
    );
  });

  it('names the path of a value JSON cannot carry', () => {
    const cases: [unknown, string][] = [
      [{ a: [1, { b: Number.NaN }] }, '$.a[1].b'],
      [{ a: [undefined] }, '$.a[0]'],
      [{ k: new Uint8Array(2) }, '$.k'],
      [{ f: () => 1 }, '$.f'],
      [[1n], '$[0]'],
    ];
    for (const [value, path] of cases) {
      const e = errorOf(() => canonicalize(value));
      expect(isAapsError(e) && e.code).toBe('INVALID_ARGUMENT');
      expect((e as { fields: string[] }).fields).toEqual([path]);
    }
  });

  it('refuses what no store or wire keeps: lone surrogates (I-JSON) and __proto__ members, naming them', () => {
    const cases: [unknown, string, RegExp][] = [
      [{ a: ['x', 'lone \ud800 surrogate'] }, '$.a[1]', /lone surrogate/],
      [{ a: '\udc00' }, '$.a', /lone surrogate/],
      [JSON.parse('{"m":{"\\udbff":1}}'), '$.m["\\udbff"]', /member name with a lone surrogate/],
      [JSON.parse('{"m":{"__proto__":{"x":1}}}'), '$.m["__proto__"]', /__proto__/],
    ];
    for (const [value, path, why] of cases) {
      for (const f of [() => canonicalize(value), () => canonicalizeEnvelope({ meta: {}, payload: value })]) {
        const e = errorOf(f);
        expect(isAapsError(e) && e.code).toBe('INVALID_ARGUMENT');
        expect((e as Error).message).toMatch(why);
        const shown = (e as { fields: string[] }).fields[0]!;
        expect(shown.endsWith(path.slice(1))).toBe(true);
      }
    }
    // A surrogate pair is one well-formed code point: taken as JSON.stringify writes it.
    expect(canonicalize({ a: '\ud83d\ude00' })).toBe('{"a":"\ud83d\ude00"}');
    expect(canonicalize(JSON.parse('{"\\ud83d\\ude00":1}'))).toBe('{"\ud83d\ude00":1}');
  });

  it('refuses nesting deeper than 64 levels, and takes 64', () => {
    const nest = (n: number): unknown => (n === 0 ? 1 : [nest(n - 1)]);
    expect(canonicalize(nest(64))).toBe(`${'['.repeat(64)}1${']'.repeat(64)}`);
    const e = errorOf(() => canonicalize(nest(65)));
    expect(isAapsError(e) && e.code).toBe('INVALID_ARGUMENT');
  });
});

describe('canonicalize: values already in canonical order', () => {
  it('takes them as JSON.stringify writes them, and anything else the general way', () => {
    // Sorted, parsed from canonical JSON: the fast path.
    fc.assert(
      fc.property(json, (v) => {
        const s = canonicalize(v);
        expect(canonicalize(JSON.parse(s))).toBe(reference(JSON.parse(s)));
      }),
    );
    // Objects JSON.stringify would write differently from RFC 8785, or must not write at all. A
    // Date, Map or Set is no plain object: refused naming its path (as `{}`, a signature over it
    // would cover nothing of it).
    for (const [name, value] of [
      ['Date', new Date(0)],
      ['Map', new Map([['k', 1]])],
      ['Set', new Set([1])],
    ] as const) {
      expect((errorOf(() => canonicalize({ a: value })) as Error).message).toBe(
        `$.a: a ${name} is not JSON (convert it first)`,
      );
    }
    expect(isAapsError(errorOf(() => canonicalize({ a: { toJSON: () => 'x' } })))).toBe(true);
  });

  it('never differs from the general serializer on near-canonical input', () => {
    const bare = Object.assign(Object.create(null) as object, { a: 1, b: 2 });
    const holey: unknown[] = [1];
    holey[2] = 3; // index 1 is a hole
    const cases: unknown[] = [
      { '1': 0, '10': 1, '9': 2 }, // integer-like keys enumerate numerically, not by code units
      { b: 1, a: 2 },
      { a: holey },
      bare,
      { a: -0 },
    ];
    for (const v of cases) {
      let fast: unknown;
      let slow: unknown;
      try {
        fast = canonicalize(v);
      } catch (e) {
        fast = (e as Error).message;
      }
      try {
        slow = reference(v);
      } catch (e) {
        slow = (e as Error).message;
      }
      if (Array.isArray((v as { a?: unknown }).a)) {
        // A hole is no JSON value: refused with its path.
        expect((errorOf(() => canonicalize(v)) as Error).message).toBe('$.a[1]: undefined is not JSON');
      } else expect(fast).toBe(slow);
    }
    // toJSON, which JSON.stringify would call and RFC 8785 knows nothing of, wherever it hides.
    const arrayWithOwn = Object.assign([1, 2], { toJSON: () => 'x' });
    const hidden = Object.defineProperty({ a: 1 }, 'toJSON', { value: () => 'x', enumerable: false });
    const fromProto = Object.assign(Object.create({ toJSON: () => 'x' }) as object, { a: 1 });
    expect(canonicalize({ a: arrayWithOwn })).toBe('{"a":[1,2]}');
    expect(canonicalize({ a: hidden })).toBe('{"a":{"a":1}}');
    // An object whose prototype is not Object's is a class instance: refused, as a Date is.
    expect(isAapsError(errorOf(() => canonicalize({ a: fromProto })))).toBe(true);
    // Too deep for RFC 8785 here: refused, not passed to JSON.stringify.
    let deep: unknown = 1;
    for (let i = 0; i < 70; i++) deep = [deep];
    expect(isAapsError(errorOf(() => canonicalize(deep)))).toBe(true);
  });
});

describe('canonicalizeEnvelope', () => {
  const envelopeLike = fc.record(
    {
      meta: fc.dictionary(key, json, { maxKeys: 6 }),
      signature: fc.string(),
      other: fc.dictionary(key, json, { maxKeys: 4 }),
    },
    { requiredKeys: ['meta', 'other'] },
  );
  it('gives the canonical JSON of the envelope, and of it without meta.signature', () => {
    fc.assert(
      fc.property(envelopeLike, fc.boolean(), ({ meta, signature, other }, signed) => {
        const m = signed && signature !== undefined ? { ...meta, signature } : meta;
        const envelope = { ...other, meta: m };
        const { signature: _omit, ...unsigned } = m;
        const forms = canonicalizeEnvelope(envelope);
        expect(forms.full).toBe(canonicalize(envelope));
        expect(forms.signed).toBe(canonicalize({ ...envelope, meta: unsigned }));
      }),
    );
  });

  it('has no signed form for a value without a meta object, and names bad values as canonicalize does', () => {
    for (const v of [null, 3, 'x', [1], { meta: 'no' }, { meta: [1] }, {}]) {
      expect(canonicalizeEnvelope(v)).toEqual({ full: canonicalize(v), signed: undefined });
    }
    const bad = { meta: { a: 1 }, payload: { n: Number.NaN } };
    expect((errorOf(() => canonicalizeEnvelope(bad)) as Error).message).toBe(
      (errorOf(() => canonicalize(bad)) as Error).message,
    );
  });
});
