/**
 * Fixed-base multiplication for Pedersen commitments `aG + bH`: comb tables for both bases
 * (`T_i[d] = d * 2^(w*i) * P`, so a scalar multiplication is additions only), and on Ed25519 the
 * tables in affine Niels form so each addition is the 7-multiplication mixed addition of ref10's
 * `ge_madd` on plain bigints. Results are normalized in batches with one field inversion.
 * Byte-identical to the suite's own `mulBase` / `mul` (tested).
 *
 * Secret scalars (coefficients, blindings, bits) pass here, so every multiplication runs the same
 * sequence of additions whatever the scalar (every window, the identity entry for a zero digit).
 * As with noble's own precomputed base-point multiplication, the table index is not hidden from
 * cache timing, and JavaScript bigint arithmetic is not constant-time.
 */
import type { Ciphersuite } from '../suite/types.js';
import {
  type CurvePoint,
  ED,
  ED_D,
  type Field,
  generators,
  type Projective,
  pointClass,
  writeBE,
  writeLE,
} from './curve.js';
import { red25519 } from './ed-points.js';
import { pedersenCommit } from './pedersen.js';

/**
 * Fixed-base comb tables for `G` and `H` (`T_i[d] = d * 2^(w*i) * P`, w = 8): a scalar
 * multiplication is then 32 additions and no doublings. Built once per suite on first use (about
 * 16,000 additions). On Ed25519 only the affine Niels form is kept (about 3 MB), which matters in
 * party processes that run with a 64 MB heap.
 */
interface Comb {
  readonly w: number;
  readonly rows: readonly (readonly CurvePoint[])[];
}
const COMB_W = 8;

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

/** `k*P` on the comb; only the first `rows` rows (a scalar known to be below `2^(w*rows)`). */
function combMul(comb: Comb, ZERO: CurvePoint, k: bigint, rows = comb.rows.length): CurvePoint {
  let acc = ZERO;
  const mask = BigInt((1 << comb.w) - 1);
  const w = BigInt(comb.w);
  for (let i = 0; i < rows; i++, k >>= w) acc = acc.add(comb.rows[i]![Number(k & mask)]!);
  return acc;
}

/**
 * Ed25519 comb rows in affine Niels form `(y+x, y-x, 2dxy)`, so each table addition is the
 * 7-multiplication mixed addition of ref10's `ge_madd`, on plain bigints.
 */
interface NielsComb {
  readonly w: number;
  readonly rows: readonly { ypx: bigint[]; ymx: bigint[]; xy2d: bigint[] }[];
}

function toNiels(comb: Comb): NielsComb {
  const F = ED.Fp;
  const p = F.ORDER;
  const flat = comb.rows.flatMap((r) => r.slice(1));
  const aff = normalize(F, flat as unknown as Projective[]);
  let k = 0;
  const rows = comb.rows.map((r) => {
    // Entry 0 is the identity, (y+x, y-x, 2dxy) = (1, 1, 0).
    const ypx = [1n];
    const ymx = [1n];
    const xy2d = [0n];
    for (let d = 1; d < r.length; d++, k++) {
      const { x, y } = aff[k]!;
      ypx.push((y + x) % p);
      ymx.push((y - x + p) % p);
      xy2d.push((((2n * ED_D) % p) * ((x * y) % p)) % p);
    }
    return { ypx, ymx, xy2d };
  });
  return { w: comb.w, rows };
}

/** The tables of one suite: Niels rows on Ed25519, curve-point rows elsewhere. */
type Tables =
  | { readonly kind: 'niels'; readonly G: NielsComb; readonly H: NielsComb }
  | { readonly kind: 'points'; readonly G: Comb; readonly H: Comb };
/** By suite id: the tables depend on the curve and `H` only, so both backends share them. */
const tables = new Map<string, Tables>();

function tablesFor<E>(suite: Ciphersuite<E>): Tables {
  let t = tables.get(suite.id);
  if (t) return t;
  const { G, H, ZERO } = generators(suite);
  const bits = suite.field.ORDER.toString(2).length;
  t =
    pointClass(suite.id) === ED
      ? { kind: 'niels', G: toNiels(buildComb(G, ZERO, bits)), H: toNiels(buildComb(H, ZERO, bits)) }
      : { kind: 'points', G: buildComb(G, ZERO, bits), H: buildComb(H, ZERO, bits) };
  tables.set(suite.id, t);
  return t;
}

/**
 * `aG + bH` on Ed25519 in extended coordinates (values may be negative until normalized).
 * `a === undefined` leaves `G` out: for callers whose `a` is zero by construction, not by secret.
 * `aRows` limits the `G` part to the first rows, for an `a` publicly known to be that small.
 */
function edCommit(
  cg: NielsComb,
  ch: NielsComb,
  a: bigint | undefined,
  b: bigint,
  aRows = cg.rows.length,
): Projective {
  let X = 0n;
  let Y = 1n;
  let Z = 1n;
  let T = 0n;
  const parts: [NielsComb, bigint, number][] =
    a === undefined
      ? [[ch, b, ch.rows.length]]
      : [
          [cg, a, aRows],
          [ch, b, ch.rows.length],
        ];
  for (const [comb, k0, rows] of parts) {
    const mask = BigInt((1 << comb.w) - 1);
    const w = BigInt(comb.w);
    let k = k0;
    for (let i = 0; i < rows; i++, k >>= w) {
      const d = Number(k & mask);
      const row = comb.rows[i]!;
      const A = red25519((Y - X) * row.ymx[d]!);
      const B = red25519((Y + X) * row.ypx[d]!);
      const C = red25519(T * row.xy2d[d]!);
      const D = Z + Z;
      const E = B - A;
      const Fv = D - C;
      const G = D + C;
      const H = B + A;
      X = red25519(E * Fv);
      Y = red25519(G * H);
      T = red25519(E * H);
      Z = red25519(Fv * G);
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
 * for the whole batch. Byte-identical to `group.serialize(pedersenCommit(...))`. A pair's optional
 * third element is a public bound on `a` (`a < 2^aBits`, e.g. an input's declared range): only
 * the table rows that cover it are added, a fixed sequence for every `a` below the bound.
 */
export function commitMany<E>(
  suite: Ciphersuite<E>,
  pairs: readonly (readonly [bigint | undefined, bigint, number?])[],
): { commitments: Uint8Array[]; hints: Uint8Array[]; points: CurvePoint[] } {
  const Pc = pointClass(suite.id);
  const t = tablesFor(suite);
  const rowsFor = (a: bigint | undefined, aBits: number | undefined, all: number): number => {
    if (aBits === undefined || a === undefined) return all;
    const rows = Math.ceil(aBits / COMB_W);
    if (!Number.isSafeInteger(rows) || rows < 0 || a < 0n || a >> BigInt(rows * COMB_W) !== 0n) return all;
    return Math.min(rows, all);
  };
  let proj: Projective[];
  if (t.kind === 'niels') {
    const { G: ng, H: nh } = t;
    proj = pairs.map(([a, b, aBits]) => edCommit(ng, nh, a, b, rowsFor(a, aBits, ng.rows.length)));
  } else {
    const { G: cg, H: ch } = t;
    proj = pairs.map(
      ([a, b, aBits]) =>
        (a === undefined ? Pc.ZERO : combMul(cg, Pc.ZERO, a, rowsFor(a, aBits, cg.rows.length))).add(
          combMul(ch, Pc.ZERO, b),
        ) as unknown as Projective,
    );
  }
  const aff = normalize(Pc.Fp, proj);
  const commitments: Uint8Array[] = [];
  const hints: Uint8Array[] = [];
  const points: CurvePoint[] = [];
  aff.forEach(({ x, y, zero }) => {
    if (zero || (Pc === ED && x === 0n && y === 1n)) {
      // The identity (negligible for random inputs): its encoding where the suite has one.
      commitments.push(Pc === ED ? suite.group.serialize(suite.group.zero) : new Uint8Array(33));
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

/** Generic commitments a suite makes before the tables pay for themselves (building takes ~0.1 s). */
const WARM_UP = 256;
const uses = new Map<string, number>();

/**
 * `value*G + blinding*H` as the suite's element: through the comb tables once the process has
 * made {@link WARM_UP} commitments with this suite (or the tables exist already), else generic.
 */
export function commitFast<E>(suite: Ciphersuite<E>, value: bigint, blinding: bigint): E {
  return fixedBase(suite, value, blinding);
}

/** `k*H` (a commitment to zero by construction: the `G` part is left out, not computed). */
export function mulHFast<E>(suite: Ciphersuite<E>, k: bigint): E {
  return fixedBase(suite, undefined, k);
}

function fixedBase<E>(suite: Ciphersuite<E>, value: bigint | undefined, blinding: bigint): E {
  if (!tables.has(suite.id)) {
    const n = (uses.get(suite.id) ?? 0) + 1;
    uses.set(suite.id, n);
    if (n <= WARM_UP) return pedersenCommit(suite, value ?? 0n, blinding);
  }
  const { commitments, points } = commitMany(suite, [[value, blinding]]);
  if (points[0]!.is0()) return suite.group.zero;
  return asElement(suite, points[0]!, commitments[0]!);
}

/**
 * `a_i G + b_i H` as the suite's elements, in one batch on the tables (after the warm-up; before it,
 * generic multiplication). Pairs as in {@link commitMany}.
 */
export function commitElements<E>(
  suite: Ciphersuite<E>,
  pairs: readonly (readonly [bigint | undefined, bigint, number?])[],
): E[] {
  if (!tables.has(suite.id)) {
    const n = (uses.get(suite.id) ?? 0) + pairs.length;
    uses.set(suite.id, n);
    if (n <= WARM_UP) return pairs.map(([a, b]) => pedersenCommit(suite, a ?? 0n, b));
  }
  const { commitments, points } = commitMany(suite, pairs);
  return points.map((pt, i) => (pt.is0() ? suite.group.zero : asElement(suite, pt, commitments[i]!)));
}

/**
 * The suite's own element for a point this module computed (valid by construction): the noble
 * point itself, or for the libsodium backend, whose elements are canonical encodings, the bytes.
 */
export function asElement<E>(suite: Ciphersuite<E>, point: CurvePoint, bytes: Uint8Array): E {
  return (suite.backend === 'noble' ? point : bytes) as unknown as E;
}

/**
 * `a_i G + b_i H` as curve points: on the tables when they exist (or after the warm-up), else by
 * plain scalar multiplication.
 */
export function commitPoints<E>(
  suite: Ciphersuite<E>,
  pairs: readonly (readonly [bigint, bigint])[],
): CurvePoint[] {
  if (tables.has(suite.id) || (uses.get(suite.id) ?? 0) >= WARM_UP) return commitMany(suite, pairs).points;
  uses.set(suite.id, (uses.get(suite.id) ?? 0) + pairs.length);
  const { G, H, ZERO } = generators(suite);
  return pairs.map(([a, b]) => (a === 0n ? ZERO : G.multiply(a)).add(b === 0n ? ZERO : H.multiply(b)));
}
