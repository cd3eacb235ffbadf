/**
 * Shamir/Pedersen VSS laws: any t shares reconstruct, every share verifies and a changed one does
 * not, and t-1 shares say nothing about the secret (every candidate secret stays consistent with
 * exactly one polynomial through them, and share bytes look uniform whatever the secret).
 */
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { ProtocolError } from '../errors.js';
import { ciphersuites, getCiphersuite, loadFastBackends } from '../suite/registry.js';
import type { AnyCiphersuite } from '../suite/types.js';
import { commitmentHint, decodeCommitment } from './batch.js';
import {
  dealPedersen,
  dealPedersenEncoded,
  interpolateAtZero,
  lagrangeAtZero,
  pedersenShareHolds,
  verifyPedersenShare,
} from './shamir.js';
import {
  byteHistogram,
  chiSquareTwoSample,
  chiSquareUniform,
  countBytes,
} from './test-helpers/byte-histogram.js';
import { seededRng } from './test-helpers/fixtures.js';

let suite: AnyCiphersuite;
beforeAll(async () => {
  await loadFastBackends();
  suite = getCiphersuite('FROST-ED25519-SHA512-v1');
});

/** n, t <= n, a subset of size >= t (as indexes), a secret and a seed. */
const setup = fc.integer({ min: 2, max: 7 }).chain((n) =>
  fc.record({
    n: fc.constant(n),
    t: fc.integer({ min: 2, max: n }),
    subset: fc.shuffledSubarray(
      Array.from({ length: n }, (_, i) => i),
      { minLength: n, maxLength: n },
    ),
    secret: fc.bigInt({ min: 0n, max: (1n << 252n) - 1n }),
    seed: fc.integer(),
  }),
);

describe('Pedersen VSS over the Ed25519 scalar field', () => {
  it('any t of n shares reconstruct the secret and its blinding', () => {
    fc.assert(
      fc.property(setup, ({ n, t, subset, secret, seed }) => {
        const xs = Array.from({ length: n }, (_, i) => BigInt(i + 1));
        const d = dealPedersen(suite, secret, xs, t, seededRng(seed));
        const pick = subset.slice(0, t).map((i) => d.shares[i]!);
        const px = pick.map((s) => s.x);
        expect(
          interpolateAtZero(
            suite,
            px,
            pick.map((s) => s.share),
          ),
        ).toBe(secret);
        expect(
          interpolateAtZero(
            suite,
            px,
            pick.map((s) => s.blinding),
          ),
        ).toBe(d.blinding);
      }),
      { numRuns: 40 },
    );
  });

  it('every share verifies; a changed share or blinding is refused naming the dealer', () => {
    fc.assert(
      fc.property(setup, fc.bigInt({ min: 1n, max: 1n << 200n }), ({ n, t, secret, seed }, delta) => {
        const xs = Array.from({ length: n }, (_, i) => BigInt(i + 1));
        const d = dealPedersen(suite, secret, xs, t, seededRng(seed));
        for (const s of d.shares)
          expect(pedersenShareHolds(suite, d.commitments, s.x, s.share, s.blinding)).toBe(true);
        const s = d.shares[Math.abs(seed) % n]!;
        const F = suite.field;
        expect(pedersenShareHolds(suite, d.commitments, s.x, F.add(s.share, delta), s.blinding)).toBe(false);
        expect(pedersenShareHolds(suite, d.commitments, s.x, s.share, F.add(s.blinding, delta))).toBe(false);
        try {
          verifyPedersenShare(suite, {
            dealer: 'dealer-7',
            commitments: d.commitments,
            x: s.x,
            share: F.add(s.share, delta),
            blinding: s.blinding,
          });
          expect.unreachable();
        } catch (e) {
          expect(e).toBeInstanceOf(ProtocolError);
          expect((e as ProtocolError).code).toBe('INVALID_DEALING');
          expect((e as ProtocolError).culprits).toEqual(['dealer-7']);
        }
      }),
      { numRuns: 25 },
    );
  });

  it('t-1 shares are consistent with every candidate secret (one polynomial each)', () => {
    fc.assert(
      fc.property(
        setup,
        fc.bigInt({ min: 0n, max: (1n << 252n) - 1n }),
        ({ n, t, subset, secret, seed }, other) => {
          const F = suite.field;
          const xs = Array.from({ length: n }, (_, i) => BigInt(i + 1));
          const d = dealPedersen(suite, secret, xs, t, seededRng(seed));
          const seen = subset.slice(0, t - 1).map((i) => d.shares[i]!);
          // The unique polynomial of degree < t through (0, candidate) and the t-1 seen shares:
          // it reproduces every seen share and reaches the candidate at 0, for the true secret and
          // for any other candidate alike.
          for (const candidate of [secret, other]) {
            const px = [0n, ...seen.map((s) => s.x)];
            const py = [candidate, ...seen.map((s) => s.share)];
            const evalAt = (x: bigint) => {
              // Lagrange evaluation at x of the polynomial through (px, py).
              let acc = 0n;
              px.forEach((xi, i) => {
                let num = 1n;
                let den = 1n;
                px.forEach((xj, j) => {
                  if (i === j) return;
                  num = F.mul(num, F.sub(x, xj));
                  den = F.mul(den, F.sub(xi, xj));
                });
                acc = F.add(acc, F.mul(py[i]!, F.mul(num, F.inv(den))));
              });
              return acc;
            };
            expect(evalAt(0n)).toBe(candidate);
            for (const s of seen) expect(evalAt(s.x)).toBe(s.share);
            // and it is the polynomial any t-subset including it would reconstruct from:
            const extra = n + 1;
            const withExtra = [...seen.map((s) => s.x), BigInt(extra)];
            expect(
              interpolateAtZero(suite, withExtra, [...seen.map((s) => s.share), evalAt(BigInt(extra))]),
            ).toBe(candidate);
          }
        },
      ),
      { numRuns: 25 },
    );
  });

  it('the bulk dealer (comb tables, batched encoding) is byte-identical to the generic one', () => {
    for (const s of [suite, ciphersuites.ed25519, ciphersuites.secp256k1]) {
      fc.assert(
        fc.property(setup, ({ n, t, secret, seed }) => {
          const xs = Array.from({ length: n }, (_, i) => BigInt(i + 1));
          const v = secret % s.field.ORDER;
          const a = dealPedersen(s, v, xs, t, seededRng(seed));
          const b = dealPedersenEncoded(s, v, xs, t, seededRng(seed));
          expect(b.commitments).toEqual(a.commitments.map((c) => s.group.serialize(c)));
          expect(b.shares).toEqual(a.shares);
          expect(b.blinding).toBe(a.blinding);
          // Hints decode to the same points as plain decompression, and a wrong hint is refused.
          b.commitments.forEach((c, j) => {
            expect(b.hints[j]).toEqual(commitmentHint(s, a.commitments[j]!));
            const viaHint = decodeCommitment(s, c.slice(), b.hints[j]);
            const plain = decodeCommitment(s, c.slice());
            expect(viaHint && plain && viaHint.subtract(plain).is0()).toBe(true);
            const wrong = b.hints[j]!.slice();
            wrong[0]! ^= 1;
            expect(decodeCommitment(s, c.slice(), wrong)).toBeUndefined();
          });
        }),
        { numRuns: 4 },
      );
    }
  });

  it('Lagrange coefficients at 0 sum to 1 (the constant polynomial)', () => {
    fc.assert(
      fc.property(
        fc.uniqueArray(fc.integer({ min: 1, max: 1000 }), { minLength: 1, maxLength: 8 }),
        (ids) => {
          const l = lagrangeAtZero(
            suite,
            ids.map((i) => BigInt(i)),
          );
          expect(l.reduce((a, b) => suite.field.add(a, b), 0n)).toBe(1n);
        },
      ),
    );
  });

  it('shares look uniform whatever the secret (byte-frequency chi-square, fixed seed)', () => {
    const F = suite.field;
    const xs = [1n, 2n, 3n, 4n, 5n];
    const t = 3;
    const rng = seededRng('uniformity');
    // Collect the t-1 = 2 shares an adversary would hold, for secret 0 and for secret 1.
    const hist = (secret: bigint, bytes = 31) => {
      const out = byteHistogram();
      for (let i = 0; i < 600; i++) {
        const d = dealPedersen(suite, secret, xs, t, rng);
        // Low 31 bytes (little-endian) are uniform for a uniform scalar mod q ~ 2^252;
        // the top byte is below 0x11 by the size of q.
        for (const s of d.shares.slice(0, t - 1)) countBytes(out, F.toBytes(s.share).subarray(0, bytes));
      }
      return out;
    };
    const a = hist(0n);
    const b = hist(1n);
    // 255 degrees of freedom: mean 255, sd ~22.6; 400 is > 6 sd above the mean.
    expect(chiSquareUniform(a)).toBeLessThan(400);
    expect(chiSquareUniform(b)).toBeLessThan(400);
    // Two-sample test: the histograms for the two secrets agree.
    expect(chiSquareTwoSample(a, b)).toBeLessThan(400);
    // Control: the same statistic does catch a bias (the top byte, always below 0x11).
    expect(chiSquareUniform(hist(0n, 32))).toBeGreaterThan(400);
  });
});
