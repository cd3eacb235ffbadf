/**
 * Batched Pedersen share checks by random linear combination. For items `(C^k, s_k, b_k)` at one
 * evaluation point `x`, instead of `s_k G + b_k H = C^k(x)` for every `k` it checks
 *
 *     (sum_k r_k s_k) G + (sum_k r_k b_k) H = sum_k r_k C^k(x)
 *
 * with fresh 128-bit `r_k`: if any single equation fails, the combination holds with probability
 * at most 2^-128. `C^k(x)` is a short Horner chain for small `x`, and the outer sum is one
 * bucket (Pippenger) multi-scalar multiplication sized for 128-bit scalars. The arithmetic runs
 * on `@noble/curves` points whatever the suite's backend, since a few thousand point additions
 * cost less there than round trips through WebAssembly. Elements must already be validated.
 */
import { ed25519 } from '@noble/curves/ed25519.js';
import { secp256k1 } from '@noble/curves/secp256k1.js';
import { ValidationError } from '../errors.js';
import type { Ciphersuite, Rng } from '../suite/types.js';
import { pedersenGenerator } from './pedersen.js';

/** The operations the batch check needs from a point (both noble point classes have them). */
interface P {
  add(o: P): P;
  double(): P;
  multiply(k: bigint): P;
  multiplyUnsafe(k: bigint): P;
  equals(o: P): boolean;
  is0(): boolean;
}
interface PCons {
  BASE: P;
  ZERO: P;
  fromBytes(b: Uint8Array): P;
}

function pointClass(suiteId: string): PCons {
  if (suiteId === 'FROST-ED25519-SHA512-v1') return ed25519.Point as unknown as PCons;
  return secp256k1.Point as unknown as PCons;
}

export interface BatchItem<E> {
  readonly commitments: readonly E[];
  readonly share: bigint;
  readonly blinding: bigint;
}

const hCache = new WeakMap<object, P>();

/** Decoded noble points of byte-encoded (libsodium backend) elements, reused across receivers. */
const decoded = new WeakMap<object, P>();

function toPoint<E>(suite: Ciphersuite<E>, Pc: PCons, e: E): P {
  if (suite.backend === 'noble') return e as unknown as P;
  const hit = decoded.get(e as object);
  if (hit) return hit;
  const p = suite.group.isZero(e) ? Pc.ZERO : Pc.fromBytes(suite.group.serialize(e));
  decoded.set(e as object, p);
  return p;
}

/** Bucket MSM for scalars below 2^128. */
function msm128(Pc: PCons, points: readonly P[], scalars: readonly bigint[]): P {
  const n = points.length;
  if (n === 0) return Pc.ZERO;
  const c = Math.max(2, Math.min(16, Math.floor(Math.log2(n)) - 4));
  const windows = Math.ceil(128 / c);
  const mask = (1 << c) - 1;
  // Split each scalar into c-bit digits once.
  const digits = new Int32Array(n * windows);
  for (let i = 0; i < n; i++) {
    let s = scalars[i]!;
    for (let w = 0; w < windows; w++) {
      digits[i * windows + w] = Number(s & BigInt(mask));
      s >>= BigInt(c);
    }
  }
  let acc = Pc.ZERO;
  const buckets: (P | undefined)[] = new Array(mask + 1);
  for (let w = windows - 1; w >= 0; w--) {
    for (let d = 0; d < c && !acc.is0(); d++) acc = acc.double();
    buckets.fill(undefined);
    for (let i = 0; i < n; i++) {
      const dg = digits[i * windows + w]!;
      if (dg === 0) continue;
      const b = buckets[dg];
      buckets[dg] = b ? b.add(points[i]!) : points[i]!;
    }
    let running: P | undefined;
    let sum: P | undefined;
    for (let b = mask; b >= 1; b--) {
      const bk = buckets[b];
      if (bk) running = running ? running.add(bk) : bk;
      if (running) sum = sum ? sum.add(running) : running;
    }
    if (sum) acc = acc.add(sum);
  }
  return acc;
}

/** Random 128-bit coefficients from `rng`. */
function coefficients(rng: Rng, n: number): bigint[] {
  const bytes = rng(16 * n);
  const out: bigint[] = [];
  for (let i = 0; i < n; i++) {
    let v = 0n;
    for (let j = 0; j < 16; j++) v = (v << 8n) | BigInt(bytes[16 * i + j]!);
    out.push(v);
  }
  return out;
}

/**
 * Whether every item's share and blinding lie on its committed polynomials at `x` (all at once;
 * false if any does not, except with probability 2^-128). The caller names culprits by falling
 * back to single checks.
 */
export function batchSharesHold<E>(
  suite: Ciphersuite<E>,
  x: bigint,
  items: readonly BatchItem<E>[],
  rng: Rng,
): boolean {
  if (items.length === 0) return true;
  if (typeof x !== 'bigint' || x <= 0n) {
    throw new ValidationError('INVALID_ARGUMENT', 'x: expected a positive scalar', ['x']);
  }
  const F = suite.field;
  const Pc = pointClass(suite.id);
  let H = hCache.get(suite);
  if (!H) {
    H = toPoint(suite, Pc, pedersenGenerator(suite));
    hCache.set(suite, H);
  }
  const r = coefficients(rng, items.length);
  let S = 0n;
  let B = 0n;
  const evals: P[] = [];
  for (let k = 0; k < items.length; k++) {
    const it = items[k]!;
    S = F.add(S, F.mul(r[k]!, it.share));
    B = F.add(B, F.mul(r[k]!, it.blinding));
    const cs = it.commitments;
    let acc = toPoint(suite, Pc, cs[cs.length - 1]!);
    for (let j = cs.length - 2; j >= 0; j--) {
      acc = (acc.is0() ? acc : acc.multiplyUnsafe(x)).add(toPoint(suite, Pc, cs[j]!));
    }
    evals.push(acc);
  }
  const rhs = msm128(Pc, evals, r);
  const lhsG = S === 0n ? Pc.ZERO : Pc.BASE.multiply(S);
  const lhsH = B === 0n ? Pc.ZERO : H.multiply(B);
  return lhsG.add(lhsH).equals(rhs);
}
