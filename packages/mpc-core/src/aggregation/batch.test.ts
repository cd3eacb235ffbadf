/**
 * The batched paths at bulk sizes (random linear combinations over dozens of dealings or outputs,
 * past the small-batch cut-off): all good passes, one bad share or result share fails the batch
 * and its author is named, on every suite and backend.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { ProtocolError } from '../errors.js';
import { SecretBytes } from '../secret.js';
import { ciphersuites, getCiphersuite, loadFastBackends } from '../suite/registry.js';
import type { AnyCiphersuite } from '../suite/types.js';
import { loadCircuit } from './circuit.js';
import {
  createAggregationSession,
  dealInputs,
  evaluateShares,
  type InputDealing,
  openResult,
  verifyDealings,
} from './protocol.js';
import { partiesFor, ROLES, seededRng } from './test-helpers/fixtures.js';

const M = 12; // inputs per role: 5 x 12 = 60 dealings, 12 outputs
const circuit = loadCircuit({
  format: 'aaps-circuit/v1',
  id: 'bulk-test',
  version: 1,
  description: 'element-wise sum',
  inputs: ROLES.flatMap((role) =>
    Array.from({ length: M }, (_, k) => ({
      name: `x${k}.${role}`,
      role,
      range: { min: 0, max: 1000 },
      rangeProof: false,
    })),
  ),
  outputs: Array.from({ length: M }, (_, k) => ({
    name: `sum${k}`,
    terms: ROLES.map((role) => ({ input: `x${k}.${role}` })),
  })),
});

let suites: [string, AnyCiphersuite][];
beforeAll(async () => {
  await loadFastBackends();
  suites = [
    ['ed25519/libsodium', getCiphersuite('FROST-ED25519-SHA512-v1')],
    ['ed25519/noble', ciphersuites.ed25519],
    ['secp256k1/noble', ciphersuites.secp256k1],
  ];
});

function setup(suite: AnyCiphersuite, seed: string) {
  const rng = seededRng(seed);
  const parties = partiesFor(suite);
  const sessionId = seed.replace(/[^A-Za-z0-9._:-]/g, '.');
  const session = createAggregationSession(suite, { circuit, sessionId, threshold: 3, parties });
  const dealings = parties.flatMap((p, d) =>
    dealInputs(
      session,
      {
        dealer: p.id,
        values: Array.from({ length: M }, (_, k) => ({
          input: `x${k}.${ROLES[d]}`,
          value: (k * 7 + d) % 1000,
        })),
      },
      rng,
    ),
  );
  return { rng, parties, session, dealings };
}

function culpritsOf(f: () => unknown): readonly string[] {
  try {
    f();
  } catch (e) {
    expect(e).toBeInstanceOf(ProtocolError);
    expect((e as ProtocolError).code).toBe('INVALID_DEALING');
    return (e as ProtocolError).culprits;
  }
  return [];
}

describe('batched checks at bulk sizes', () => {
  it('one bad share among 60 dealings fails the batch and names its dealer', () => {
    for (const [name, suite] of suites) {
      const { rng, parties, session, dealings } = setup(suite, `bad-share-${name}`);
      const receiver = parties[1]!.id;
      expect(culpritsOf(() => verifyDealings(session, dealings, receiver, rng))).toEqual([]);
      const k = 40;
      const d = dealings[k]!;
      const own = d.shares[receiver]!;
      const F = suite.field;
      const bumped = F.toBytes(F.add(F.fromBytes(own.blinding.expose()), 1n));
      const bad: InputDealing = {
        ...d,
        shares: { ...d.shares, [receiver]: { share: own.share, blinding: new SecretBytes(bumped) } },
      };
      const all = dealings.map((x, i) => (i === k ? bad : x));
      expect(
        culpritsOf(() => verifyDealings(session, all, receiver, rng)),
        name,
      ).toEqual([d.dealer]);
    }
  });

  it('a hint that does not match its commitment names the dealer', () => {
    for (const [name, suite] of suites) {
      const { rng, parties, session, dealings } = setup(suite, `bad-hint-${name}`);
      const k = 7;
      const d = dealings[k]!;
      const hints = d.hints!.map((h, j) =>
        j === 1 ? Uint8Array.from(h, (b, i) => (i === 0 ? b ^ 1 : b)) : h,
      );
      const all = dealings.map((x, i) => (i === k ? { ...d, hints } : x));
      expect(
        culpritsOf(() => verifyDealings(session, all, parties[2]!.id, rng)),
        name,
      ).toEqual([d.dealer]);
    }
  });

  it('one bad result share among 12 outputs names its party; the opening completes from the others', () => {
    for (const [name, suite] of suites) {
      const { rng, parties, session, dealings } = setup(suite, `bad-result-${name}`);
      const liar = parties[0]!.id;
      const shares = parties.flatMap((p) => {
        const mine = evaluateShares(session, p.id, verifyDealings(session, dealings, p.id, rng));
        if (p.id !== liar) return mine;
        return mine.map((r, k) => {
          if (k !== 5) return r;
          const b = r.share.slice();
          b[0]! ^= 4;
          return { ...r, share: b };
        });
      });
      const opened = openResult(session, dealings, shares, rng);
      expect(opened.culprits, name).toEqual([liar]);
      expect(opened.openers).not.toContain(liar);
      opened.outputs.forEach((o, k) => {
        const want = ROLES.reduce((acc, _r, d) => acc + BigInt((k * 7 + d) % 1000), 0n);
        expect(o.value).toBe(want);
      });
    }
  });
});
