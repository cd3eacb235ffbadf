import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { ProtocolError } from '../errors.js';
import { getCiphersuite, loadFastBackends } from '../suite/registry.js';
import type { AnyCiphersuite } from '../suite/types.js';
import { pedersenCommit } from './pedersen.js';
import { proveRange, rangeProofContext, verifyRangeProof } from './range-proof.js';
import { seededRng } from './test-helpers/fixtures.js';

let suite: AnyCiphersuite;
beforeAll(async () => {
  await loadFastBackends();
  suite = getCiphersuite('FROST-ED25519-SHA512-v1');
});

function proveFor(s: AnyCiphersuite, value: bigint, lo: bigint, hi: bigint, seed: string | number = 1) {
  const rng = seededRng(seed);
  const blinding = s.field.random(rng);
  const commitment = pedersenCommit(s, s.field.create(value), blinding);
  const context = rangeProofContext({ circuitId: 'c', sessionId: 's', party: 'p1', input: 'x' });
  const statement = { commitment, lo, hi, context };
  return { statement, proof: proveRange(s, statement, { value, blinding }, rng) };
}

function rejects(f: () => void) {
  try {
    f();
  } catch (e) {
    expect(e).toBeInstanceOf(ProtocolError);
    expect((e as ProtocolError).code).toBe('INVALID_RANGE_PROOF');
    expect((e as ProtocolError).culprits).toEqual(['p1']);
    return;
  }
  expect.unreachable('the proof was accepted');
}

describe('range proof laws', () => {
  it('completeness for random ranges and values', () => {
    fc.assert(
      fc.property(
        fc.bigInt({ min: -(1n << 40n), max: 1n << 40n }),
        fc.bigInt({ min: 1n, max: (1n << 20n) - 1n }),
        fc.double({ min: 0, max: 1, noNaN: true }),
        fc.integer(),
        (lo, width, at, seed) => {
          const hi = lo + width;
          const v = lo + BigInt(Math.floor(Number(width) * at));
          const { statement, proof } = proveFor(suite, v, lo, hi, seed);
          verifyRangeProof(suite, statement, proof, 'p1');
        },
      ),
      { numRuns: 15 },
    );
  });

  it('any changed byte of the proof is rejected, naming the provider', () => {
    const { statement, proof } = proveFor(suite, 42n, 0n, 100n);
    fc.assert(
      fc.property(fc.nat({ max: proof.length - 1 }), fc.integer({ min: 1, max: 255 }), (pos, xor) => {
        const bad = proof.slice();
        bad[pos]! ^= xor;
        rejects(() => verifyRangeProof(suite, statement, bad, 'p1'));
      }),
      { numRuns: 60 },
    );
  });
});
