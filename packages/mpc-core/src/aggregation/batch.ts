/**
 * Batched Pedersen share checks by random linear combination, on `@noble/curves` points whatever
 * the suite's backend. For items `(C^k, s_k, b_k)` at one evaluation point `x`, instead of
 * `s_k G + b_k H = C^k(x)` for every `k` it checks
 *
 *     h * ((sum_k r_k s_k) G + (sum_k r_k b_k) H - sum_k r_k C^k(x)) = 0
 *
 * with fresh 128-bit `r_k` (top bit set: 127 random bits) and the curve's cofactor `h`: if any
 * single equation fails, the combination holds with probability at most 2^-127. Commitments here are decoded only as curve
 * points (no subgroup test); multiplying by the cofactor makes the check exactly the one on their
 * prime-order parts, which is what binds the shares. (Range proofs, openings and records decode
 * `C_0` strictly.) `C^k(x)` is a short Horner chain for small `x`, and the outer sum is one bucket
 * multi-scalar multiplication (`curve.ts` `msm`, its window sized for the largest scalar).
 *
 * Decoding a compressed point costs a field square root (~80 us here), which would dominate a
 * bulk check; so a dealer also sends, per commitment, the coordinate the encoding leaves out
 * (Ed25519: x; secp256k1: y). A receiver then checks the curve equation and the sign/parity bit
 * instead (a few multiplications). A hint that does not match its encoding fails the dealing.
 */

import { equalBytes } from '../bytes.js';
import { ValidationError } from '../errors.js';
import { randomBytesOf } from '../suite/rng.js';
import type { Ciphersuite, Rng } from '../suite/types.js';
import {
  asCurvePoint,
  type CurvePoint,
  ED,
  msm,
  mulG,
  mulH,
  type PCons,
  pointClass,
  pointHint,
  readBE,
  readLE,
} from './curve.js';
import { commitPoints } from './fixed-base.js';

export type { CurvePoint } from './curve.js';

/**
 * The point of `bytes` given the missing coordinate, or undefined if they do not agree: noble
 * builds the point from both coordinates, checks it is on the curve, and its encoding must be
 * `bytes` exactly (so no square root is taken, and nothing but noble does curve arithmetic).
 */
function fromHint(Pc: PCons, bytes: Uint8Array, hint: Uint8Array): CurvePoint | undefined {
  const p = Pc.Fp.ORDER;
  if (hint.length !== 32) return undefined;
  let x: bigint;
  let y: bigint;
  if (Pc === ED) {
    if (bytes.length !== 32) return undefined;
    y = readLE(bytes) & ((1n << 255n) - 1n);
    x = readLE(hint);
  } else {
    if (bytes.length !== 33) return undefined;
    x = readBE(bytes.subarray(1));
    y = readBE(hint);
  }
  if (x >= p || y >= p) return undefined;
  const pt = Pc.fromAffine({ x, y });
  pt.assertValidity();
  return equalBytes(pt.toBytes(), bytes) ? pt : undefined;
}

/**
 * Decoded points by encoding object, reused when several receivers check the same dealings. Each
 * entry keeps copies of the bytes and of the hint it was decoded with: a hit needs both to be the
 * same as now, so bytes changed since, or a hint other than the one already checked (or a hint
 * where the first decoding had none), are decoded again. Otherwise a wrong hint would pass
 * wherever the same commitment happened to be decoded before without it, and parties that share
 * a process (a coordinator and its checks) could judge one dealing differently.
 */
const decoded = new WeakMap<
  Uint8Array,
  { suite: string; bytes: Uint8Array; hint: Uint8Array | undefined; point: CurvePoint }
>();

/**
 * A commitment as a curve point (no subgroup test), using the dealer's hint when given. Undefined
 * when the bytes are no curve point or the hint does not match them.
 */
export function decodeCommitment<E>(
  suite: Ciphersuite<E>,
  bytes: Uint8Array,
  hint?: Uint8Array,
): CurvePoint | undefined {
  const hit = decoded.get(bytes);
  if (
    hit &&
    hit.suite === suite.id &&
    equalBytes(hit.bytes, bytes) &&
    (hint === undefined || (hit.hint !== undefined && equalBytes(hit.hint, hint)))
  ) {
    return hit.point;
  }
  const Pc = pointClass(suite.id);
  let point: CurvePoint | undefined;
  try {
    point = hint ? fromHint(Pc, bytes, hint) : Pc.fromBytes(bytes);
  } catch {
    return undefined;
  }
  if (point) {
    const copy = { bytes: Uint8Array.from(bytes), hint: hint ? Uint8Array.from(hint) : undefined };
    decoded.set(bytes, { suite: suite.id, ...copy, point });
  }
  return point;
}

/** The coordinate a commitment's encoding leaves out (see the module comment). */
export function commitmentHint<E>(suite: Ciphersuite<E>, commitment: E): Uint8Array {
  return pointHint(pointClass(suite.id), asCurvePoint(suite, commitment));
}

/** `w * P` for a public (small or negative) integer weight. */
export function scalePoint<E>(suite: Ciphersuite<E>, p: CurvePoint, w: bigint): CurvePoint {
  if (w === 1n) return p;
  if (w === -1n) return p.negate();
  if (w === 0n || p.is0()) return pointClass(suite.id).ZERO;
  const q = suite.field.ORDER;
  const k = ((w % q) + q) % q;
  return k > q / 2n ? p.multiplyUnsafe(q - k).negate() : p.multiplyUnsafe(k);
}

/** `x * P` for a public `x`: plain double-and-add below 2^16 (identifiers 1..n), noble above. */
function mulSmall(p: CurvePoint, x: bigint): CurvePoint {
  if (p.is0() || x === 1n) return p;
  if (x >= 1n << 16n) return p.multiplyUnsafe(x);
  const bits = x.toString(2);
  let acc = p;
  for (let i = 1; i < bits.length; i++) {
    acc = acc.double();
    if (bits[i] === '1') acc = acc.add(p);
  }
  return acc;
}

/**
 * `n` random weights for a random linear combination: 128-bit with the top bit set, so never 0
 * (127 random bits each). An `rng` that returns fewer bytes than asked is refused, not stretched
 * with zeros (zero weights would let any share through).
 */
export function randomWeights(rng: Rng, n: number): bigint[] {
  const bytes = randomBytesOf(rng, 16 * n);
  const out: bigint[] = [];
  for (let i = 0; i < n; i++) out.push(readBE(bytes.subarray(16 * i, 16 * i + 16)) | TOP_BIT);
  return out;
}

const TOP_BIT = 1n << 127n;

export interface BatchItem {
  /** Commitments `C_0..C_{t-1}` as curve points. */
  readonly points: readonly CurvePoint[];
  readonly share: bigint;
  readonly blinding: bigint;
}

/**
 * Check every item's share and blinding against its committed polynomials at `x`, all at once.
 * Returns `true` when all hold; otherwise the indexes of the items that fail on their own.
 */
export function batchCheckShares<E>(
  suite: Ciphersuite<E>,
  x: bigint,
  items: readonly BatchItem[],
  rng: Rng,
): true | number[] {
  if (items.length === 0) return true;
  if (typeof x !== 'bigint' || x <= 0n) {
    throw new ValidationError('INVALID_ARGUMENT', 'x: expected a positive scalar', ['x']);
  }
  const F = suite.field;
  const Pc = pointClass(suite.id);
  const evalAt = (cs: readonly CurvePoint[]): CurvePoint => {
    let acc = cs[cs.length - 1]!;
    for (let j = cs.length - 2; j >= 0; j--) acc = mulSmall(acc, x).add(cs[j]!);
    return acc;
  };
  const holds = (lhs: CurvePoint, rhs: CurvePoint) => lhs.subtract(rhs).clearCofactor().is0();

  const evals = items.map((it) => evalAt(it.points));
  const single = (): true | number[] => {
    const lhs = commitPoints(
      suite,
      items.map((it) => [it.share, it.blinding] as const),
    );
    const bad: number[] = [];
    items.forEach((_, k) => {
      if (!holds(lhs[k]!, evals[k]!)) bad.push(k);
    });
    return bad.length === 0 ? true : bad;
  };
  // A bucket MSM only pays off from a few dozen items on.
  if (items.length < SMALL_BATCH) return single();
  const r = randomWeights(rng, items.length);
  let S = 0n;
  let B = 0n;
  for (let k = 0; k < items.length; k++) {
    S = F.add(S, F.mul(r[k]!, items[k]!.share));
    B = F.add(B, F.mul(r[k]!, items[k]!.blinding));
  }
  if (holds(mulG(suite, S).add(mulH(suite, B)), msm(Pc, evals, r))) return true;
  return single();
}

const SMALL_BATCH = 24;

/** One party's result shares (by output) at its evaluation point. */
export interface OpeningShares {
  readonly x: bigint;
  readonly shares: readonly bigint[];
  readonly blindings: readonly bigint[];
}

/**
 * Check every party's result shares against the outputs' combined commitments with one random
 * linear combination over all (party, output) pairs:
 *
 *     sum r_io (z_io G + beta_io H) = sum_o sum_j (sum_i r_io x_i^j) D_oj
 *
 * so the multi-scalar multiplication runs over the `t` combined points per output once, not once
 * per party. `false` means some share is wrong; the caller then checks party by party to name it.
 */
export function batchCheckOpenings<E>(
  suite: Ciphersuite<E>,
  outputs: readonly (readonly CurvePoint[])[],
  parties: readonly OpeningShares[],
  rng: Rng,
): boolean {
  if (parties.length === 0 || outputs.length === 0) return true;
  const F = suite.field;
  const q = F.ORDER;
  const Pc = pointClass(suite.id);
  const t = outputs[0]!.length;
  const small = parties.every((p) => p.x < 1n << 16n);
  const points: CurvePoint[] = [];
  const scalars: bigint[] = [];
  const sigma: bigint[][] = outputs.map(() => new Array<bigint>(t).fill(0n));
  let S = 0n;
  let B = 0n;
  for (const p of parties) {
    const r = randomWeights(rng, outputs.length);
    const pow: bigint[] = [1n];
    for (let j = 1; j < t; j++) pow.push(small ? pow[j - 1]! * p.x : (pow[j - 1]! * p.x) % q);
    for (let o = 0; o < outputs.length; o++) {
      S = F.add(S, F.mul(r[o]!, p.shares[o]!));
      B = F.add(B, F.mul(r[o]!, p.blindings[o]!));
      const row = sigma[o]!;
      for (let j = 0; j < t; j++) row[j] = row[j]! + r[o]! * pow[j]!;
    }
  }
  outputs.forEach((D, o) => {
    for (let j = 0; j < t; j++) {
      points.push(D[j]!);
      const v = sigma[o]![j]!;
      scalars.push(v >= q ? v % q : v);
    }
  });
  const lhs = mulG(suite, S).add(mulH(suite, B));
  return lhs
    .subtract(msm(Pc, points, scalars))
    .clearCofactor()
    .is0();
}
