/** The pure workflow end to end: monitoring -> problem solver -> strategy -> every party evaluates. */
import { describe, expect, it } from 'vitest';
import { defaultPolicy } from '../policy/defaults.js';
import { evaluateProposal } from '../policy/evaluate.js';
import { proposalSigningBytes } from '../policy/proposal.js';
import { PARTY_ROLES } from '../policy/roles.js';
import { context, signApproval } from '../policy/test-helpers/fixtures.js';
import { runAuditStep } from './audit.js';
import { runMonitoringStep } from './monitoring.js';
import { type ProblemSolverInput, runProblemSolverStep } from './problem-solver.js';
import { runVerification } from './quality-assurance.js';
import { runStrategyStep } from './strategy.js';
import { monitoringInput, SIGNALS } from './test-helpers/signals.js';

const GOOD = `registry.example/shop/web@sha256:${'ab'.repeat(32)}`;

function run(signal: (typeof SIGNALS)[keyof typeof SIGNALS], extra: Partial<ProblemSolverInput> = {}) {
  const triaged = runMonitoringStep(monitoringInput(signal));
  const solved = runProblemSolverStep({
    incident_id: 'inc-0001',
    signal: triaged,
    policy: defaultPolicy('problem-solver'),
    ...extra,
  });
  const fix = solved.fix.proposals[0]!;
  const decision = runStrategyStep(
    {
      incident_id: 'inc-0001',
      urgency: 'P1',
      environment: 'production',
      fix,
      policy: defaultPolicy('strategy'),
    },
    context(),
  );
  return { triaged, solved, decision };
}

const everyPartyApproves = (proposal: unknown) =>
  PARTY_ROLES.map((role) => evaluateProposal(defaultPolicy(role), role, proposal, context()).decision);

describe('workflow steps end to end', () => {
  it('config: auto-approved by every party', () => {
    const { decision } = run(SIGNALS.missingKey, {
      sources: { 'configmap://shop/checkout-config': { kind: 'last_known_good', version: '41877' } },
    });
    expect(decision.decision).toBe('auto');
    expect(everyPartyApproves(decision.proposal)).toEqual(PARTY_ROLES.map(() => 'approve'));
  });

  it('image: auto-approved by every party', () => {
    const { decision } = run(SIGNALS.signatureDenied, {
      deployment_history: [
        {
          workload: 'deployment://shop/web',
          container: 'web',
          image: GOOD,
          revision: 4,
          deployed_at: '2026-11-10T00:00:00Z',
          outcome: 'healthy',
        },
      ],
    });
    expect(decision).toMatchObject({ decision: 'auto', risk: { score: 55 } });
    expect(everyPartyApproves(decision.proposal)).toEqual(PARTY_ROLES.map(() => 'approve'));
  });

  it('quota: auto-approved by every party', () => {
    const { decision } = run(SIGNALS.quotaExceeded);
    expect(decision.decision).toBe('auto');
    expect(everyPartyApproves(decision.proposal)).toEqual(PARTY_ROLES.map(() => 'approve'));
  });

  it('RBAC: needs a human; approved by every party once a valid approval is attached', () => {
    const { decision } = run(SIGNALS.rbacDenied);
    expect(decision).toMatchObject({ decision: 'needs_human', rule: 'human_approval.required' });
    expect(everyPartyApproves(decision.proposal)).not.toContain('approve');
    const approved = { ...decision.proposal, human_approval: signApproval(decision.proposal) };
    expect(everyPartyApproves(approved)).toEqual(PARTY_ROLES.map(() => 'approve'));
    expect(proposalSigningBytes(approved)).toEqual(
      proposalSigningBytes(JSON.parse(JSON.stringify(approved))),
    );
  });

  it('a pooled risk score can only raise the score, and is bound into the proposal', () => {
    const { solved } = run(SIGNALS.quotaExceeded);
    const ref = { circuit: 'weighted-risk', session_id: 'agg-1', output_digest: 'cd'.repeat(32), value: 75 };
    const d = runStrategyStep(
      {
        incident_id: 'inc-0001',
        urgency: 'P1',
        environment: 'production',
        fix: solved.fix.proposals[0]!,
        policy: defaultPolicy('strategy'),
        pooled: ref,
      },
      context({ verifyAggregationRef: (r) => r.session_id === 'agg-1' }),
    );
    expect(d).toMatchObject({
      decision: 'needs_human',
      rule: 'risk.over_auto_threshold',
      risk: { score: 75, formula_score: 50 },
    });
    expect(d.proposal.risk.aggregation_ref).toEqual(ref);
    const low = runStrategyStep(
      {
        incident_id: 'inc-0001',
        urgency: 'P1',
        environment: 'production',
        fix: solved.fix.proposals[0]!,
        policy: defaultPolicy('strategy'),
        pooled: { ...ref, value: 10 },
      },
      context({ verifyAggregationRef: () => true }),
    );
    expect(low.risk.score).toBe(50);
  });

  it('strategy refuses what policy forbids outright', () => {
    const { solved } = run(SIGNALS.quotaExceeded);
    const fix = { ...solved.fix.proposals[0]!, target: 'resourcequota://kube-system/compute' };
    const d = runStrategyStep(
      {
        incident_id: 'inc-0001',
        urgency: 'P1',
        environment: 'production',
        fix,
        policy: defaultPolicy('strategy'),
      },
      context(),
    );
    expect(d).toMatchObject({ decision: 'refuse', rule: 'target.namespace' });
  });

  it('verification and audit close the record', () => {
    const { triaged, solved, decision } = run(SIGNALS.quotaExceeded);
    const execution = {
      incident_id: 'inc-0001',
      proposal_digest: decision.proposal.proposal_digest,
      status: 'succeeded' as const,
      executor: 'dry-run',
      post_checks: [{ name: 'quota.applied', passed: true }],
    };
    const report = runVerification(
      defaultPolicy('quality-assurance'),
      { proposal: decision.proposal, execution },
      context(),
    );
    expect(report.verdict).toBe('pass');
    const summary = runAuditStep({
      incident_id: 'inc-0001',
      state: 'resolved',
      signal: triaged,
      rca: solved.rca,
      decision,
      approval: { signers: ['p3', 'p1', 'p2'], refusals: [], signature: 'aa'.repeat(64) },
      execution,
      verification: report,
      times: { received: '2026-11-25T11:00:00Z', resolved: '2026-11-25T11:00:02Z' },
    });
    expect(summary.compliance).toEqual({ status: 'compliant', violations: [] });
    expect(summary.signers).toEqual(['p1', 'p2', 'p3']);
    expect(summary.action).toEqual({
      name: 'resource_quota_adjust',
      target: 'resourcequota://shop/compute',
      executor: 'dry-run',
      result: 'succeeded',
      // The quorum whose signature approved it, sorted (docs/evidence.md `action.approved_by`).
      approved_by: ['p1', 'p2', 'p3'],
    });
  });
});
