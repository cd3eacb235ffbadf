/** A {@link Group} over a noble point class (Edwards or Weierstrass). */
import { mulAddUnsafe } from '@noble/curves/abstract/curve.js';
import type { EdwardsPoint, EdwardsPointCons } from '@noble/curves/abstract/edwards.js';
import type { WeierstrassPoint, WeierstrassPointCons } from '@noble/curves/abstract/weierstrass.js';
import { ValidationError } from '../errors.js';
import type { Group } from './types.js';

type NoblePoint = EdwardsPoint | WeierstrassPoint<bigint>;
type NoblePointCons = EdwardsPointCons | WeierstrassPointCons<bigint>;

export interface NobleGroupOptions<P extends NoblePoint> {
  Point: NoblePointCons;
  elementLength: number;
  /** Whether elements must be checked for membership in the prime-order subgroup (cofactor > 1). */
  checkTorsion: boolean;
  hasEvenY(p: P): boolean;
}

/** Small public scalars (identifiers, their powers) take a short double-and-add in noble. */
const SMALL = 1n << 32n;

export function nobleGroup<P extends NoblePoint>(opts: NobleGroupOptions<P>): Group<P> {
  // The point constructors differ only in their concrete point type; narrow once here.
  const Point = opts.Point as unknown as {
    BASE: P;
    ZERO: P;
    fromBytes(b: Uint8Array): P;
  };
  // biome-ignore lint/suspicious/noExplicitAny: noble's MSM helper is generic over its own point class
  const Pcons = opts.Point as any;
  const { elementLength, checkTorsion } = opts;
  const asP = (x: unknown) => x as P;

  const deserialize = (bytes: Uint8Array, field = 'element'): P => {
    if (!(bytes instanceof Uint8Array) || bytes.length !== elementLength) {
      throw new ValidationError(
        'INVALID_LENGTH',
        `${field}: expected a ${elementLength}-byte group element`,
        [field],
      );
    }
    let p: P;
    try {
      p = Point.fromBytes(bytes);
      p.assertValidity();
    } catch (cause) {
      throw new ValidationError('INVALID_POINT', `${field}: not a valid curve point encoding`, [field], {
        cause,
      });
    }
    if (p.is0())
      throw new ValidationError('INVALID_POINT', `${field}: the identity element is not allowed`, [field]);
    if (checkTorsion && !p.isTorsionFree()) {
      throw new ValidationError('INVALID_POINT', `${field}: not in the prime-order subgroup`, [field]);
    }
    return p;
  };

  const group: Group<P> = {
    elementLength,
    base: Point.BASE,
    zero: Point.ZERO,
    add: (a, b) => asP(a.add(b as never)),
    sub: (a, b) => asP(a.subtract(b as never)),
    neg: (a) => asP(a.negate()),
    equals: (a, b) => a.equals(b as never),
    isZero: (a) => a.is0(),
    mulBase: (k) => (k === 0n ? Point.ZERO : asP(Point.BASE.multiply(k))),
    mul: (p, k) => (k === 0n || p.is0() ? Point.ZERO : asP(p.multiplyUnsafe(k))),
    msm(points, scalars) {
      if (points.length !== scalars.length) {
        throw new ValidationError('INVALID_ARGUMENT', 'msm: points and scalars differ in length');
      }
      if (points.length === 0) return Point.ZERO;
      return asP(mulAddUnsafe(Pcons, points as never[], scalars as bigint[]));
    },
    evalCommitment(commitments, x) {
      if (commitments.length === 0) throw new ValidationError('INVALID_ARGUMENT', 'empty commitment');
      if (x < SMALL) {
        // Horner in the exponent: with a small public x each step is a short double-and-add.
        let acc = commitments[commitments.length - 1]!;
        for (let j = commitments.length - 2; j >= 0; j--) {
          acc = asP((acc.is0() ? acc : acc.multiplyUnsafe(x)).add(commitments[j]! as never));
        }
        return acc;
      }
      const scalars: bigint[] = [];
      let pow = 1n;
      const q = (opts.Point as unknown as { Fn: { ORDER: bigint } }).Fn.ORDER;
      for (let j = 0; j < commitments.length; j++) {
        scalars.push(pow);
        pow = (pow * x) % q;
      }
      return group.msm(commitments, scalars);
    },
    serialize: (p) => p.toBytes(),
    deserialize,
    deserializeMul: (bytes, k, field) => group.mul(deserialize(bytes, field), k),
    msmEncoded: (encoded, scalars, fields) =>
      group.msm(
        encoded.map((b, i) => deserialize(b, fields[i])),
        scalars,
      ),
    hasEvenY: (p) => opts.hasEvenY(p),
  };
  return Object.freeze(group);
}
