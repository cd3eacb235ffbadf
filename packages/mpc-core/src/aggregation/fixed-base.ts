/**
 * Fixed-base multiplication for Pedersen commitments `aG + bH`: comb tables for both bases
 * (`T_i[d] = d * 2^(w*i) * P`, built with noble's point addition), so a scalar multiplication is
 * additions of table entries only; results are brought to affine form for the whole batch with
 * noble's `normalizeZ` (one field inversion) and encoded by noble. Byte-identical to the suite's
 * own `mulBase` / `mul` (tested). All curve arithmetic is `@noble/curves`'.
 *
 * Secret scalars (coefficients, blindings, bits) pass here, so every multiplication runs the same
 * sequence of additions whatever the scalar (every window, the identity entry for a zero digit).
 * As with noble's own precomputed base-point multiplication, the table index is not hidden from
 * cache timing, and JavaScript bigint arithmetic is not constant-time.
 */

import { normalizeZ } from '@noble/curves/abstract/curve.js';
import type { Ciphersuite } from '../suite/types.js';
import { type CurvePoint, ED, generators, mulG, mulH, pointClass, pointHint } from './curve.js';
import { pedersenCommit } from './pedersen.js';

/**
 * Fixed-base comb tables for `G` and `H` (`T_i[d] = d * 2^(w*i) * P`, w = 8): a scalar
 * multiplication is then 32 additions and no doublings. Built once per suite on first use (about
 * 16,000 additions with noble's point addition; the rows are noble points as the additions leave
 * them).
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

/** The comb tables of one suite, for `G` and `H`. */
interface Tables {
  readonly G: Comb;
  readonly H: Comb;
}
/** By suite id: the tables depend on the curve and `H` only, so both backends share them. */
const tables = new Map<string, Tables>();

function tablesFor<E>(suite: Ciphersuite<E>): Tables {
  let t = tables.get(suite.id);
  if (t) return t;
  const { G, H, ZERO } = generators(suite);
  const bits = suite.field.ORDER.toString(2).length;
  t = { G: buildComb(G, ZERO, bits), H: buildComb(H, ZERO, bits) };
  tables.set(suite.id, t);
  return t;
}

/**
 * Pedersen commitments `a_i G + b_i H` for many pairs at once, encoded, with their hints: comb
 * tables for the two fixed bases (noble point additions) and one field inversion
 * for the whole batch. Byte-identical to `group.serialize(pedersenCommit(...))`. A pair's optional
 * third element is a public bound on `a` (`a < 2^aBits`, e.g. an input's declared range): only
 * the table rows that cover it are added, a fixed sequence for every `a` below the bound.
 */
export function commitMany<E>(
  suite: Ciphersuite<E>,
  pairs: readonly (readonly [bigint | undefined, bigint, number?])[],
): { commitments: Uint8Array[]; hints: Uint8Array[]; points: CurvePoint[] } {
  const Pc = pointClass(suite.id);
  const rowsFor = (a: bigint | undefined, aBits: number | undefined, all: number): number => {
    if (aBits === undefined || a === undefined) return all;
    const rows = Math.ceil(aBits / COMB_W);
    if (!Number.isSafeInteger(rows) || rows < 0 || a < 0n || a >> BigInt(rows * COMB_W) !== 0n) return all;
    return Math.min(rows, all);
  };
  const { G: cg, H: ch } = tablesFor(suite);
  const sums = pairs.map(([a, b, aBits]) =>
    (a === undefined ? Pc.ZERO : combMul(cg, Pc.ZERO, a, rowsFor(a, aBits, cg.rows.length))).add(
      combMul(ch, Pc.ZERO, b),
    ),
  );
  // One inversion for the batch; the identity (negligible for random inputs) stays as it is.
  const nonZero = sums.filter((q) => !q.is0());
  const affine = nonZero.length === 0 ? [] : normalizeZ(Pc as never, nonZero as never[]);
  let next = 0;
  const commitments: Uint8Array[] = [];
  const hints: Uint8Array[] = [];
  const points: CurvePoint[] = [];
  for (const q of sums) {
    if (q.is0()) {
      commitments.push(Pc === ED ? suite.group.serialize(suite.group.zero) : new Uint8Array(33));
      hints.push(new Uint8Array(32));
      points.push(Pc.ZERO);
      continue;
    }
    const pt = affine[next++] as unknown as CurvePoint;
    commitments.push(pt.toBytes());
    hints.push(pointHint(Pc, pt));
    points.push(pt);
  }
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
  return commitElements(suite, [[value, blinding]])[0]!;
}

/** `k*H` (a commitment to zero by construction: the `G` part is left out, not computed). */
export function mulHFast<E>(suite: Ciphersuite<E>, k: bigint): E {
  return commitElements(suite, [[undefined, k]])[0]!;
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
  return pairs.map(([a, b]) => mulG(suite, a).add(mulH(suite, b)));
}
