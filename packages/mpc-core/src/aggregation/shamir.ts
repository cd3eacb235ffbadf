/**
 * t-of-n Shamir sharing over a ciphersuite's scalar field with Pedersen verifiable secret sharing.
 *
 * A dealer picks `f(X) = s + a_1 X + ... + a_{t-1} X^{t-1}` and a blinding polynomial `g(X)`, and
 * publishes `C_j = a_j G + b_j H` for both at once. Receiver `x` gets `(f(x), g(x))` and checks
 * `f(x) G + g(x) H = sum_j x^j C_j`. Any `t` shares determine `s`; `t - 1` shares are uniformly
 * distributed whatever `s` is, and the commitments hide `s` perfectly (Pedersen, not Feldman).
 */
import { displayValue } from '../codec.js';
import type { Culprit } from '../errors.js';
import { ProtocolError, ValidationError } from '../errors.js';
import type { Ciphersuite, Rng } from '../suite/types.js';
import type { CurvePoint } from './curve.js';
import { commitFast, commitMany } from './fixed-base.js';
import { pedersenGenerator } from './pedersen.js';

/** One receiver's share of a Pedersen dealing: `f(x)` and `g(x)`. */
export interface PedersenShare {
  readonly x: bigint;
  readonly share: bigint;
  readonly blinding: bigint;
}

/** A dealing: the public commitments `C_0..C_{t-1}` and each receiver's share, in receiver order. */
export interface PedersenDealing<E> {
  readonly commitments: readonly E[];
  readonly shares: readonly PedersenShare[];
  /** `g(0)`: the blinding of the secret's commitment `C_0 = sG + g(0)H`. */
  readonly blinding: bigint;
}

function checkXs(order: bigint, xs: readonly bigint[], field: string): void {
  const seen = new Set<bigint>();
  xs.forEach((x, i) => {
    if (typeof x !== 'bigint' || x <= 0n || x >= order) {
      throw new ValidationError('INVALID_IDENTIFIER', `${field}[${i}]: expected a non-zero scalar`, [
        `${field}[${i}]`,
      ]);
    }
    if (seen.has(x)) {
      throw new ValidationError('DUPLICATE_IDENTIFIER', `${field}[${i}]: duplicate evaluation point`, [
        `${field}[${i}]`,
      ]);
    }
    seen.add(x);
  });
}

/** `c_0 + c_1 x + ... ` at `x` (Horner's rule in the field). */
export function horner(
  F: { add(a: bigint, b: bigint): bigint; mul(a: bigint, b: bigint): bigint },
  c: readonly bigint[],
  x: bigint,
) {
  let acc = c[c.length - 1]!;
  for (let j = c.length - 2; j >= 0; j--) acc = F.add(F.mul(acc, x), c[j]!);
  return acc;
}

/**
 * Share `secret` (a field element; reduce negatives with `field.create` first) among the receivers
 * at points `xs`, `threshold` of whom can reconstruct it.
 */
export function dealPedersen<E>(
  suite: Ciphersuite<E>,
  secret: bigint,
  xs: readonly bigint[],
  threshold: number,
  rng: Rng,
): PedersenDealing<E> {
  const F = suite.field;
  const { f, g } = polynomials(suite, secret, xs, threshold, rng);
  const { group } = suite;
  const H = pedersenGenerator(suite);
  const commitments = f.map((a, j) => group.add(group.mulBase(a), group.mul(H, g[j]!)));
  const shares = xs.map((x) => ({ x, share: horner(F, f, x), blinding: horner(F, g, x) }));
  return { commitments, shares, blinding: g[0]! };
}

/** Validate the arguments and draw `f` (constant term `secret`) and `g`, interleaved. */
function polynomials<E>(
  suite: Ciphersuite<E>,
  secret: bigint,
  xs: readonly bigint[],
  threshold: number,
  rng: Rng,
): { f: bigint[]; g: bigint[] } {
  const F = suite.field;
  if (typeof secret !== 'bigint' || secret < 0n || secret >= F.ORDER) {
    throw new ValidationError('INVALID_SCALAR', 'secret: expected a field element in [0, q)', ['secret']);
  }
  if (!Number.isSafeInteger(threshold) || threshold < 2 || threshold > xs.length) {
    throw new ValidationError(
      'INVALID_THRESHOLD',
      `threshold: expected an integer in [2, ${xs.length}], got ${displayValue(threshold)}`,
      ['threshold'],
    );
  }
  checkXs(F.ORDER, xs, 'xs');
  const f = [secret];
  const g = [F.random(rng)];
  for (let j = 1; j < threshold; j++) {
    f.push(F.random(rng));
    g.push(F.random(rng));
  }
  return { f, g };
}

/** A dealing with its commitments already encoded, plus their decoding hints (see `batch.ts`). */
export interface EncodedPedersenDealing {
  readonly commitments: readonly Uint8Array[];
  readonly hints: readonly Uint8Array[];
  /** The commitments as curve points (`points[0]` commits to the secret). */
  readonly points: readonly CurvePoint[];
  readonly shares: readonly PedersenShare[];
  readonly blinding: bigint;
}

/**
 * {@link dealPedersen} for bulk use: the same polynomials from the same `rng` draws, with the
 * commitments computed on fixed-base tables and encoded in one batch (byte-identical output).
 * `secretBits` is a public bound on the secret (`secret < 2^secretBits`, e.g. from the input's
 * declared range), which makes `C_0` cheaper to compute; it reveals nothing beyond that bound.
 */
export function dealPedersenEncoded<E>(
  suite: Ciphersuite<E>,
  secret: bigint,
  xs: readonly bigint[],
  threshold: number,
  rng: Rng,
  secretBits?: number,
): EncodedPedersenDealing {
  const item = secretBits === undefined ? { secret } : { secret, bits: secretBits };
  return dealPedersenManyEncoded(suite, [item], xs, threshold, rng)[0]!;
}

/**
 * Many {@link dealPedersenEncoded} dealings at once (one dealer's bulk inputs): the same `rng`
 * draws in the same order, so the same bytes, with every commitment of every dealing computed and
 * encoded in one batch (one field inversion in all).
 */
export function dealPedersenManyEncoded<E>(
  suite: Ciphersuite<E>,
  secrets: readonly { readonly secret: bigint; readonly bits?: number }[],
  xs: readonly bigint[],
  threshold: number,
  rng: Rng,
): EncodedPedersenDealing[] {
  const F = suite.field;
  const polys = secrets.map(({ secret }) => polynomials(suite, secret, xs, threshold, rng));
  const pairs: [bigint, bigint, number?][] = [];
  polys.forEach(({ f, g }, i) => {
    const bits = secrets[i]!.bits;
    f.forEach((a, j) => {
      pairs.push(j === 0 && bits !== undefined ? [a, g[j]!, bits] : [a, g[j]!]);
    });
  });
  const { commitments, hints, points } = commitMany(suite, pairs);
  return polys.map(({ f, g }, i) => {
    const at = i * threshold;
    return {
      commitments: commitments.slice(at, at + threshold),
      hints: hints.slice(at, at + threshold),
      points: points.slice(at, at + threshold),
      shares: xs.map((x) => ({ x, share: horner(F, f, x), blinding: horner(F, g, x) })),
      blinding: g[0]!,
    };
  });
}

/** Whether `share*G + blinding*H = sum_j x^j C_j`. */
export function pedersenShareHolds<E>(
  suite: Ciphersuite<E>,
  commitments: readonly E[],
  x: bigint,
  share: bigint,
  blinding: bigint,
): boolean {
  const { group } = suite;
  return group.equals(commitFast(suite, share, blinding), group.evalCommitment(commitments, x));
}

/** Receiver check; a share off the committed polynomials is `INVALID_DEALING` naming the dealer. */
export function verifyPedersenShare<E>(
  suite: Ciphersuite<E>,
  args: { dealer: Culprit; commitments: readonly E[]; x: bigint; share: bigint; blinding: bigint },
): void {
  if (!pedersenShareHolds(suite, args.commitments, args.x, args.share, args.blinding)) {
    throw new ProtocolError(
      'INVALID_DEALING',
      `share for x=${args.x} does not match the dealer's commitments`,
      [args.dealer],
      { details: { dealer: args.dealer } },
    );
  }
}

/** Lagrange coefficients at 0 for the distinct points `xs`: `l_i = prod_{j != i} x_j / (x_j - x_i)`. */
export function lagrangeAtZero<E>(suite: Ciphersuite<E>, xs: readonly bigint[]): bigint[] {
  const F = suite.field;
  checkXs(F.ORDER, xs, 'xs');
  return xs.map((xi, i) => {
    let num = 1n;
    let den = 1n;
    xs.forEach((xj, j) => {
      if (j === i) return;
      num = F.mul(num, xj);
      den = F.mul(den, F.sub(xj, xi));
    });
    return F.mul(num, F.inv(den));
  });
}

/** The polynomial through `(xs[i], ys[i])` evaluated at 0. */
export function interpolateAtZero<E>(
  suite: Ciphersuite<E>,
  xs: readonly bigint[],
  ys: readonly bigint[],
): bigint {
  if (xs.length !== ys.length || xs.length === 0) {
    throw new ValidationError(
      'INVALID_ARGUMENT',
      'interpolateAtZero: xs and ys must be non-empty and equal length',
    );
  }
  const F = suite.field;
  const l = lagrangeAtZero(suite, xs);
  let acc = 0n;
  for (let i = 0; i < l.length; i++) acc = F.add(acc, F.mul(l[i]!, ys[i]!));
  return acc;
}
