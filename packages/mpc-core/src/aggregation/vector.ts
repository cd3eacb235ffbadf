/**
 * Pedersen vector commitments for vector inputs (element-wise circuits).
 *
 * A vector `v` of length `L` is committed to as `sum_i v_i G_i + b H`, with one generator per
 * element: `G_i = hash_to_curve(suite id || u32be(i), DST = AAPS-QUORUM-v1-pedersen-vector)`
 * (RFC 9380, the suite's hash-to-curve), and `H` the Pedersen generator of `pedersen.ts`. Nobody
 * knows a discrete-log relation among them, so the commitment binds every element; the random `b`
 * hides them all perfectly.
 *
 * A dealer shares each element with its own random polynomial `f_i(X) = v_i + a_i1 X + ...` and the
 * vector with one blinding polynomial `g(X)`, and publishes `t` commitments
 * `C_j = sum_i a_ij G_i + b_j H` (`a_i0 = v_i`): so a receiver at `x` checks its whole share vector
 * with one equation, `sum_i f_i(x) G_i + g(x) H = sum_j x^j C_j`, instead of one per element.
 *
 * All point arithmetic is `@noble/curves`' (hash-to-curve, addition, doubling); this module only
 * arranges it: a bucket multi-scalar multiplication whose window fits the largest scalar, so
 * small inputs (a vector of counts) cost a few bucket passes, not one per 8 bits of the field.
 */
import { ed25519_hasher } from '@noble/curves/ed25519.js';
import { secp256k1_hasher } from '@noble/curves/secp256k1.js';
import { utf8 } from '../bytes.js';
import { ValidationError } from '../errors.js';
import { assertSuite } from '../guards.js';
import type { Ciphersuite, Rng } from '../suite/types.js';
import { randomWeights, scalePoint } from './batch.js';
import { MAX_VECTOR_LENGTH } from './circuit.js';
import {
  bucketWindow,
  type CurvePoint,
  ED,
  generators,
  msm,
  msmSteps,
  mulH,
  pointClass,
  runSteps,
  STEP_OPS,
  stepBudget,
  sumBuckets,
} from './curve.js';
import { horner } from './shamir.js';
import type { VectorDealingPad } from './vector-pad.js';

/** Domain-separation tag of the vector generators `G_i`. */
export const VECTOR_GENERATOR_DST = 'AAPS-QUORUM-v1-pedersen-vector';

/** Generators by suite id, grown on demand (they depend on the index only, not on the length). */
const generatorCache = new Map<string, CurvePoint[]>();

/** A hash-to-curve call in a step budget, in point operations (it costs about that many). */
const HASH_TO_CURVE_OPS = 400;

/**
 * `G_0 .. G_{length-1}` for the suite (`length` in `[0, MAX_VECTOR_LENGTH]`), derived once per
 * process and reused; returned as a frozen copy, so the cache cannot be changed through it.
 */
export function vectorGenerators<E>(suite: Ciphersuite<E>, length: number): readonly CurvePoint[] {
  assertSuite(suite);
  return runSteps(generatorSteps(suite, length, Number.POSITIVE_INFINITY));
}

/** {@link vectorGenerators} in steps, pausing after about `opsPerStep` operations' worth of hashing. */
function* generatorSteps<E>(
  suite: Ciphersuite<E>,
  length: number,
  opsPerStep: number,
): Generator<void, readonly CurvePoint[], void> {
  if (!Number.isSafeInteger(length) || length < 0 || length > MAX_VECTOR_LENGTH) {
    throw new ValidationError(
      'INVALID_ARGUMENT',
      `length: expected an integer in [0, ${MAX_VECTOR_LENGTH}]`,
      ['length'],
    );
  }
  let list = generatorCache.get(suite.id);
  if (!list) {
    list = [];
    generatorCache.set(suite.id, list);
  }
  if (list.length < length) {
    const Pc = pointClass(suite.id);
    const hasher = Pc === ED ? ed25519_hasher : secp256k1_hasher;
    const prefix = utf8(suite.id);
    const dst = utf8(VECTOR_GENERATOR_DST);
    const msg = new Uint8Array(prefix.length + 4);
    msg.set(prefix);
    const view = new DataView(msg.buffer);
    const spend = stepBudget(opsPerStep);
    // By the cache's length: another computation may derive some between pauses.
    while (list.length < length) {
      view.setUint32(prefix.length, list.length);
      list.push(hasher.hashToCurve(msg, { DST: dst }) as unknown as CurvePoint);
      if (spend(HASH_TO_CURVE_OPS)) yield;
    }
  }
  // A frozen copy (a few microseconds against the multiplication it feeds), not the cache itself.
  return Object.freeze(list.slice(0, length));
}

const sumCache = new Map<string, CurvePoint>();

/** `sum_i G_i` over the first `length` generators: the commitment of an all-ones vector. */
export function vectorGeneratorSum<E>(suite: Ciphersuite<E>, length: number): CurvePoint {
  const key = `${suite.id}/${length}`;
  let sum = sumCache.get(key);
  if (!sum) {
    sum = pointClass(suite.id).ZERO;
    for (const g of vectorGenerators(suite, length)) sum = sum.add(g);
    sumCache.set(key, sum);
  }
  return sum;
}

/**
 * The commitment of an output's constant: `constant * G`, or for a vector output `constant *
 * sum_i G_i` (the constant is added to every element); the identity when it is 0.
 */
export function constantCommitment<E>(
  suite: Ciphersuite<E>,
  output: { readonly constant: bigint; readonly length: number },
): CurvePoint {
  if (output.constant === 0n) return pointClass(suite.id).ZERO;
  const base = output.length === 1 ? generators(suite).G : vectorGeneratorSum(suite, output.length);
  return scalePoint(suite, base, output.constant);
}

/** Window width of the generators' tables: `2^c` buckets, `ceil(bits / c)` table points each. */
const TABLE_C = 11;
/** Generators that get tables (23 points each on Ed25519, about 5 KB): the first 2,048. */
const TABLE_LIMIT = 2048;

interface GeneratorTables {
  /** `rows[i][w] = 2^(c w) G_i`. */
  readonly rows: CurvePoint[][];
  /** Whether a full-size multiplication has run without them (the next one builds them). */
  warm: boolean;
}
const tableCache = new Map<string, GeneratorTables>();

function tablesFor<E>(suite: Ciphersuite<E>): GeneratorTables {
  let t = tableCache.get(suite.id);
  if (!t) {
    t = { rows: [], warm: false };
    tableCache.set(suite.id, t);
  }
  return t;
}

/**
 * `sum_i scalars[i] G_i` over the suite's vector generators. A long-running process (a party)
 * builds, for the first {@link TABLE_LIMIT} generators, tables of `2^(c w) G_i` once it has done
 * one full-size multiplication without them: then every (generator, window) pair is one bucket
 * addition into a single set of buckets, with no doublings and one bucket sum in all, about 40%
 * fewer additions than {@link msm} for full-size scalars. Small scalars (vectors of counts) and
 * generators beyond the limit go through {@link msm}.
 */
export function msmGenerators<E>(suite: Ciphersuite<E>, scalars: readonly bigint[]): CurvePoint {
  const Pc = pointClass(suite.id);
  const n = scalars.length;
  const bits = checkedBits(suite, scalars);
  const windows = Math.ceil(bits / TABLE_C);
  const tabled = Math.min(n, TABLE_LIMIT);
  // Plain bucket method unless the tables pay: n * windows + 2 * 2^c against its own estimate.
  const tables = tablesFor(suite);
  if (tabled < 64 || n * windows + 2 * 2 ** TABLE_C >= bucketWindow(n, bits).cost) {
    return msm(Pc, vectorGenerators(suite, n), scalars);
  }
  if (tables.rows.length < tabled && !tables.warm) {
    tables.warm = true;
    return msm(Pc, vectorGenerators(suite, n), scalars);
  }
  return runSteps(tabledSteps(suite, scalars, Number.POSITIVE_INFINITY));
}

/** The bit length of the largest scalar; each must be in `[0, q)`. */
function checkedBits<E>(suite: Ciphersuite<E>, scalars: readonly bigint[]): number {
  const q = suite.field.ORDER;
  let max = 0n;
  for (const s of scalars) {
    if (typeof s !== 'bigint' || s < 0n || s >= q) {
      throw new RangeError('msmGenerators: expected scalars in [0, q)');
    }
    if (s > max) max = s;
  }
  return max === 0n ? 0 : max.toString(2).length;
}

/**
 * {@link msmGenerators} in steps (see {@link tabledSteps}), for work done while a process stays
 * responsive: on the tables, built in the same steps if missing; a short vector (under 64
 * elements) by the plain bucket method, in steps too.
 */
export function* msmGeneratorsSteps<E>(
  suite: Ciphersuite<E>,
  scalars: readonly bigint[],
  opsPerStep = STEP_OPS,
): Generator<void, CurvePoint, void> {
  checkedBits(suite, scalars);
  if (scalars.length >= 64) return yield* tabledSteps(suite, scalars, opsPerStep);
  const G = yield* generatorSteps(suite, scalars.length, opsPerStep);
  return yield* msmSteps(pointClass(suite.id), G, scalars, opsPerStep);
}

/**
 * {@link msmGenerators} on the tables, in steps: it pauses (yields) after about `opsPerStep` point
 * operations, deriving missing generators and building missing table rows first, so a caller can
 * serve other work between steps. With an infinite budget it never pauses. Generators and rows are
 * added whole between pauses, by index, so an interleaved computation always sees complete ones.
 */
function* tabledSteps<E>(
  suite: Ciphersuite<E>,
  scalars: readonly bigint[],
  opsPerStep: number,
): Generator<void, CurvePoint, void> {
  const Pc = pointClass(suite.id);
  const n = scalars.length;
  const G = yield* generatorSteps(suite, n, opsPerStep);
  const tables = tablesFor(suite);
  const tabled = Math.min(n, TABLE_LIMIT);
  const fullWindows = Math.ceil(suite.field.ORDER.toString(2).length / TABLE_C);
  const spend = stepBudget(opsPerStep);
  while (tables.rows.length < tabled) {
    const row: CurvePoint[] = [];
    let p = G[tables.rows.length]!;
    for (let w = 0; w < fullWindows; w++) {
      row.push(p);
      for (let d = 0; d < TABLE_C && w + 1 < fullWindows; d++) p = p.double();
    }
    tables.rows.push(row);
    if (spend(fullWindows * TABLE_C)) yield;
  }
  const mask = BigInt(2 ** TABLE_C - 1);
  const wc = BigInt(TABLE_C);
  const buckets: (CurvePoint | undefined)[] = new Array(2 ** TABLE_C);
  for (let i = 0; i < tabled; i++) {
    const row = tables.rows[i]!;
    let s = scalars[i]!;
    let adds = 0;
    for (let w = 0; s > 0n; w++) {
      const d = Number(s & mask);
      s >>= wc;
      if (d === 0) continue;
      const b = buckets[d];
      buckets[d] = b ? b.add(row[w]!) : row[w]!;
      adds++;
    }
    if (spend(adds)) yield;
  }
  const head = sumBuckets(buckets) ?? Pc.ZERO;
  if (tabled === n) return head;
  return head.add(yield* msmSteps(Pc, G.slice(tabled), scalars.slice(tabled), opsPerStep));
}

/** `sum_i v_i G_i + blinding * H` for field elements `v` (each in `[0, q)`). */
export function commitVector<E>(
  suite: Ciphersuite<E>,
  values: readonly bigint[],
  blinding: bigint,
): CurvePoint {
  return msmGenerators(suite, values).add(mulH(suite, blinding));
}

/**
 * `sum_i v_i G_i` for signed integers `v` with `|v| < q` (opened values, which a record bounds to
 * `(-q/2, q/2)`): negative elements go through their negated generators, so small magnitudes stay
 * cheap.
 */
export function commitSigned<E>(suite: Ciphersuite<E>, values: readonly bigint[]): CurvePoint {
  const G = vectorGenerators(suite, values.length);
  return msm(
    pointClass(suite.id),
    G.map((g, i) => (values[i]! < 0n ? g.negate() : g)),
    values.map((v) => (v < 0n ? -v : v)),
  );
}

/** A receiver's share of a vector dealing: `f_i(x)` per element and `g(x)`. */
export interface VectorShare {
  readonly values: readonly bigint[];
  readonly blinding: bigint;
}

export interface VectorDealing {
  /** `C_0 .. C_{t-1}` as curve points (`C_0` commits to the vector). */
  readonly points: readonly CurvePoint[];
  /** Per receiver, in the order of `xs`. */
  readonly shares: readonly VectorShare[];
  /** `g(0)`, the blinding of `C_0`. */
  readonly blinding: bigint;
}

/** `count` uniform field elements drawn from `rng`. */
export function randomScalars<E>(suite: Ciphersuite<E>, rng: Rng, count: number): bigint[] {
  const F = suite.field;
  const out: bigint[] = [];
  for (let k = 0; k < count; k++) out.push(F.random(rng));
  return out;
}

/**
 * Share the vector `values` (field elements) among receivers at `xs`, `threshold` of whom can
 * reconstruct it. Arguments are the caller's to validate (the protocol layer does). With a `pad`
 * (`vector-pad.ts`; its shape checked by the caller, used up here) the random coefficients and
 * their commitments come from it, and only `C_0` is computed.
 */
export function dealVector<E>(
  suite: Ciphersuite<E>,
  values: readonly bigint[],
  xs: readonly bigint[],
  threshold: number,
  rng: Rng,
  pad?: VectorDealingPad,
): VectorDealing {
  const F = suite.field;
  const L = values.length;
  // coefficients[j][i] = a_ij (j >= 1); blinding polynomial g.
  let coefficients: (readonly bigint[])[];
  let g: bigint[];
  let points: CurvePoint[];
  if (pad) {
    const parts = pad.take();
    coefficients = [values, ...parts.coefficients];
    g = [F.random(rng), ...parts.blindings];
    points = [commitVector(suite, values, g[0]!), ...parts.points];
  } else {
    coefficients = [values];
    for (let j = 1; j < threshold; j++) coefficients.push(randomScalars(suite, rng, L));
    g = randomScalars(suite, rng, threshold);
    points = coefficients.map((a, j) => commitVector(suite, a, g[j]!));
  }
  const shares = xs.map((x) => {
    const out = new Array<bigint>(L);
    for (let i = 0; i < L; i++) {
      let acc = coefficients[threshold - 1]![i]!;
      for (let j = threshold - 2; j >= 0; j--) acc = F.add(F.mul(acc, x), coefficients[j]![i]!);
      out[i] = acc;
    }
    return { values: out, blinding: horner(F, g, x) };
  });
  return { points, shares, blinding: g[0]! };
}

/** `sum_j x^j C_j` weighted by `r`: the scalars for the commitment side of a batched check. */
function powers(x: bigint, t: number, r: bigint, q: bigint): bigint[] {
  const out: bigint[] = [];
  let p = r % q;
  for (let j = 0; j < t; j++) {
    out.push(p);
    p = (p * x) % q;
  }
  return out;
}

/** One vector share to check: the commitments it should lie on, at `x`. */
export interface VectorCheckItem {
  readonly x: bigint;
  /** `C_0 .. C_{t-1}` (curve points; decoded without a subgroup test: see below). */
  readonly points: readonly CurvePoint[];
  readonly values: readonly bigint[];
  readonly blinding: bigint;
}

/**
 * Check every item's share vector against its commitments with one random linear combination:
 *
 *     h * ( sum_i (sum_k r_k v_ki) G_i + (sum_k r_k b_k) H - sum_k sum_j r_k x_k^j C_kj ) = 0
 *
 * with fresh 128-bit `r_k` (a single item needs none) and the cofactor `h`: one multi-scalar
 * multiplication over the longest vector's generators and the items' commitments. Returns `true`
 * when all hold, otherwise the indexes of the items that fail on their own.
 */
export function checkVectorShares<E>(
  suite: Ciphersuite<E>,
  items: readonly VectorCheckItem[],
  rng: Rng,
): true | number[] {
  if (items.length === 0) return true;
  if (combinedHolds(suite, items, items.length === 1 ? [1n] : randomWeights(rng, items.length))) return true;
  if (items.length === 1) return [0];
  const bad: number[] = [];
  items.forEach((it, k) => {
    if (!vectorShareHolds(suite, it)) bad.push(k);
  });
  return bad;
}

/** One share vector against its commitments (no random weights needed for one). */
export function vectorShareHolds<E>(suite: Ciphersuite<E>, item: VectorCheckItem): boolean {
  return combinedHolds(suite, [item], [1n]);
}

function combinedHolds<E>(
  suite: Ciphersuite<E>,
  items: readonly VectorCheckItem[],
  r: readonly bigint[],
): boolean {
  const F = suite.field;
  const q = F.ORDER;
  const Pc = pointClass(suite.id);
  let L = 0;
  for (const it of items) L = Math.max(L, it.values.length);
  const sums = new Array<bigint>(L).fill(0n);
  let blinding = 0n;
  // Commitment scalars summed per point list: at an opening every party's item names the same
  // combined commitments, which then enter the multiplication once.
  const byPoints = new Map<readonly CurvePoint[], bigint[]>();
  items.forEach((it, k) => {
    const rk = r[k]!;
    const vs = it.values;
    for (let i = 0; i < vs.length; i++) sums[i] = sums[i]! + rk * vs[i]!;
    blinding += rk * it.blinding;
    const pw = powers(it.x, it.points.length, rk, q);
    const acc = byPoints.get(it.points);
    if (!acc) byPoints.set(it.points, pw);
    else for (let j = 0; j < pw.length; j++) acc[j] = acc[j]! + pw[j]!;
  });
  const points: CurvePoint[] = [];
  const scalars: bigint[] = [];
  for (const [list, pw] of byPoints) {
    list.forEach((p, j) => {
      const s = pw[j]! % q;
      points.push(p);
      scalars.push(s === 0n ? 0n : q - s);
    });
  }
  const lhs = msmGenerators(
    suite,
    sums.map((s) => s % q),
  );
  const b = blinding % q;
  const total = lhs.add(mulH(suite, b)).add(msm(Pc, points, scalars));
  return total.clearCofactor().is0();
}
