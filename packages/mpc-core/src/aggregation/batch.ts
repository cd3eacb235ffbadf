/**
 * Batched Pedersen share checks by random linear combination, on `@noble/curves` points whatever
 * the suite's backend. For items `(C^k, s_k, b_k)` at one evaluation point `x`, instead of
 * `s_k G + b_k H = C^k(x)` for every `k` it checks
 *
 *     h * ((sum_k r_k s_k) G + (sum_k r_k b_k) H - sum_k r_k C^k(x)) = 0
 *
 * with fresh 128-bit `r_k` and the curve's cofactor `h`: if any single equation fails, the
 * combination holds with probability at most 2^-128. Commitments here are decoded only as curve
 * points (no subgroup test); multiplying by the cofactor makes the check exactly the one on their
 * prime-order parts, which is what binds the shares. (Range proofs, openings and records decode
 * `C_0` strictly.) `C^k(x)` is a short Horner chain for small `x`, and the outer sum is one bucket
 * (Pippenger) multi-scalar multiplication sized for 128-bit scalars.
 *
 * Decoding a compressed point costs a field square root (~80 us here), which would dominate a
 * bulk check; so a dealer also sends, per commitment, the coordinate the encoding leaves out
 * (Ed25519: x; secp256k1: y). A receiver then checks the curve equation and the sign/parity bit
 * instead (a few multiplications). A hint that does not match its encoding fails the dealing.
 */
import { ed25519 } from '@noble/curves/ed25519.js';
import { secp256k1 } from '@noble/curves/secp256k1.js';
import { ValidationError } from '../errors.js';
import type { Ciphersuite, Rng } from '../suite/types.js';
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
  is0(): boolean;
}

interface Field {
  ORDER: bigint;
  inv(a: bigint): bigint;
  create(a: bigint): bigint;
  mul(a: bigint, b: bigint): bigint;
  sqr(a: bigint): bigint;
  add(a: bigint, b: bigint): bigint;
}

interface PCons {
  BASE: CurvePoint;
  ZERO: CurvePoint;
  Fp: Field;
  fromBytes(b: Uint8Array): CurvePoint;
  fromAffine(p: { x: bigint; y: bigint }): CurvePoint;
}

const ED = ed25519.Point as unknown as PCons;
const K1 = secp256k1.Point as unknown as PCons;
const ED_D = ed25519.Point.CURVE().d;

function pointClass(suiteId: string): PCons {
  return suiteId === 'FROST-ED25519-SHA512-v1' ? ED : K1;
}

function readBE(b: Uint8Array): bigint {
  return b.length === 0
    ? 0n
    : BigInt(`0x${Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('hex')}`);
}
function readLE(b: Uint8Array): bigint {
  return readBE(Uint8Array.from(b).reverse());
}
function writeLE(n: bigint, len: number): Uint8Array {
  const out = new Uint8Array(len);
  for (let i = 0; i < len; i++, n >>= 8n) out[i] = Number(n & 255n);
  return out;
}
function writeBE(n: bigint, len: number): Uint8Array {
  const out = new Uint8Array(len);
  for (let i = len - 1; i >= 0; i--, n >>= 8n) out[i] = Number(n & 255n);
  return out;
}

/** The point of `bytes` given the missing coordinate, or undefined if they do not agree. */
function fromHint(Pc: PCons, bytes: Uint8Array, hint: Uint8Array): CurvePoint | undefined {
  const F = Pc.Fp;
  const p = F.ORDER;
  if (hint.length !== 32) return undefined;
  if (Pc === ED) {
    if (bytes.length !== 32) return undefined;
    const sign = bytes[31]! >> 7;
    const y = readLE(bytes) & ((1n << 255n) - 1n);
    const x = readLE(hint);
    if (y >= p || x >= p || Number(x & 1n) !== sign) return undefined;
    // -x^2 + y^2 = 1 + d x^2 y^2
    const x2 = F.sqr(x);
    const y2 = F.sqr(y);
    if (F.create(y2 - x2) !== F.add(1n, F.mul(ED_D, F.mul(x2, y2)))) return undefined;
    return Pc.fromAffine({ x, y });
  }
  if (bytes.length !== 33 || (bytes[0] !== 2 && bytes[0] !== 3)) return undefined;
  const x = readBE(bytes.subarray(1));
  const y = readBE(hint);
  if (x >= p || y >= p || Number(y & 1n) !== (bytes[0]! & 1)) return undefined;
  if (F.sqr(y) !== F.add(F.mul(F.sqr(x), x), 7n)) return undefined;
  return Pc.fromAffine({ x, y });
}

/** Decoded points by encoding object, reused when several receivers check the same dealings. */
const decoded = new WeakMap<Uint8Array, CurvePoint>();

/**
 * A commitment as a curve point (no subgroup test), using the dealer's hint when given. Undefined
 * when the bytes are no curve point or the hint does not match them.
 */
export function decodeCommitment<E>(
  suite: Ciphersuite<E>,
  bytes: Uint8Array,
  hint?: Uint8Array,
): CurvePoint | undefined {
  let pt = decoded.get(bytes);
  if (pt) return pt;
  const Pc = pointClass(suite.id);
  try {
    pt = hint ? fromHint(Pc, bytes, hint) : Pc.fromBytes(bytes);
  } catch {
    return undefined;
  }
  if (pt) decoded.set(bytes, pt);
  return pt;
}

/** The coordinate a commitment's encoding leaves out (see the module comment). */
export function commitmentHint<E>(suite: Ciphersuite<E>, commitment: E): Uint8Array {
  const Pc = pointClass(suite.id);
  const pt =
    suite.backend === 'noble'
      ? (commitment as unknown as CurvePoint)
      : Pc.fromBytes(suite.group.serialize(commitment));
  const a = pt.toAffine();
  return Pc === ED ? writeLE(a.x, 32) : writeBE(a.y, 32);
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
const hCache = new WeakMap<object, CurvePoint>();

/**
 * Fixed-base comb tables for `G` and `H` (`T_i[d] = d * 2^(w*i) * P`, w = 10): a scalar
 * multiplication is then 26 additions and no doublings. Built once per suite on first use
 * (about 53,000 additions, ~16 MB), for bulk dealing.
 */
interface Comb {
  readonly w: number;
  readonly rows: readonly (readonly CurvePoint[])[];
}
const COMB_W = 10;
const combs = new WeakMap<object, { G: Comb; H: Comb }>();

function buildComb(P: CurvePoint, ZERO: CurvePoint, bits: number): Comb {
  const rows: CurvePoint[][] = [];
  let base = P;
  for (let i = 0; i * COMB_W < bits; i++) {
    const row: CurvePoint[] = [ZERO];
    let acc = ZERO;
    for (let d = 1; d < 1 << COMB_W; d++) {
      acc = acc.add(base);
      row.push(acc);
    }
    rows.push(row);
    base = acc.add(base);
  }
  return { w: COMB_W, rows };
}

function combMul(comb: Comb, ZERO: CurvePoint, k: bigint): CurvePoint {
  let acc = ZERO;
  const mask = BigInt((1 << comb.w) - 1);
  const w = BigInt(comb.w);
  for (let i = 0; k > 0n; i++, k >>= w) {
    const d = Number(k & mask);
    if (d) acc = acc.add(comb.rows[i]![d]!);
  }
  return acc;
}

/** Projective coordinates as noble exposes them (`x = X/Z`, `y = Y/Z` on both curves). */
interface Projective {
  readonly X: bigint;
  readonly Y: bigint;
  readonly Z: bigint;
}

/**
 * Ed25519 comb rows in affine Niels form `(y+x, y-x, 2dxy)`, so each table addition is the
 * 7-multiplication mixed addition of ref10's `ge_madd`, on plain bigints.
 */
interface NielsComb {
  readonly w: number;
  readonly rows: readonly { ypx: bigint[]; ymx: bigint[]; xy2d: bigint[] }[];
}
const niels = new WeakMap<Comb, NielsComb>();

function toNiels(comb: Comb): NielsComb {
  let hit = niels.get(comb);
  if (hit) return hit;
  const F = ED.Fp;
  const p = F.ORDER;
  const flat = comb.rows.flatMap((r) => r.slice(1));
  const aff = normalize(F, flat as unknown as Projective[]);
  let k = 0;
  const rows = comb.rows.map((r) => {
    const ypx = [0n];
    const ymx = [0n];
    const xy2d = [0n];
    for (let d = 1; d < r.length; d++, k++) {
      const { x, y } = aff[k]!;
      ypx.push((y + x) % p);
      ymx.push((y - x + p) % p);
      xy2d.push((((2n * ED_D) % p) * ((x * y) % p)) % p);
    }
    return { ypx, ymx, xy2d };
  });
  hit = { w: comb.w, rows };
  niels.set(comb, hit);
  return hit;
}

/** `aG + bH` on Ed25519 in extended coordinates (values may be negative until normalized). */
function edCommit(cg: NielsComb, ch: NielsComb, a: bigint, b: bigint): Projective {
  const p = ED.Fp.ORDER;
  let X = 0n;
  let Y = 1n;
  let Z = 1n;
  let T = 0n;
  for (const [comb, k0] of [
    [cg, a],
    [ch, b],
  ] as const) {
    const mask = BigInt((1 << comb.w) - 1);
    const w = BigInt(comb.w);
    let k = k0;
    for (let i = 0; k > 0n; i++, k >>= w) {
      const d = Number(k & mask);
      if (d === 0) continue;
      const row = comb.rows[i]!;
      const A = ((Y - X) * row.ymx[d]!) % p;
      const B = ((Y + X) * row.ypx[d]!) % p;
      const C = (T * row.xy2d[d]!) % p;
      const D = Z + Z;
      const E = B - A;
      const Fv = D - C;
      const G = D + C;
      const H = B + A;
      X = (E * Fv) % p;
      Y = (G * H) % p;
      T = (E * H) % p;
      Z = (Fv * G) % p;
    }
  }
  return { X, Y, Z };
}

/** Affine coordinates of projective points with one inversion (Montgomery's trick). */
function normalize(F: Field, pts: readonly Projective[]): { x: bigint; y: bigint; zero: boolean }[] {
  const p = F.ORDER;
  const zs = pts.map((q) => ((q.Z % p) + p) % p);
  const prefix: bigint[] = [];
  let acc = 1n;
  for (const z of zs) {
    prefix.push(acc);
    if (z !== 0n) acc = F.mul(acc, z);
  }
  let inv = F.inv(acc);
  const out: { x: bigint; y: bigint; zero: boolean }[] = new Array(zs.length);
  for (let i = zs.length - 1; i >= 0; i--) {
    const z = zs[i]!;
    if (z === 0n) {
      out[i] = { x: 0n, y: 0n, zero: true };
      continue;
    }
    const iz = F.mul(inv, prefix[i]!);
    inv = F.mul(inv, z);
    const q = pts[i]!;
    out[i] = { x: F.mul(F.create(q.X), iz), y: F.mul(F.create(q.Y), iz), zero: false };
  }
  return out;
}

/**
 * Pedersen commitments `a_i G + b_i H` for many pairs at once, encoded, with their hints: comb
 * tables for the two fixed bases (Ed25519: mixed additions on bigints) and one field inversion
 * for the whole batch. Byte-identical to `group.serialize(pedersenCommit(...))`.
 */
export function commitMany<E>(
  suite: Ciphersuite<E>,
  pairs: readonly (readonly [bigint, bigint])[],
): { commitments: Uint8Array[]; hints: Uint8Array[]; points: CurvePoint[] } {
  const Pc = pointClass(suite.id);
  let c = combs.get(suite);
  if (!c) {
    const { G, H, ZERO } = generators(suite);
    const bits = suite.field.ORDER.toString(2).length;
    c = { G: buildComb(G, ZERO, bits), H: buildComb(H, ZERO, bits) };
    combs.set(suite, c);
  }
  const { G: cg, H: ch } = c;
  let proj: Projective[];
  if (Pc === ED) {
    const ng = toNiels(cg);
    const nh = toNiels(ch);
    proj = pairs.map(([a, b]) => edCommit(ng, nh, a, b));
  } else {
    proj = pairs.map(
      ([a, b]) => combMul(cg, Pc.ZERO, a).add(combMul(ch, Pc.ZERO, b)) as unknown as Projective,
    );
  }
  const aff = normalize(Pc.Fp, proj);
  const commitments: Uint8Array[] = [];
  const hints: Uint8Array[] = [];
  const points: CurvePoint[] = [];
  aff.forEach(({ x, y, zero }) => {
    if (zero || (Pc === ED && x === 0n && y === 1n)) {
      // Negligible (a random combination hit the identity); encode through the suite.
      commitments.push(suite.group.serialize(suite.group.zero));
      hints.push(new Uint8Array(32));
      points.push(Pc.ZERO);
      return;
    }
    if (Pc === ED) {
      const b = writeLE(y, 32);
      b[31]! |= Number(x & 1n) << 7;
      commitments.push(b);
      hints.push(writeLE(x, 32));
    } else {
      const b = new Uint8Array(33);
      b[0] = 2 + Number(y & 1n);
      b.set(writeBE(x, 32), 1);
      commitments.push(b);
      hints.push(writeBE(y, 32));
    }
    points.push(Pc.fromAffine({ x, y }));
  });
  return { commitments, hints, points };
}

/** The suite's own element for a curve point (libsodium: decode its bytes; noble: the point). */
export function toGroupElement<E>(suite: Ciphersuite<E>, point: CurvePoint, bytes: Uint8Array): E {
  return suite.backend === 'noble' ? (point as unknown as E) : suite.group.deserialize(bytes);
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

/** Bucket (Pippenger) MSM over non-negative scalars; its cost follows their largest bit length. */
function msm(Pc: PCons, points: readonly CurvePoint[], scalars: readonly bigint[]): CurvePoint {
  const n = points.length;
  if (n === 0) return Pc.ZERO;
  let top = 0n;
  for (const k of scalars) if (k > top) top = k;
  const bitLength = top.toString(2).length;
  const c = Math.max(2, Math.min(16, Math.floor(Math.log2(n)) - 4));
  const windows = Math.ceil(bitLength / c);
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
  const buckets: (CurvePoint | undefined)[] = new Array(mask + 1);
  for (let w = windows - 1; w >= 0; w--) {
    for (let d = 0; d < c && !acc.is0(); d++) acc = acc.double();
    buckets.fill(undefined);
    for (let i = 0; i < n; i++) {
      const dg = digits[i * windows + w]!;
      if (dg === 0) continue;
      const b = buckets[dg];
      buckets[dg] = b ? b.add(points[i]!) : points[i]!;
    }
    let running: CurvePoint | undefined;
    let sum: CurvePoint | undefined;
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
  for (let i = 0; i < n; i++) out.push(readBE(bytes.subarray(16 * i, 16 * i + 16)));
  return out;
}

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
  const { G, H } = generators(suite);
  const evalAt = (cs: readonly CurvePoint[]): CurvePoint => {
    let acc = cs[cs.length - 1]!;
    for (let j = cs.length - 2; j >= 0; j--) acc = mulSmall(acc, x).add(cs[j]!);
    return acc;
  };
  const mulG = (k: bigint) => (k === 0n ? Pc.ZERO : G.multiply(k));
  const mulH = (k: bigint) => (k === 0n ? Pc.ZERO : H.multiply(k));
  const holds = (lhs: CurvePoint, rhs: CurvePoint) => lhs.subtract(rhs).clearCofactor().is0();

  const evals = items.map((it) => evalAt(it.points));
  const r = coefficients(rng, items.length);
  let S = 0n;
  let B = 0n;
  for (let k = 0; k < items.length; k++) {
    S = F.add(S, F.mul(r[k]!, items[k]!.share));
    B = F.add(B, F.mul(r[k]!, items[k]!.blinding));
  }
  if (holds(mulG(S).add(mulH(B)), msm(Pc, evals, r))) return true;
  const bad: number[] = [];
  items.forEach((it, k) => {
    if (!holds(mulG(it.share).add(mulH(it.blinding)), evals[k]!)) bad.push(k);
  });
  return bad.length === 0 ? true : bad;
}

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
  const { G, H } = generators(suite);
  const t = outputs[0]!.length;
  const small = parties.every((p) => p.x < 1n << 16n);
  const points: CurvePoint[] = [];
  const scalars: bigint[] = [];
  const sigma: bigint[][] = outputs.map(() => new Array<bigint>(t).fill(0n));
  let S = 0n;
  let B = 0n;
  for (const p of parties) {
    const r = coefficients(rng, outputs.length);
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
  const lhs = (S === 0n ? Pc.ZERO : G.multiply(S)).add(B === 0n ? Pc.ZERO : H.multiply(B));
  return lhs
    .subtract(msm(Pc, points, scalars))
    .clearCofactor()
    .is0();
}
