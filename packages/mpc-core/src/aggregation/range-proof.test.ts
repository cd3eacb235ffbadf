import { beforeAll, describe, expect, it } from 'vitest';
import { ProtocolError, ValidationError } from '../errors.js';
import { ciphersuites, getCiphersuite, loadFastBackends } from '../suite/registry.js';
import type { AnyCiphersuite } from '../suite/types.js';
import { pedersenCommit } from './pedersen.js';
import {
  proveRange,
  rangeProofContext,
  rangeProofLength,
  rangeWeights,
  verifyRangeProof,
} from './range-proof.js';
import { seededRng } from './test-helpers/fixtures.js';

let suite: AnyCiphersuite;
beforeAll(async () => {
  await loadFastBackends();
  suite = getCiphersuite('FROST-ED25519-SHA512-v1');
});

const ctx = (party = 'p1', input = 'risk.audit') =>
  rangeProofContext({ circuitId: 'weighted-risk', sessionId: 's-1', party, input });

function proveFor(s: AnyCiphersuite, value: bigint, lo: bigint, hi: bigint, seed: string | number = 1) {
  const rng = seededRng(seed);
  const blinding = s.field.random(rng);
  const commitment = pedersenCommit(s, s.field.create(value), blinding);
  const statement = { commitment, lo, hi, context: ctx() };
  const proof = proveRange(s, statement, { value, blinding }, rng);
  return { statement, proof, blinding };
}

function rejects(f: () => void, provider = 'p1') {
  try {
    f();
  } catch (e) {
    expect(e).toBeInstanceOf(ProtocolError);
    expect((e as ProtocolError).code).toBe('INVALID_RANGE_PROOF');
    expect((e as ProtocolError).culprits).toEqual([provider]);
    return;
  }
  expect.unreachable('the proof was accepted');
}

describe('range weights', () => {
  it('cover exactly [0, hi - lo] for every width (exhaustive up to 70)', () => {
    for (let R = 1n; R <= 70n; R++) {
      const w = rangeWeights(0n, R);
      const reachable = new Set<bigint>();
      for (let mask = 0; mask < 1 << w.length; mask++) {
        let v = 0n;
        w.forEach((wj, j) => {
          if (mask & (1 << j)) v += wj;
        });
        reachable.add(v);
      }
      expect(Math.max(...[...reachable].map(Number))).toBe(Number(R));
      for (let v = 0n; v <= R; v++) expect(reachable.has(v)).toBe(true);
    }
  });

  it('0..100 takes 7 bits', () => {
    expect(rangeWeights(0n, 100n)).toEqual([1n, 2n, 4n, 8n, 16n, 32n, 37n]);
    expect(rangeProofLength(ciphersuites.ed25519, 0n, 100n)).toBe(7 * (32 + 4 * 32));
  });

  it('refuses an empty or too wide range', () => {
    expect(() => rangeWeights(5n, 5n)).toThrow(ValidationError);
    expect(() => rangeWeights(0n, 1n << 129n)).toThrow(ValidationError);
  });
});

describe('range proof', () => {
  it('proves and verifies boundary values of 0..100 on both suites', () => {
    for (const s of [suite, ciphersuites.secp256k1]) {
      for (const v of [0n, 1n, 63n, 64n, 99n, 100n]) {
        const { statement, proof } = proveFor(s, v, 0n, 100n, `b${v}`);
        expect(() => verifyRangeProof(s, statement, proof, 'p1')).not.toThrow();
      }
    }
  });

  it('handles negative bounds', () => {
    const { statement, proof } = proveFor(suite, -7n, -10n, 10n);
    expect(() => verifyRangeProof(suite, statement, proof, 'p1')).not.toThrow();
  });

  it('the prover refuses a value outside the range', () => {
    expect(() => proveFor(suite, 101n, 0n, 100n)).toThrow(ValidationError);
    expect(() => proveFor(suite, -1n, 0n, 100n)).toThrow(ValidationError);
  });

  it('fails for another commitment (value + 1), another context or another range', () => {
    const { statement, proof } = proveFor(suite, 100n, 0n, 100n);
    const bumped = suite.group.add(statement.commitment, suite.group.base);
    rejects(() => verifyRangeProof(suite, { ...statement, commitment: bumped }, proof, 'p1'));
    rejects(() => verifyRangeProof(suite, { ...statement, context: ctx('p2') }, proof, 'p1'));
    rejects(() =>
      verifyRangeProof(suite, { ...statement, context: ctx('p1', 'risk.strategy') }, proof, 'p1'),
    );
    rejects(() => verifyRangeProof(suite, { ...statement, hi: 127n }, proof, 'p1'));
    rejects(() => verifyRangeProof(suite, { ...statement, lo: 1n, hi: 101n }, proof, 'p1'));
  });

  it('a proof built for an out-of-range value with forged bits fails', () => {
    // Commit to 101 and reuse a valid proof's bits for 100 under the shifted commitment:
    // the weighted bit commitments then miss the input by G.
    const { statement, proof, blinding } = proveFor(suite, 100n, 0n, 100n);
    const c101 = pedersenCommit(suite, 101n, blinding);
    rejects(() => verifyRangeProof(suite, { ...statement, commitment: c101 }, proof, 'p1'));
  });

  it('rejects a truncated or extended proof', () => {
    const { statement, proof } = proveFor(suite, 5n, 0n, 100n);
    rejects(() => verifyRangeProof(suite, statement, proof.subarray(1), 'p1'));
    rejects(() => verifyRangeProof(suite, statement, new Uint8Array([...proof, 0]), 'p1'));
  });
});
