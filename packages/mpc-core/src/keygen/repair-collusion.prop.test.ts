/**
 * Repair against colluders: what t - 1 parties learn by pooling everything they see in a repair.
 *
 * A coalition C of at most t - 1 parties among the helpers and the party being repaired knows its
 * own shares (and, when the repaired party is in C, the share it rebuilds: that is the point of a
 * repair), every delta its helpers receive, and every sigma when the repaired party is one of
 * them. The law: the coalition learns nothing about the group's polynomial beyond the points it
 * holds. Since every message is linear in the polynomial's coefficients and the honest helpers'
 * random summands, that is a rank statement: among the linear combinations of what the coalition
 * sees, those free of honest randomness are exactly the combinations of its own points. With at
 * most t - 1 such points, the group secret stays uniformly distributed.
 *
 * Part one checks that the implementation sends what the model says (run by `repairStep1` and
 * `repairStep2` on a real dealing): each helper's deltas sum to its Lagrange-weighted share and
 * each sigma is the sum of the deltas its helper received. Part two is the rank law over the model,
 * for every coalition of t - 1 of random repairs; and it shows the law can fail: a relay that
 * could read the deltas (they are sealed to their receivers) would learn the whole polynomial, and
 * the naive repair (each helper sends its weighted share straight to the repaired party) gives
 * the repaired party alone every helper's share.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  ciphersuites,
  identifierFromNumber,
  identifierToScalar,
  type KeyPackage,
  trustedDealer,
} from '../index.js';
import { signingShareScalar } from '../keys.js';
import { seededRng } from '../test-helpers/rng.js';
import { repairStep1, repairStep2 } from './repair.js';

const suite = ciphersuites.ed25519;
const F = suite.field;

/** zeta_i: the Lagrange basis at x_lost over the helpers' xs, for helper at index i. */
function zeta(xs: readonly bigint[], i: number, lostX: bigint): bigint {
  let num = 1n;
  let den = 1n;
  xs.forEach((x, j) => {
    if (j === i) return;
    num = F.mul(num, F.sub(lostX, x));
    den = F.mul(den, F.sub(xs[i]!, x));
  });
  return F.mul(num, F.inv(den));
}

/** Rank of a matrix over the scalar field (Gaussian elimination on a copy). */
function rank(rows: readonly (readonly bigint[])[]): number {
  const m = rows.map((r) => [...r]);
  const width = m[0]?.length ?? 0;
  let r = 0;
  for (let c = 0; c < width && r < m.length; c++) {
    const p = m.findIndex((row, i) => i >= r && !F.isZero(row[c]!));
    if (p < 0) continue;
    [m[r], m[p]] = [m[p]!, m[r]!];
    const inv = F.inv(m[r]![c]!);
    for (let i = 0; i < m.length; i++) {
      if (i === r || F.isZero(m[i]![c]!)) continue;
      const f = F.mul(m[i]![c]!, inv);
      m[i] = m[i]!.map((v, k) => F.sub(v, F.mul(f, m[r]![k]!)));
    }
    r++;
  }
  return r;
}

/**
 * Broken variants, to show the law can fail: `naive`, each helper sends zeta_h f(x_h) straight to
 * the repaired party; `unsealed`, the coalition also reads every delta in transit (as a relay
 * would if the deltas were not sealed to their receivers).
 */
type Variant = 'naive' | 'unsealed';

interface Repair {
  /** x-coordinates of the parties 1..n (identifiers 1..n). */
  readonly n: number;
  readonly t: number;
  /** Indices (0-based) of the helpers, and of the party being repaired. */
  readonly helpers: readonly number[];
  readonly lost: number;
}

/**
 * What coalition `coalition` (party indices) sees in repair `rp`, as linear forms over the unknowns:
 * the polynomial's t coefficients, then each honest helper's |helpers| - 1 random summands (a
 * corrupt helper's summands are its own choice, known to the coalition: constants, left out).
 * Returns the view's rows and the rows of the coalition's own points f(x_c).
 */
function coalitionView(rp: Repair, coalition: ReadonlySet<number>, variant?: Variant) {
  const naive = variant === 'naive';
  const { t, helpers, lost } = rp;
  const x = (i: number) => BigInt(i + 1);
  const honest = helpers.filter((h) => !coalition.has(h));
  const m = helpers.length;
  const width = t + honest.length * (m - 1);
  const evalRow = (i: number) => {
    const row = new Array<bigint>(width).fill(0n);
    let p = 1n;
    for (let k = 0; k < t; k++, p = F.mul(p, x(i))) row[k] = p;
    return row;
  };
  const xs = helpers.map(x);
  // delta_{h -> helpers[j]} as a form: r_{h,j} for j < m - 1, zeta_h f(x_h) - sum r_{h,*} for the last.
  const delta = (hIdx: number, j: number): bigint[] => {
    const h = helpers[hIdx]!;
    const row = new Array<bigint>(width).fill(0n);
    const base = t + honest.indexOf(h) * (m - 1);
    if (j < m - 1) {
      row[base + j] = 1n;
      return row;
    }
    const z = zeta(xs, hIdx, x(lost));
    evalRow(h).forEach((v, k) => {
      row[k] = F.mul(z, v);
    });
    for (let q = 0; q < m - 1; q++) row[base + q] = F.neg(1n);
    return row;
  };
  const view: bigint[][] = [];
  const add = (a: bigint[], b: bigint[]) => a.map((v, k) => F.add(v, b[k]!));
  helpers.forEach((h, hIdx) => {
    if (coalition.has(h)) return; // its own deltas are known to it already
    if (naive) {
      // The naive repair: zeta_h f(x_h) straight to the repaired party.
      if (coalition.has(lost)) {
        const z = zeta(xs, hIdx, x(lost));
        view.push(evalRow(h).map((v) => F.mul(z, v)));
      }
      return;
    }
    helpers.forEach((receiver, j) => {
      if (coalition.has(receiver) || variant === 'unsealed') view.push(delta(hIdx, j));
    });
  });
  if (!naive && coalition.has(lost)) {
    // sigma_j = sum_h delta_{h -> j}; a corrupt sender's part is a constant the coalition knows.
    helpers.forEach((receiver, j) => {
      if (coalition.has(receiver)) return; // that sigma is a sum of deltas the coalition holds
      let sigma = new Array<bigint>(width).fill(0n);
      helpers.forEach((h, hIdx) => {
        if (!coalition.has(h)) sigma = add(sigma, delta(hIdx, j));
      });
      view.push(sigma);
    });
  }
  const own = [...coalition].map(evalRow);
  return { view, own, width };
}

/**
 * The dimension of what the coalition learns about the polynomial (combinations of its view and
 * own points free of honest randomness), and the dimension of its own points.
 */
function learned(rp: Repair, coalition: ReadonlySet<number>, variant?: Variant) {
  const { view, own } = coalitionView(rp, coalition, variant);
  const all = [...view, ...own];
  const t = rp.t;
  const randomPart = all.map((row) => row.slice(t));
  const knowledge = rank(all) - rank(randomPart);
  return { knowledge, own: rank(own.map((row) => row.slice(0, t))) };
}

const repairArb = fc
  .record({ n: fc.integer({ min: 3, max: 7 }), tRaw: fc.nat(), seed: fc.nat() })
  .chain(({ n, tRaw, seed }) => {
    const t = 2 + (tRaw % (n - 2)); // 2..n-1: a repair needs t helpers besides the lost party
    const lostArb = fc.integer({ min: 0, max: n - 1 });
    return lostArb.chain((lost) => {
      const others = Array.from({ length: n }, (_, i) => i).filter((i) => i !== lost);
      return fc
        .shuffledSubarray(others, { minLength: t, maxLength: n - 1 })
        .filter((h) => h.length >= t)
        .map((helpers) => ({ n, t, lost, helpers: [...helpers].sort((a, b) => a - b), seed }));
    });
  })
  .filter((rp) => rp.helpers.length >= rp.t);

/** Every subset of `items` of exactly `size` members. */
function subsets<T>(items: readonly T[], size: number): T[][] {
  if (size === 0) return [[]];
  if (items.length < size) return [];
  const [first, ...rest] = items as [T, ...T[]];
  return [...subsets(rest, size - 1).map((s) => [first, ...s]), ...subsets(rest, size)];
}

describe('repair against colluders', () => {
  it('the implementation sends what the model says: deltas sum to the weighted share, sigmas sum the deltas', () => {
    fc.assert(
      fc.property(repairArb, ({ n, t, lost, helpers, seed }) => {
        const identifiers = Array.from({ length: n }, (_, i) => identifierFromNumber(suite, i + 1));
        const deal = trustedDealer(suite, { min: t, max: n }, { rng: seededRng(seed), identifiers });
        const kps = helpers.map((h) => deal.keyPackages[h]!) as KeyPackage[];
        const ids = kps.map((k) => k.identifier);
        const lostId = identifiers[lost]!;
        const rng = seededRng(seed + 1);
        const sent = kps.map((kp) => repairStep1(suite, ids, kp, lostId, rng));
        const xs = ids.map((id) => identifierToScalar(suite, id));
        const lostX = identifierToScalar(suite, lostId);
        const scalar = (b: { expose(): Uint8Array }) => F.fromBytes(b.expose());
        sent.forEach((deltas, i) => {
          expect(deltas.map((d) => d.receiver)).toEqual(ids);
          const sum = deltas.reduce((acc, d) => F.add(acc, scalar(d.delta)), 0n);
          expect(sum).toBe(F.mul(zeta(xs, i, lostX), signingShareScalar(suite, kps[i]!)));
        });
        const all = sent.flat();
        kps.forEach((kp) => {
          const mine = all.filter((d) => d.receiver === kp.identifier);
          const sigma = repairStep2(suite, ids, kp, mine);
          expect(scalar(sigma.sigma)).toBe(mine.reduce((acc, d) => F.add(acc, scalar(d.delta)), 0n));
        });
      }),
      { numRuns: 40 },
    );
  });

  it('any t - 1 of the helpers and the repaired party learn nothing beyond their own points', () => {
    fc.assert(
      fc.property(repairArb, (rp) => {
        const parties = [...rp.helpers, rp.lost];
        for (const c of subsets(parties, rp.t - 1)) {
          const { knowledge, own } = learned(rp, new Set(c));
          expect(own).toBe(c.length);
          expect(knowledge, `coalition ${c.join(',')} of repair ${JSON.stringify(rp)}`).toBe(own);
        }
      }),
      { numRuns: 60 },
    );
  });

  it('the law can fail: a relay that could read the deltas would learn the group secret', () => {
    // Why the deltas are sealed to their receivers: all of them give zeta_h f(x_h) for t helpers.
    const rp: Repair = { n: 5, t: 3, lost: 4, helpers: [0, 1, 2] };
    expect(learned(rp, new Set(), 'unsealed')).toEqual({ knowledge: 3, own: 0 });
    expect(learned(rp, new Set())).toEqual({ knowledge: 0, own: 0 });
  });

  it('the law can fail: in the naive repair the repaired party alone learns every helper’s share', () => {
    const rp: Repair = { n: 5, t: 3, lost: 4, helpers: [0, 1, 2] };
    const { knowledge, own } = learned(rp, new Set([4]), 'naive');
    expect(own).toBe(1);
    expect(knowledge).toBe(3);
  });
});
