/** The fixed-base tables compute exactly the suite's own `aG + bH`, on every suite and backend. */
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { ciphersuites, getCiphersuite, loadFastBackends } from '../suite/registry.js';
import type { AnyCiphersuite } from '../suite/types.js';
import { commitFast, commitMany, mulHFast } from './fixed-base.js';
import { pedersenCommit } from './pedersen.js';

let suites: AnyCiphersuite[];
beforeAll(async () => {
  await loadFastBackends();
  suites = [getCiphersuite('FROST-ED25519-SHA512-v1'), ciphersuites.ed25519, ciphersuites.secp256k1];
});

const scalar = fc.oneof(
  fc.constantFrom(0n, 1n, 2n, (1n << 252n) - 1n),
  fc.bigInt({ min: 0n, max: (1n << 252n) - 1n }),
);

describe('fixed-base commitments', () => {
  it('commitMany is byte-identical to serialize(aG + bH)', () => {
    for (const s of suites) {
      fc.assert(
        fc.property(fc.array(fc.tuple(scalar, scalar), { minLength: 1, maxLength: 4 }), (pairs) => {
          const fine = pairs.filter(([a, b]) => a !== 0n || b !== 0n);
          fc.pre(fine.length > 0);
          const { commitments } = commitMany(s, fine);
          expect(commitments).toEqual(fine.map(([a, b]) => s.group.serialize(pedersenCommit(s, a, b))));
        }),
        { numRuns: 10 },
      );
    }
  });

  it('a public bound on a (fewer G rows) gives the same bytes, and a wrong bound is ignored', () => {
    for (const s of suites) {
      fc.assert(
        fc.property(
          fc.integer({ min: 1, max: 64 }),
          fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }),
          scalar,
          (bits, a0, b) => {
            const a = a0 % (1n << BigInt(bits));
            fc.pre(a !== 0n || b !== 0n);
            const expected = s.group.serialize(pedersenCommit(s, a, b));
            expect(commitMany(s, [[a, b, bits]]).commitments[0]).toEqual(expected);
            // A bound the value does not meet falls back to every row.
            const big = a + (1n << BigInt(bits));
            expect(commitMany(s, [[big, b, bits]]).commitments[0]).toEqual(
              s.group.serialize(pedersenCommit(s, big, b)),
            );
          },
        ),
        { numRuns: 10 },
      );
    }
  });

  it('commitFast equals pedersenCommit before and after the tables are built', () => {
    for (const s of suites) {
      // 300 calls: past the warm-up, so both paths run.
      for (let i = 0; i < 300; i++) {
        const a = BigInt(i) * 7919n;
        const b = BigInt(i) * 104729n + 3n;
        expect(s.group.equals(commitFast(s, a, b), pedersenCommit(s, a, b))).toBe(true);
        expect(s.group.equals(mulHFast(s, b), pedersenCommit(s, 0n, b))).toBe(true);
      }
      expect(s.group.isZero(commitFast(s, 0n, 0n))).toBe(true);
      expect(s.group.isZero(mulHFast(s, 0n))).toBe(true);
      expect(s.group.equals(commitFast(s, 1n, 0n), s.group.base)).toBe(true);
    }
  });
});
