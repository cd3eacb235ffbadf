/**
 * Review of 37831d4 + 7fa5edc (fixed in the commit that adds this file; this says what was found): a party read back from its store only the first 16 rounds a request
 * cites, in document order. An evidence signing's transcript starts with the incident signal, whose
 * payload is whatever the platform posted: sixteen `pooled` / `aggregation_ref` objects there
 * (another incident's record pasted into an alert, or a hostile one) and the strategy decision's
 * real round, later in the transcript, is never read back, so a round the store keeps is refused.
 */
import { describe, expect, it } from 'vitest';
import {
  type ConfirmedAggregation,
  citedAggregationSessions,
  type LedgerStore,
  PooledRiskLedger,
} from './pooled-risk.js';

/** A ledger store in memory: what `PartyStore` keeps under `aggc/`. */
function memoryStore(): LedgerStore {
  const kept = new Map<string, [unknown, Date]>();
  return {
    async saveConfirmedAggregation(id, entry, at) {
      kept.set(id, [JSON.parse(JSON.stringify(entry)), at]);
    },
    async confirmedAggregation(id) {
      return kept.get(id);
    },
    async newestConfirmedAggregations(n) {
      return [...kept].slice(-n).map(([id, [e, at]]) => [id, e, at] as [string, unknown, Date]);
    },
  };
}

const entry = (b: string): ConfirmedAggregation => ({
  circuit: 'weighted-risk',
  digest: b.repeat(32),
  value: 40,
});
const ref = (session: string, e: ConfirmedAggregation) => ({
  circuit: e.circuit,
  session_id: session,
  output_digest: e.digest,
  value: e.value,
});

describe('pooled-risk review: the round an evidence transcript cites is read back', () => {
  it('even when the incident signal before it carries sixteen objects that look like citations', async () => {
    const now = () => new Date('2026-11-28T10:00:00Z');
    // Memory holds one round: the real one is pushed out by a newer one, as 10,000 newer would.
    const ledger = new PooledRiskLedger(1, memoryStore(), now, 30 * 24 * 3_600_000);
    const real = entry('ab');
    await ledger.remember('risk-real', real);
    await ledger.remember('risk-newer', entry('cd'));
    expect(ledger.get('risk-real')).toBeUndefined();

    const decoys = Array.from({ length: 16 }, (_, i) => ({
      labels: { job: 'x' },
      pooled: { session_id: `p-${i}` },
    }));
    const body = {
      signing_package: {},
      subject: {
        kind: 'evidence',
        transcript: [
          {
            meta: { message_type: 'IncidentSignal' },
            payload: { incident_type: 'resource_quota_exceeded', metadata: { related: decoys } },
          },
          { meta: { message_type: 'RCAReport' }, payload: { root_cause: 'quota' } },
          {
            meta: { message_type: 'ApprovalDecision' },
            payload: { proposal: { risk: { aggregation_ref: ref('risk-real', real) } } },
          },
        ],
      },
    };
    await ledger.recall(citedAggregationSessions(body));
    expect(ledger.verifyRef(ref('risk-real', real))).toBe(true);
  });
});
