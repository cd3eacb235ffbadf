import {
  type AggregationRef,
  type ApprovalDecisionPayload,
  type ClusterLayout,
  type PartyClient,
  runAggregationOverHttp,
} from '@aaps/agents';
import type { Coordinator } from '@aaps/gateway';
import { AapsError } from '@aaps/mpc-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { splitSubjectRound } from '../packages/agents/src/party/test-helpers/split-subject.js';
import { LOW_RISK } from '../packages/agents/src/policy/test-helpers/fixtures.js';
import { type PooledCluster, startPooledCluster, strategyOnPooledFix } from './helpers/pooled-cluster.js';

// Monitoring and audit see this change as maximal risk (100); the others use the formula (40).
const VIEWS: Record<string, { weight_percent: number; offset: number }> = {
  monitoring: { weight_percent: 400, offset: 0 },
  'problem-solver': { weight_percent: 100, offset: 0 },
  strategy: { weight_percent: 100, offset: 0 },
  'quality-assurance': { weight_percent: 100, offset: 0 },
  audit: { weight_percent: 400, offset: 0 },
};
/** 3*100 + 2*40 + 2*40 + 2*40 + 1*100 = 640: mean 64. */
const POOLED = 64;
// Namespace shop: every party's policy maps it to staging, the declared environment.
const SUBJECT = { incident_id: 'inc-bind-1', action: 'image_rollback', namespace: 'shop', factors: LOW_RISK };
/** What a lying gateway shows audit instead: development, P3 (formula 25 + 0 + 0 + 0). */
const BENIGN = { ...SUBJECT, factors: { blast_radius: 1, urgency: 'P3', environment: 'development' } };

let layout: ClusterLayout;
let coordinator: Coordinator;
let client: PartyClient;

async function strategyWith(ref: AggregationRef): Promise<ApprovalDecisionPayload> {
  const env = await strategyOnPooledFix(coordinator, SUBJECT.incident_id, `trace-${ref.session_id}`, ref);
  return env.payload as unknown as ApprovalDecisionPayload;
}

async function failure(p: Promise<unknown>): Promise<AapsError> {
  const e = await p.then(
    () => expect.unreachable('expected the aggregation to be refused'),
    (x: unknown) => x,
  );
  expect(e).toBeInstanceOf(AapsError);
  return e as AapsError;
}

describe('pooled risk is bound to one subject and one round (R3, R3c, R5)', () => {
  let honest: AggregationRef;

  let cluster: PooledCluster | undefined;
  beforeAll(async () => {
    cluster = await startPooledCluster('pool-bind-e2e', (role) => ({
      ...VIEWS[role]!,
      require_pooled: true,
    }));
    ({ layout, client, coordinator } = cluster);
  }, 120_000);

  afterAll(async () => cluster?.stop());

  it('honest pooling: 64 > max_auto 60, so a human must approve (control)', async () => {
    const out = await coordinator.poolRisk?.(SUBJECT);
    honest = out!.ref;
    expect(honest.value).toBe(POOLED);
    expect((await strategyWith(honest)).decision).toBe('needs_human');
  });

  it('a gateway declaring development for every department gets the honest score: each scores shop as staging', async () => {
    const out = await coordinator.poolRisk?.({
      ...SUBJECT,
      factors: { ...SUBJECT.factors, environment: 'development' },
    });
    expect(out!.ref.value).toBe(POOLED);
  }, 60_000);

  it('a gateway sealing 0 as the high-risk departments’ inputs is refused by them (R3)', async () => {
    const e = await failure(
      runAggregationOverHttp(client, {
        circuitId: 'weighted-risk',
        sessionId: 'risk-forged-input',
        inputs: { 'monitoring-agent': 0, 'audit-agent': 0 },
        derive: SUBJECT,
        confirm: true,
      }),
    );
    expect(e.code).toBe('FORBIDDEN');
    // Nobody dealt: a reference to the session is not one any party confirmed.
    const forged = { ...honest, session_id: 'risk-forged-input', value: 24 };
    expect((await strategyWith(forged)).rule).toBe('risk.aggregation_unverified');
  }, 60_000);

  it('a gateway showing audit a benign subject gets no pooled score, and no dealer is blamed (R3c)', async () => {
    // A lying coordinator (it skips the check an honest one makes: each dealer signed the subject
    // it was sent); every party refuses the round itself, naming no dealer.
    const outcomes = await splitSubjectRound(client, 'risk-split-subject', (party) =>
      party === 'audit-agent' ? BENIGN : SUBJECT,
    );
    expect(outcomes.map((o) => o.party)).toEqual(layout.roster.parties.map((p) => p.id));
    for (const o of outcomes) {
      expect(o.ok).toBe(false);
      if (o.ok) continue;
      expect(o.error.code).toBe('INCONSISTENT_TRANSCRIPT');
      expect(o.error.details['claimed_culprits']).toEqual([]);
    }
    const forged = { ...honest, session_id: 'risk-split-subject', value: 41 };
    expect((await strategyWith(forged)).rule).toBe('risk.aggregation_unverified');
  }, 60_000);

  it('the honest session id cannot be dealt again on another subject; its reference still means a human (R5)', async () => {
    const e = await failure(
      runAggregationOverHttp(client, {
        circuitId: 'weighted-risk',
        sessionId: honest.session_id,
        inputs: {},
        derive: BENIGN,
        confirm: true,
      }),
    );
    expect(e.code).toBe('CONFLICT');
    expect((await strategyWith(honest)).decision).toBe('needs_human');
  }, 60_000);
});
