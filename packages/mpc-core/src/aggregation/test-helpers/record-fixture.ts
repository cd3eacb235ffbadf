/** Finished aggregations (3-of-5, libsodium Ed25519) for record tests. */
import { getCiphersuite, loadFastBackends } from '../../suite/registry.js';
import type { Circuit } from '../circuit.js';
import {
  createAggregationSession,
  dealInput,
  evaluateShares,
  openResult,
  verifyDealings,
} from '../protocol.js';
import { type AggregationRecord, buildAggregationRecord } from '../record.js';
import { circuits, partiesFor, seededRng } from './fixtures.js';

export const RISK_VALUES = [80, 40, 10, 100, 0] as const;
export const RISK_EXPECTED = 3n * 80n + 2n * 40n + 2n * 10n + 2n * 100n + 1n * 0n;

export async function weightedRiskRecord(seed = 'record'): Promise<AggregationRecord> {
  return roundRecord(circuits['weighted-risk'], RISK_VALUES, { seed, sessionId: 'incident-7.weighted-risk' });
}

/** One finished 3-of-5 round of `circuit` (libsodium Ed25519), input `i` dealt `values[i]`. */
export async function roundRecord(
  circuit: Circuit,
  values: readonly number[],
  { seed, sessionId }: { seed: string; sessionId: string },
): Promise<AggregationRecord> {
  await loadFastBackends();
  const suite = getCiphersuite('FROST-ED25519-SHA512-v1');
  const rng = seededRng(seed);
  const parties = partiesFor(suite);
  const session = createAggregationSession(suite, { circuit, sessionId, threshold: 3, parties });
  const dealings = session.circuit.inputs.map((inp, i) =>
    dealInput(session, { input: inp.name, dealer: session.providers[i]!, value: values[i]! }, rng),
  );
  const shares = parties.flatMap((p) =>
    evaluateShares(session, p.id, verifyDealings(session, dealings, p.id, rng)),
  );
  return buildAggregationRecord(session, dealings, openResult(session, dealings, shares, rng));
}
