import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isAapsError } from '../errors.js';
import { canonicalize } from './canonical.js';

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
      fc.property(fc.jsonValue(), (v) => {
        const s = canonicalize(v);
        expect(s).toBe(reference(v));
        expect(canonicalize(JSON.parse(s))).toBe(s);
      }),
    );
  });

  it('does not depend on key insertion order', () => {
    fc.assert(
      fc.property(fc.dictionary(fc.string(), fc.jsonValue(), { maxKeys: 8 }), (o) => {
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

  it('refuses nesting deeper than 64 levels, and takes 64', () => {
    const nest = (n: number): unknown => (n === 0 ? 1 : [nest(n - 1)]);
    expect(canonicalize(nest(64))).toBe(`${'['.repeat(64)}1${']'.repeat(64)}`);
    const e = errorOf(() => canonicalize(nest(65)));
    expect(isAapsError(e) && e.code).toBe('INVALID_ARGUMENT');
  });
});
