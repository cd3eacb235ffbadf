/** Test fixtures: a seeded rng, the shipped circuits, and a five-party session. */
import { sha256 } from '@noble/hashes/sha2.js';
import approvalTallyJson from '../../../../../circuits/approval-tally.json' with { type: 'json' };
import costTotalJson from '../../../../../circuits/cost-total.json' with { type: 'json' };
import weightedRiskJson from '../../../../../circuits/weighted-risk.json' with { type: 'json' };
import { concatBytes, utf8 } from '../../bytes.js';
import { identifierFromNumber } from '../../keys.js';
import type { AnyCiphersuite, Rng } from '../../suite/types.js';
import { type Circuit, loadCircuit } from '../circuit.js';
import type { AggregationParty } from '../protocol.js';

export const circuitJson = {
  'approval-tally': approvalTallyJson,
  'weighted-risk': weightedRiskJson,
  'cost-total': costTotalJson,
} as const;

export const circuits: Record<keyof typeof circuitJson, Circuit> = {
  'approval-tally': loadCircuit(approvalTallyJson),
  'weighted-risk': loadCircuit(weightedRiskJson),
  'cost-total': loadCircuit(costTotalJson),
};

export const ROLES = ['monitoring', 'problem-solver', 'strategy', 'quality-assurance', 'audit'] as const;

/** A deterministic byte stream (SHA-256 in counter mode) for reproducible tests. */
export function seededRng(seed: string | number): Rng {
  const key = utf8(String(seed));
  let counter = 0;
  let buf: Uint8Array = new Uint8Array(0);
  return (n: number) => {
    while (buf.length < n) {
      const c = new Uint8Array(4);
      new DataView(c.buffer).setUint32(0, counter++);
      buf = concatBytes(buf, sha256(concatBytes(key, c)));
    }
    const out = buf.slice(0, n);
    buf = buf.slice(n);
    return out;
  };
}

/** Parties 1..n holding the five roles (and extra plain roles beyond five). */
export function partiesFor(suite: AnyCiphersuite, n = 5): AggregationParty[] {
  return Array.from({ length: n }, (_, i) => ({
    id: identifierFromNumber(suite, i + 1),
    role: ROLES[i] ?? `extra-${i}`,
  }));
}
