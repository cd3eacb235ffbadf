/**
 * Exclusion law: for random inputs and a random set of excluded dealers, the opened result equals
 * the plaintext circuit with the excluded inputs at the circuit's substitutes, and the record
 * verifies offline.
 */
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { getCiphersuite, loadFastBackends } from '../suite/registry.js';
import type { AnyCiphersuite } from '../suite/types.js';
import { evaluateCircuit } from './circuit.js';
import {
  createAggregationSession,
  dealInput,
  evaluateShares,
  openResult,
  verifyDealings,
} from './protocol.js';
import { buildAggregationRecord, verifyAggregation } from './record.js';
import { circuits, partiesFor, seededRng } from './test-helpers/fixtures.js';

let suite: AnyCiphersuite;
beforeAll(async () => {
  await loadFastBackends();
  suite = getCiphersuite('FROST-ED25519-SHA512-v1');
});

const names = ['approval-tally', 'weighted-risk'] as const;

const scenario = fc.constantFrom(...names).chain((name) => {
  const c = circuits[name];
  return fc.record({
    name: fc.constant(name),
    seed: fc.integer(),
    t: fc.integer({ min: 2, max: 5 }),
    values: fc.tuple(...c.inputs.map((inp) => fc.bigInt({ min: inp.min, max: inp.max }))),
    /** Which of the five roles are excluded. */
    out: fc.subarray([0, 1, 2, 3, 4]),
    reason: fc.constantFrom('unanswered', 'refused', 'refuted', 'named_by_claims' as const),
  });
});

describe('aggregation with excluded dealers', () => {
  it('opens the plaintext circuit with substitutes, and the record verifies', () => {
    fc.assert(
      fc.property(scenario, (s) => {
        const circuit = circuits[s.name];
        const parties = partiesFor(suite, 5);
        const session = createAggregationSession(suite, {
          circuit,
          sessionId: `excl-prop-${s.seed}`,
          threshold: s.t,
          parties,
        });
        const rng = seededRng(s.seed);
        const out = new Set(s.out.map((k) => parties[k]!.id));
        const dealings = circuit.inputs.flatMap((inp, i) =>
          out.has(session.providers[i]!)
            ? []
            : [
                dealInput(
                  session,
                  { input: inp.name, dealer: session.providers[i]!, value: s.values[i]! },
                  rng,
                ),
              ],
        );
        const shares = parties.flatMap((p) =>
          evaluateShares(
            session,
            p.id,
            verifyDealings(session, dealings, p.id, rng, { verifyProofs: false }),
            {
              excluded: [...out],
            },
          ),
        );
        const excluded = [...out].map((dealer) => ({ dealer, reason: s.reason }));
        const opened = openResult(session, dealings, shares, rng, { excluded, verifyProofs: false });
        const plain = evaluateCircuit(
          circuit,
          Object.fromEntries(
            circuit.inputs.map((inp, i) => [
              inp.name,
              out.has(session.providers[i]!) ? inp.substitute! : s.values[i]!,
            ]),
          ),
        );
        for (const o of opened.outputs) expect(o.value).toBe(plain.get(o.name));
        const record = buildAggregationRecord(session, dealings, opened);
        expect(record.v).toBe(out.size > 0 ? 2 : 1);
        const checked = verifyAggregation(record);
        expect(checked.outputs.map((o) => o.value)).toEqual(opened.outputs.map((o) => o.value));
      }),
      { numRuns: 10 },
    );
  });
});
