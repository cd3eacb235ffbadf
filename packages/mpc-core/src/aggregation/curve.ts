/**
 * Curve points for the aggregation's bulk paths: both `@noble/curves` point classes behind one
 * small interface, the suite's generators in that form, and byte helpers. Internal to
 * `aggregation/`.
 */
import { ed25519 } from '@noble/curves/ed25519.js';
import { secp256k1 } from '@noble/curves/secp256k1.js';
import type { Ciphersuite } from '../suite/types.js';
import { pedersenGenerator } from './pedersen.js';

/** A curve point as the batch check uses it (both noble point classes fit). */
export interface CurvePoint {
  add(o: CurvePoint): CurvePoint;
  subtract(o: CurvePoint): CurvePoint;
  negate(): CurvePoint;
  double(): CurvePoint;
  multiply(k: bigint): CurvePoint;
  multiplyUnsafe(k: bigint): CurvePoint;
  clearCofactor(): CurvePoint;
  toAffine(): { x: bigint; y: bigint };
  toBytes(): Uint8Array;
  assertValidity(): void;
  is0(): boolean;
}

/** What the aggregation reads of a curve's base field: its order (for range checks on coordinates). */
export interface Field {
  ORDER: bigint;
}

export interface PCons {
  BASE: CurvePoint;
  ZERO: CurvePoint;
  Fp: Field;
  fromBytes(b: Uint8Array): CurvePoint;
  fromAffine(p: { x: bigint; y: bigint }): CurvePoint;
}

export const ED = ed25519.Point as unknown as PCons;
export const K1 = secp256k1.Point as unknown as PCons;

export function pointClass(suiteId: string): PCons {
  return suiteId === 'FROST-ED25519-SHA512-v1' ? ED : K1;
}

export function readBE(b: Uint8Array): bigint {
  return b.length === 0
    ? 0n
    : BigInt(`0x${Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('hex')}`);
}
export function readLE(b: Uint8Array): bigint {
  return readBE(Uint8Array.from(b).reverse());
}
/** The low `len` bytes of a non-negative `n`, little-endian. */
export function writeLE(n: bigint, len: number): Uint8Array {
  return writeBE(n, len).reverse();
}
/** The low `len` bytes of a non-negative `n`, big-endian (one hex conversion, not a byte loop). */
export function writeBE(n: bigint, len: number): Uint8Array {
  const hex = n.toString(16).padStart(2 * len, '0');
  return Uint8Array.from(Buffer.from(hex.length > 2 * len ? hex.slice(-2 * len) : hex, 'hex'));
}

/** The generator points in curve-point form. */
export function generators<E>(suite: Ciphersuite<E>): { G: CurvePoint; H: CurvePoint; ZERO: CurvePoint } {
  const Pc = pointClass(suite.id);
  let H = hCache.get(suite);
  if (!H) {
    H = Pc.fromBytes(suite.group.serialize(pedersenGenerator(suite)));
    hCache.set(suite, H);
  }
  return { G: Pc.BASE, H, ZERO: Pc.ZERO };
}

/** `k * G`, the identity for `k = 0` (which noble's `multiply` refuses). */
export function mulG<E>(suite: Ciphersuite<E>, k: bigint): CurvePoint {
  const { G, ZERO } = generators(suite);
  return k === 0n ? ZERO : G.multiply(k);
}

/** `k * H`, the identity for `k = 0`. */
export function mulH<E>(suite: Ciphersuite<E>, k: bigint): CurvePoint {
  const { H, ZERO } = generators(suite);
  return k === 0n ? ZERO : H.multiply(k);
}
const hCache = new WeakMap<object, CurvePoint>();

/**
 * The window width of a bucket multi-scalar multiplication over `n` points with scalars of `bits`
 * bits, and its cost in additions: per window, one per point and two per bucket.
 */
export function bucketWindow(n: number, bits: number): { width: number; cost: number } {
  let width = 1;
  let cost = Number.POSITIVE_INFINITY;
  for (let w = 1; w <= 16; w++) {
    const c = Math.ceil(bits / w) * (n + 2 * 2 ** w);
    if (c < cost) {
      cost = c;
      width = w;
    }
  }
  return { width, cost };
}

/**
 * `sum_d d * buckets[d]` as a running sum from the top (empty buckets cost nothing); undefined if
 * all are empty.
 */
export function sumBuckets(buckets: readonly (CurvePoint | undefined)[]): CurvePoint | undefined {
  let running: CurvePoint | undefined;
  let total: CurvePoint | undefined;
  for (let d = buckets.length - 1; d > 0; d--) {
    const b = buckets[d];
    if (b) running = running ? running.add(b) : b;
    if (running) total = total ? total.add(running) : running;
  }
  return total;
}

/**
 * `sum_k scalars[k] * points[k]` for non-negative scalars (bucket method). The window width is
 * chosen for the number of points and the bit length of the largest scalar.
 */
export function msm(Pc: PCons, points: readonly CurvePoint[], scalars: readonly bigint[]): CurvePoint {
  return runSteps(msmSteps(Pc, points, scalars, Number.POSITIVE_INFINITY));
}

/** Point operations between two pauses of a stepped computation: a few milliseconds of work. */
export const STEP_OPS = 2048;

/** Run a stepped computation to its end, without pausing. */
export function runSteps<T>(steps: Generator<void, T, void>): T {
  for (;;) {
    const next = steps.next();
    if (next.done) return next.value;
  }
}

/**
 * A budget of point operations for a stepped computation: `spend(k)` is true (time to pause) each
 * time about `opsPerStep` have been spent. An infinite budget never pauses.
 */
export function stepBudget(opsPerStep: number): (ops: number) => boolean {
  let spent = 0;
  return (ops) => {
    spent += ops;
    if (spent < opsPerStep) return false;
    spent = 0;
    return true;
  };
}

/** {@link msm} in steps: it pauses (yields) after about `opsPerStep` point operations. */
export function* msmSteps(
  Pc: PCons,
  points: readonly CurvePoint[],
  scalars: readonly bigint[],
  opsPerStep = STEP_OPS,
): Generator<void, CurvePoint, void> {
  const n = points.length;
  if (scalars.length !== n) throw new RangeError('msm: expected one scalar per point');
  let max = 0n;
  for (let k = 0; k < n; k++) {
    const s = scalars[k]!;
    if (s < 0n) throw new RangeError('msm: negative scalar');
    if (s > max) max = s;
  }
  if (max === 0n) return Pc.ZERO;
  const spend = stepBudget(opsPerStep);
  const bits = max.toString(2).length;
  const c = bucketWindow(n, bits).width;
  const windows = Math.ceil(bits / c);
  const mask = BigInt(2 ** c - 1);
  const wc = BigInt(c);
  // Digits of every scalar, lowest window first (one shift chain per scalar).
  const digits = new Uint16Array(n * windows);
  for (let k = 0; k < n; k++) {
    let s = scalars[k]!;
    for (let w = 0; w < windows && s > 0n; w++) {
      digits[k * windows + w] = Number(s & mask);
      s >>= wc;
    }
  }
  const buckets: (CurvePoint | undefined)[] = new Array(2 ** c);
  let acc: CurvePoint | undefined;
  for (let w = windows - 1; w >= 0; w--) {
    if (acc) for (let d = 0; d < c; d++) acc = acc.double();
    buckets.fill(undefined);
    for (let k = 0; k < n; k++) {
      const d = digits[k * windows + w]!;
      if (d === 0) continue;
      const b = buckets[d];
      buckets[d] = b ? b.add(points[k]!) : points[k]!;
      if (spend(1)) yield;
    }
    const total = sumBuckets(buckets);
    if (total) acc = acc ? acc.add(total) : total;
    if (spend(2 * 2 ** c + c)) yield;
  }
  return acc ?? Pc.ZERO;
}

/** The coordinate the encoding of the curve point `pt` leaves out (Ed25519: x; secp256k1: y). */
export function pointHint(Pc: PCons, pt: CurvePoint): Uint8Array {
  const a = pt.toAffine();
  return Pc === ED ? writeLE(a.x, 32) : writeBE(a.y, 32);
}

/** A suite group element as a curve point (the inverse of `fixed-base.ts`' `asElement`). */
export function asCurvePoint<E>(suite: Ciphersuite<E>, element: E): CurvePoint {
  return suite.backend === 'noble'
    ? (element as unknown as CurvePoint)
    : pointClass(suite.id).fromBytes(suite.group.serialize(element));
}
