/**
 * Pooled risk across real processes (docs/aggregation.md, "Pooled risk"): every party derives its
 * own department score for a fix under its own policy's `risk` view and deals it into the
 * `weighted-risk` circuit; the coordinator opens only the weighted sum, every party checks the
 * opened record and remembers it, and strategy binds the reference into the proposal. The parties
 * sign a proposal citing that aggregation and refuse one whose reference they did not confirm.
 * Then `aaps up --pool-risk`: an incident resolves with the reference in its approved proposal and
 * its evidence.
 */
import { execFile } from 'node:child_process';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { AggregationRef, ApprovalDecisionPayload, ClusterLayout } from '@aaps/agents';
import type { Coordinator } from '@aaps/gateway';
import { AapsError, type SignedEnvelope } from '@aaps/mpc-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freshPort, startUp, type UpCluster } from '../bench/load/cluster.js';
import { LOW_RISK, proposalFor } from '../packages/agents/src/policy/test-helpers/fixtures.js';
import { clusterBacking } from './helpers/backing.js';
import { type PooledCluster, startPooledCluster, strategyOnPooledFix } from './helpers/pooled-cluster.js';

const run = promisify(execFile);
const VERIFY = join(import.meta.dirname, '..', 'packages', 'evidence', 'dist', 'cli', 'aaps-verify.js');

/** Each department's private view (absent: the formula). */
const VIEWS: Record<string, { weight_percent: number; offset: number } | undefined> = {
  monitoring: { weight_percent: 150, offset: 0 },
  'problem-solver': { weight_percent: 100, offset: 5 },
  strategy: undefined,
  'quality-assurance': { weight_percent: 120, offset: 0 },
  audit: { weight_percent: 50, offset: 0 },
};
// image_rollback under LOW_RISK (blast 1, P2, staging): formula 25 + 0 + 5 + 10 = 40. The
// departments score 60, 45, 40, 48, 20; weighted (3, 2, 2, 2, 1): 180 + 90 + 80 + 96 + 20 = 466,
// mean 46.6, pooled 47.
const FORMULA = 40;
const POOLED = 47;
// Namespace shop (the fix's target's): every party's policy maps it to staging, as declared.
const SUBJECT = { incident_id: 'inc-pool-1', action: 'image_rollback', namespace: 'shop', factors: LOW_RISK };

let layout: ClusterLayout;
let coordinator: Coordinator;

function pooledProposal(ref: AggregationRef, incident = SUBJECT.incident_id) {
  return proposalFor(
    'image_rollback',
    {
      incident_id: incident,
      risk: {
        score: Math.max(FORMULA, ref.value),
        method: 'aaps.risk.v1',
        factors: LOW_RISK,
        aggregation_ref: ref,
      },
    },
    LOW_RISK,
  );
}

/** A transcript holding one FixProposal: all the strategy step reads from it (plus the extra). */
async function refusedRules(ref: AggregationRef, incident: string): Promise<string[]> {
  try {
    const p = pooledProposal(ref, incident);
    await coordinator.signApproval(p, clusterBacking(layout, p));
  } catch (e) {
    expect(e).toBeInstanceOf(AapsError);
    expect((e as AapsError).code).toBe('QUORUM_UNREACHABLE');
    const refusals = (e as AapsError).details['refusals'] as { rule: string }[];
    return refusals.map((r) => r.rule);
  }
  throw new Error('the parties signed a proposal with a forged aggregation reference');
}

describe('pooled risk across party processes', () => {
  let cluster: PooledCluster | undefined;
  beforeAll(async () => {
    cluster = await startPooledCluster('pool-e2e', (role) => VIEWS[role]);
    ({ layout, coordinator } = cluster);
  }, 90_000);

  afterAll(async () => cluster?.stop());

  let ref: AggregationRef;

  it('pools the departments’ own scores: only the weighted mean is opened', async () => {
    const out = await coordinator.poolRisk?.(SUBJECT);
    expect(out).toBeDefined();
    ref = out!.ref;
    expect(out!.record['sessionId']).toBe(ref.session_id);
    expect(ref.circuit).toBe('weighted-risk');
    expect(ref.value).toBe(POOLED);
    expect(ref.output_digest).toMatch(/^[0-9a-f]{64}$/);
  });

  it('strategy binds the reference and the parties sign the proposal citing it', async () => {
    const env = await strategyOnPooledFix(coordinator, SUBJECT.incident_id, 'trace-pool-1', ref);
    const decision = env.payload as unknown as ApprovalDecisionPayload;
    expect(decision.decision).toBe('auto');
    expect(decision.risk).toMatchObject({ score: POOLED, formula_score: FORMULA, pooled_score: POOLED });
    expect(decision.proposal.risk.aggregation_ref).toEqual(ref);
    // The strategy party's own signed decision, with the problem solver's fix proposal.
    const backing = { ...clusterBacking(layout, decision.proposal), decision: env };
    const signed = await coordinator.signApproval(decision.proposal, backing);
    expect(signed.signers).toHaveLength(3);
    expect(signed.refusals).toEqual([]);
  });

  it('strategy refuses a forged reference itself', async () => {
    const env = await strategyOnPooledFix(coordinator, 'inc-pool-5', 'trace-pool-5', { ...ref, value: 99 });
    const decision = env.payload as unknown as ApprovalDecisionPayload;
    expect(decision.decision).toBe('refuse');
    expect(decision.rule).toBe('risk.aggregation_unverified');
  });

  it('a reference with another value is refused by every party', async () => {
    const rules = await refusedRules({ ...ref, value: POOLED + 10 }, SUBJECT.incident_id);
    expect(rules.length).toBeGreaterThanOrEqual(3);
    expect(new Set(rules)).toEqual(new Set(['risk.aggregation_unverified']));
  });

  it('a reference to a session no party took part in is refused', async () => {
    const rules = await refusedRules({ ...ref, session_id: 'risk-never-ran' }, SUBJECT.incident_id);
    expect(rules.length).toBeGreaterThanOrEqual(3);
    expect(new Set(rules)).toEqual(new Set(['risk.aggregation_unverified']));
  });

  it('the true reference cited by another incident’s proposal is refused', async () => {
    const rules = await refusedRules(ref, 'inc-pool-other');
    expect(rules.length).toBeGreaterThanOrEqual(3);
    expect(new Set(rules)).toEqual(new Set(['risk.aggregation_unverified']));
  });

  it('a reference with another digest is refused', async () => {
    const rules = await refusedRules({ ...ref, output_digest: 'ab'.repeat(32) }, SUBJECT.incident_id);
    expect(new Set(rules)).toEqual(new Set(['risk.aggregation_unverified']));
  });
});

describe('aaps up --pool-risk', () => {
  let up: UpCluster;

  beforeAll(async () => {
    up = await startUp({ port: await freshPort(), args: ['--pool-risk'] });
  }, 90_000);

  afterAll(async () => {
    await up?.stop();
    rmSync(up?.dataDir ?? '/nonexistent', { recursive: true, force: true });
  });

  const api = async <T>(path: string, init: RequestInit = {}): Promise<T> => {
    const res = await fetch(`${up.url}${path}`, {
      ...init,
      headers: { authorization: `Bearer ${up.token}`, 'content-type': 'application/json' },
    });
    return (await res.json()) as T;
  };

  it('an incident resolves with the pooled reference in its approved proposal and evidence', async () => {
    const body = readFileSync(
      join(
        import.meta.dirname,
        '..',
        'packages',
        'gateway',
        'test-fixtures',
        'kubernetes',
        'core-v1-image-pull-failed.json',
      ),
      'utf8',
    );
    // kubelet's pull error (not found): an alert that only says the pull failed goes to a person.
    const { incidents } = await api<{ incidents: { incident_id: string }[] }>('/v1/webhooks/kubernetes', {
      method: 'POST',
      body,
    });
    const id = incidents[0]!.incident_id;
    interface View {
      state: string;
      evidence_id: string | null;
      proposal: { risk: { score: number; aggregation_ref?: AggregationRef } } | null;
      timeline: { state: string }[];
    }
    let view: View;
    const deadline = Date.now() + 60_000;
    for (;;) {
      view = await api<View>(`/v1/incidents/${id}`);
      if (view.evidence_id || ['failed', 'rejected'].includes(view.state)) break;
      if (Date.now() > deadline) throw new Error(`incident stuck in ${view.state}`);
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(view.state).toBe('resolved');
    expect(view.timeline.map((t) => t.state)).toContain('approved');
    const ref = view.proposal?.risk.aggregation_ref;
    expect(ref?.circuit).toBe('weighted-risk');
    expect(ref?.output_digest).toMatch(/^[0-9a-f]{64}$/);
    // Every department runs the formula here, so the pooled score equals it.
    expect(view.proposal?.risk.score).toBe(ref?.value);

    const bundle = await api<{
      dsseEnvelope: { payload: string };
      transcript: SignedEnvelope[];
      aggregation?: { sessionId: string };
    }>(`/v1/evidence/${view.evidence_id}`);
    const statement = JSON.parse(Buffer.from(bundle.dsseEnvelope.payload, 'base64').toString('utf8')) as {
      predicate: { decision: { pooled?: boolean } };
    };
    expect(statement.predicate.decision.pooled).toBe(true);
    const decision = bundle.transcript.find((e) => e.meta.message_type === 'ApprovalDecision')
      ?.payload as unknown as ApprovalDecisionPayload;
    expect(decision.proposal.risk.aggregation_ref).toEqual(ref);
    // The bundle carries the aggregation record; the statement signs its digest; aaps-verify
    // re-checks it offline.
    expect(bundle.aggregation?.sessionId).toBe(ref!.session_id);
    const b = join(up.dataDir, 'bundle.json');
    const r = join(up.dataDir, 'trusted_root.json');
    writeFileSync(b, JSON.stringify(bundle));
    writeFileSync(r, JSON.stringify(await api<unknown>('/v1/trusted-root')));
    const { stdout } = await run(process.execPath, [VERIFY, b, '--trusted-root', r]);
    expect(stdout).toMatch(/^valid/);
    const forged = { ...bundle, aggregation: { ...bundle.aggregation, sessionId: 'risk-other' } };
    writeFileSync(b, JSON.stringify(forged));
    await expect(run(process.execPath, [VERIFY, b, '--trusted-root', r])).rejects.toBeDefined();
  });
});
