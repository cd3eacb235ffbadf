/**
 * Batched Pedersen share checks by random linear combination. For items `(C^k, s_k, b_k)` at one
 * evaluation point `x`, instead of `s_k G + b_k H = C^k(x)` for every `k` it checks
 *
 *     h * ((sum_k r_k s_k) G + (sum_k r_k b_k) H - sum_k r_k C^k(x)) = 0
 *
 * with fresh 128-bit `r_k` and the curve's cofactor `h`: if any single equation fails, the
 * combination holds with probability at most 2^-128. Commitments are decoded only as curve points
 * (no subgroup test); multiplying by the cofactor makes the check exactly the one on their
 * prime-order parts, which is what binds the shares. (Records and openings decode `C_0` strictly.)
 * `C^k(x)` is a short Horner chain for small `x`, and the outer sum is one bucket (Pippenger)
 * multi-scalar multiplication sized for 128-bit scalars. The arithmetic runs on `@noble/curves`
 * points whatever the suite's backend.
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
  clearCofactor(): P;
  subtract(o: P): P;
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

export interface BatchItem {
  /** Encoded commitments `C_0..C_{t-1}`. */
  readonly commitments: readonly Uint8Array[];
  readonly share: bigint;
  readonly blinding: bigint;
}

/** Decoded points by encoding object, reused when several receivers check the same dealings. */
const decoded = new WeakMap<Uint8Array, P>();

function decode(Pc: PCons, b: Uint8Array): P | undefined {
  let p = decoded.get(b);
  if (p) return p;
  try {
    p = Pc.fromBytes(b);
  } catch {
    return undefined;
  }
  decoded.set(b, p);
  return p;
}

const hCache = new WeakMap<object, P>();

function generatorH<E>(suite: Ciphersuite<E>, Pc: PCons): P {
  let H = hCache.get(suite);
  if (!H) {
    H = Pc.fromBytes(suite.group.serialize(pedersenGenerator(suite)));
    hCache.set(suite, H);
  }
  return H;
}

/** Bucket MSM for scalars below 2^128. */
function msm128(Pc: PCons, points: readonly P[], scalars: readonly bigint[]): P {
  const n = points.length;
  if (n === 0) return Pc.ZERO;
  const c = Math.max(2, Math.min(16, Math.floor(Math.log2(n)) - 4));
  const windows = Math.ceil(128 / c);
  const mask = (1 << c) - 1;
  const digits = new Int32Array(n * windows);
  const bc = BigInt(c);
  const bmask = BigInt(mask);
  for (let i = 0; i < n; i++) {
    let s = scalars[i]!;
    for (let w = 0; w < windows; w++) {
      digits[i * windows + w] = Number(s & bmask);
      s >>= bc;
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
 * Check every item's share and blinding against its committed polynomials at `x`, all at once.
 * Returns `true` when all hold; otherwise the indexes of the items that fail on their own (an
 * undecodable commitment included).
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
  const H = generatorH(suite, Pc);
  const evalAt = (cs: readonly Uint8Array[]): P | undefined => {
    let acc: P | undefined;
    for (let j = cs.length - 1; j >= 0; j--) {
      const c = decode(Pc, cs[j]!);
      if (!c) return undefined;
      acc = acc === undefined ? c : (acc.is0() ? acc : acc.multiplyUnsafe(x)).add(c);
    }
    return acc;
  };
  const holds = (lhs: P, rhs: P) => lhs.subtract(rhs).clearCofactor().is0();
  const single = (it: BatchItem, e: P | undefined): boolean =>
    e !== undefined &&
    holds(
      (it.share === 0n ? Pc.ZERO : Pc.BASE.multiply(it.share)).add(
        it.blinding === 0n ? Pc.ZERO : H.multiply(it.blinding),
      ),
      e,
    );

  const evals: (P | undefined)[] = items.map((it) => evalAt(it.commitments));
  if (evals.every((e) => e !== undefined)) {
    const r = coefficients(rng, items.length);
    let S = 0n;
    let B = 0n;
    for (let k = 0; k < items.length; k++) {
      S = F.add(S, F.mul(r[k]!, items[k]!.share));
      B = F.add(B, F.mul(r[k]!, items[k]!.blinding));
    }
    const rhs = msm128(Pc, evals as P[], r);
    const lhs = (S === 0n ? Pc.ZERO : Pc.BASE.multiply(S)).add(B === 0n ? Pc.ZERO : H.multiply(B));
    if (holds(lhs, rhs)) return true;
  }
  const bad: number[] = [];
  items.forEach((it, k) => {
    if (!single(it, evals[k])) bad.push(k);
  });
  return bad.length === 0 ? true : bad;
}
