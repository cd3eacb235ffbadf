/**
 * Protocol laws: the opened result equals the plaintext circuit for random inputs, thresholds and
 * sets of opening parties; any tampered share, commitment or proof is refused naming its author.
 */
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { ProtocolError } from '../errors.js';
import { SecretBytes } from '../secret.js';
import { getCiphersuite, loadFastBackends } from '../suite/registry.js';
import type { AnyCiphersuite } from '../suite/types.js';
import { evaluateCircuit } from './circuit.js';
import {
  checkPublicDealing,
  createAggregationSession,
  dealInput,
  evaluateShares,
  type InputDealing,
  openResult,
  type ResultShare,
  verifyDealing,
  verifyDealings,
} from './protocol.js';
import { circuits, partiesFor, seededRng } from './test-helpers/fixtures.js';

let suite: AnyCiphersuite;
beforeAll(async () => {
  await loadFastBackends();
  suite = getCiphersuite('FROST-ED25519-SHA512-v1');
});

const names = ['approval-tally', 'weighted-risk', 'cost-total'] as const;

/** A circuit, n parties (>= the 5 roles), t, one value per input, who opens, and a seed. */
const scenario = fc
  .record({
    circuit: fc.constantFrom(...names),
    n: fc.integer({ min: 5, max: 7 }),
    seed: fc.integer(),
  })
  .chain(({ circuit, n, seed }) => {
    const c = circuits[circuit];
    return fc.record({
      circuit: fc.constant(circuit),
      n: fc.constant(n),
      seed: fc.constant(seed),
      t: fc.integer({ min: 2, max: n }),
      values: fc.tuple(...c.inputs.map((inp) => fc.bigInt({ min: inp.min, max: inp.max }))),
      order: fc.shuffledSubarray(
        Array.from({ length: n }, (_, i) => i),
        { minLength: n, maxLength: n },
      ),
      extra: fc.nat({ max: 7 }),
    });
  });

function setup(s: {
  circuit: (typeof names)[number];
  n: number;
  t: number;
  seed: number;
  values: readonly bigint[];
}) {
  const circuit = circuits[s.circuit];
  const parties = partiesFor(suite, s.n);
  const session = createAggregationSession(suite, {
    circuit,
    sessionId: `prop-${s.seed}`,
    threshold: s.t,
    parties,
  });
  const rng = seededRng(s.seed);
  const dealings = circuit.inputs.map((inp, i) =>
    dealInput(session, { input: inp.name, dealer: session.providers[i]!, value: s.values[i]! }, rng),
  );
  // Range proofs are public: check each once here, and skip them in the per-receiver calls.
  for (const d of dealings) checkPublicDealing(session, d);
  return { circuit, parties, session, rng, dealings };
}

describe('aggregation protocol laws', () => {
  it('any t or more parties open exactly the plaintext result', () => {
    fc.assert(
      fc.property(scenario, (s) => {
        const { circuit, parties, session, rng, dealings } = setup(s);
        const openers = s.order.slice(0, Math.min(s.n, s.t + (s.extra % (s.n - s.t + 1))));
        const shares: ResultShare[] = [];
        for (const i of openers) {
          const id = parties[i]!.id;
          const verified = verifyDealings(session, dealings, id, rng, { verifyProofs: false });
          shares.push(...evaluateShares(session, id, verified));
        }
        const opened = openResult(session, dealings, shares, rng, { verifyProofs: false });
        const plain = evaluateCircuit(
          circuit,
          Object.fromEntries(circuit.inputs.map((inp, i) => [inp.name, s.values[i]!])),
        );
        for (const o of opened.outputs) expect(o.value).toBe(plain.get(o.name));
        expect(opened.culprits).toEqual([]);
      }),
      { numRuns: 12 },
    );
  });

  it('t-1 result shares do not open', () => {
    fc.assert(
      fc.property(scenario, (s) => {
        const { parties, session, rng, dealings } = setup(s);
        const shares = s.order.slice(0, s.t - 1).flatMap((i) => {
          const id = parties[i]!.id;
          return evaluateShares(
            session,
            id,
            verifyDealings(session, dealings, id, rng, { verifyProofs: false }),
          );
        });
        try {
          openResult(session, dealings, shares, rng, { verifyProofs: false });
          expect.unreachable();
        } catch (e) {
          expect((e as ProtocolError).code).toBe('INVALID_OPENING');
          expect((e as ProtocolError).culprits).toEqual([]);
        }
      }),
      { numRuns: 5 },
    );
  });

  it('a tampered share, commitment or range proof is refused naming its dealer', () => {
    fc.assert(
      fc.property(
        scenario,
        fc.constantFrom('share', 'blinding', 'commitment', 'proof'),
        fc.nat(),
        fc.integer({ min: 1, max: 255 }),
        (s, what, pick, xor) => {
          const { parties, session, dealings } = setup(s);
          const target = dealings[pick % dealings.length]!;
          const receiver = parties[s.order[0]!]!.id;
          const flip = (b: Uint8Array) => {
            const c = b.slice();
            c[pick % c.length]! ^= xor;
            return c;
          };
          let tampered: InputDealing;
          if (what === 'share' || what === 'blinding') {
            const own = target.shares[receiver]!;
            const next = {
              share: what === 'share' ? new SecretBytes(flip(own.share.expose())) : own.share,
              blinding: what === 'blinding' ? new SecretBytes(flip(own.blinding.expose())) : own.blinding,
            };
            tampered = { ...target, shares: { ...target.shares, [receiver]: next } };
          } else if (what === 'commitment') {
            const j = pick % target.commitments.length;
            const cs = target.commitments.map((c, k) => (k === j ? flip(c) : c));
            tampered = { ...target, commitments: cs };
          } else {
            tampered = { ...target, rangeProof: flip(target.rangeProof!) };
          }
          try {
            verifyDealing(session, tampered, receiver);
            expect.unreachable();
          } catch (e) {
            expect(e).toBeInstanceOf(ProtocolError);
            expect(['INVALID_DEALING', 'INVALID_RANGE_PROOF']).toContain((e as ProtocolError).code);
            expect((e as ProtocolError).culprits).toEqual([target.dealer]);
          }
        },
      ),
      { numRuns: 30 },
    );
  });

  it('a tampered result share names its party and the opening still completes', () => {
    fc.assert(
      fc.property(scenario, fc.nat(), fc.integer({ min: 1, max: 255 }), (s, pick, xor) => {
        fc.pre(s.n >= s.t + 1);
        const { circuit, parties, session, rng, dealings } = setup(s);
        const liar = parties[s.order[0]!]!.id;
        const shares = parties.flatMap((p) => {
          const mine = evaluateShares(
            session,
            p.id,
            verifyDealings(session, dealings, p.id, rng, { verifyProofs: false }),
          );
          if (p.id !== liar) return mine;
          return mine.map((r, k) => {
            if (k !== pick % mine.length) return r;
            const field = pick % 2 === 0 ? 'share' : 'blinding';
            const b = r[field].slice();
            b[pick % b.length]! ^= xor;
            return { ...r, [field]: b };
          });
        });
        const opened = openResult(session, dealings, shares, rng, { verifyProofs: false });
        expect(opened.culprits).toEqual([liar]);
        const plain = evaluateCircuit(
          circuit,
          Object.fromEntries(circuit.inputs.map((inp, i) => [inp.name, s.values[i]!])),
        );
        for (const o of opened.outputs) expect(o.value).toBe(plain.get(o.name));
      }),
      { numRuns: 12 },
    );
  });
});
