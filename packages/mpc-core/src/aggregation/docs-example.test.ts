/**
 * The runnable example of docs/aggregation.md. The body below is the same code as the page's
 * snippet; only the imports differ (the page imports the same names from '@aaps/mpc-core' and the
 * circuit from '@aaps/mpc-core/circuits/weighted-risk.json', the build's copy of the repository
 * file imported here).
 */
import { randomBytes } from 'node:crypto';
import { expect, it } from 'vitest';
import weightedRiskJson from '../../../../circuits/weighted-risk.json' with { type: 'json' };
import { bytesToHex } from '../bytes.js';
import { identifierFromNumber } from '../keys.js';
import { getCiphersuite, loadFastBackends } from '../suite/registry.js';
import { loadCircuit } from './circuit.js';
import {
  createAggregationSession,
  dealInput,
  evaluateShares,
  openResult,
  verifyDealings,
} from './protocol.js';
import {
  aggregationDigest,
  buildAggregationRecord,
  encodeAggregationRecordCbor,
  verifyAggregation,
} from './record.js';

it('docs/aggregation.md example runs', async () => {
  // --- example start ---
  await loadFastBackends();
  const suite = getCiphersuite('FROST-ED25519-SHA512-v1');
  const rng = (n: number) => new Uint8Array(randomBytes(n));

  // The circuit and the session every party agrees on.
  const circuit = loadCircuit(weightedRiskJson);
  const roles = ['monitoring', 'problem-solver', 'strategy', 'quality-assurance', 'audit'];
  const parties = roles.map((role, i) => ({ id: identifierFromNumber(suite, i + 1), role }));
  const session = createAggregationSession(suite, {
    circuit,
    sessionId: 'incident-42.weighted-risk',
    threshold: 3,
    parties,
  });

  // Round 1: each department deals its risk score (0..100) with a range proof.
  const scores: Record<string, number> = {
    'risk.monitoring': 80,
    'risk.problem-solver': 40,
    'risk.strategy': 10,
    'risk.quality-assurance': 100,
    'risk.audit': 0,
  };
  const dealings = circuit.inputs.map((input, i) =>
    dealInput(session, { input: input.name, dealer: session.providers[i]!, value: scores[input.name]! }, rng),
  );

  // Each party checks every dealing (range proofs and its own shares), then evaluates locally.
  const resultShares = parties.flatMap((p) =>
    evaluateShares(session, p.id, verifyDealings(session, dealings, p.id, rng)),
  );

  // Any 3 of the 5 result shares open the output; each is checked against the commitments.
  const opened = openResult(session, dealings, resultShares, rng);
  console.log(opened.outputs[0]); // { name: 'weighted_risk', value: 540n, blinding: ... }

  // The record anyone can check offline, and the digest the parties sign.
  const record = buildAggregationRecord(session, dealings, opened);
  const bytes = encodeAggregationRecordCbor(record);
  const verified = verifyAggregation(bytes, { circuit });
  console.log(verified.outputs, bytesToHex(aggregationDigest(record)));
  // --- example end ---

  expect(opened.outputs[0]!.value).toBe(540n);
  expect(verified.outputs[0]!.value).toBe(540n);
  expect(bytesToHex(verified.digest)).toBe(bytesToHex(aggregationDigest(record)));
});
