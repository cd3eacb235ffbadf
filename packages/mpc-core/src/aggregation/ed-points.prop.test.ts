/** The raw extended-coordinate arithmetic agrees with `@noble/curves` on Ed25519. */
import { ed25519 } from '@noble/curves/ed25519.js';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  type Ext,
  extAdd,
  extDouble,
  extIsSmallOrder,
  extMsm,
  extMulSmall,
  extNeg,
  toExt,
} from './ed-points.js';

const Point = ed25519.Point;
const L = Point.CURVE().n;
const fromExt = (e: Ext) => {
  const p = Point.CURVE().p;
  const m = (v: bigint) => ((v % p) + p) % p;
  const zi = Point.Fp.inv(m(e.Z));
  return Point.fromAffine({ x: m(e.X * zi), y: m(e.Y * zi) });
};
const point = fc.bigInt({ min: 1n, max: L - 1n }).map((k) => Point.BASE.multiply(k));
// The point of order 8 (x, y) with y = sqrt(1 - 1/(1+d))... taken from noble's torsion subgroup.
const torsion = Point.fromHex('c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a');

describe('ed-points', () => {
  it('add, double, negate and small multiples match noble', () => {
    fc.assert(
      fc.property(point, point, fc.bigInt({ min: 1n, max: 65535n }), (a, b, x) => {
        const ea = toExt(a);
        const eb = toExt(b);
        expect(fromExt(extAdd(ea, eb)).equals(a.add(b))).toBe(true);
        expect(fromExt(extDouble(extAdd(ea, eb))).equals(a.add(b).double())).toBe(true);
        expect(fromExt(extAdd(ea, extNeg(eb))).equals(a.subtract(b))).toBe(true);
        expect(fromExt(extMulSmall(ea, x)).equals(a.multiply(x))).toBe(true);
      }),
      { numRuns: 20 },
    );
  });

  it('the bucket MSM matches the sum of products', () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(point, fc.bigInt({ min: 0n, max: (1n << 130n) - 1n })), {
          minLength: 1,
          maxLength: 40,
        }),
        (pairs) => {
          const want = pairs.reduce(
            (acc, [p, k]) => (k === 0n ? acc : acc.add(p.multiply(k % L || L))),
            Point.ZERO,
          );
          const got = extMsm(
            pairs.map(([p]) => toExt(p)),
            pairs.map(([, k]) => k),
          );
          const diff = extAdd(got, extNeg(toExt(want)));
          expect(extIsSmallOrder(diff)).toBe(true);
          expect(fromExt(got).equals(want)).toBe(true);
        },
      ),
      { numRuns: 15 },
    );
  });

  it('small-order test: torsion passes, prime-order points do not', () => {
    expect(extIsSmallOrder(toExt(Point.ZERO))).toBe(true);
    expect(extIsSmallOrder(toExt(torsion))).toBe(true);
    fc.assert(
      fc.property(point, (a) => {
        expect(extIsSmallOrder(toExt(a))).toBe(false);
        expect(extIsSmallOrder(toExt(a.add(torsion)))).toBe(false);
      }),
      { numRuns: 10 },
    );
  });
});
