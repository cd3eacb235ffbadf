import { describe, expect, it } from 'vitest';
import { context, policyFor, proposalFor, signApproval } from '../policy/test-helpers/fixtures.js';
import { runAuditStep } from './audit.js';
import { runMonitoringStep } from './monitoring.js';
import { runVerification } from './quality-assurance.js';
import type { ApprovalDecisionPayload } from './strategy.js';
import { monitoringInput, SIGNALS } from './test-helpers/signals.js';

const signal = runMonitoringStep(monitoringInput(SIGNALS.rbacDenied));
const proposal = proposalFor('rbac_changes');
const decision: ApprovalDecisionPayload = {
  incident_id: 'inc-0001',
  decision: 'needs_human',
  rule: 'human_approval.required',
  reason: 'rbac_changes needs a signed human approval',
  proposal,
  risk: {
    score: proposal.risk.score,
    formula_score: proposal.risk.score,
    terms: { action: 60, blast: 0, urgency: 5, environment: 10 },
  },
};
const execution = {
  incident_id: 'inc-0001',
  proposal_digest: proposal.proposal_digest,
  status: 'succeeded' as const,
  executor: 'human',
};
const times = { received: '2026-11-25T11:00:00Z' };

describe('audit', () => {
  it('summarises incident, decision, action, signers, approvals and verification', () => {
    const approval = signApproval(proposal);
    const verification = runVerification(
      policyFor('quality-assurance'),
      { proposal: { ...proposal, human_approval: approval }, execution },
      context(),
    );
    const s = runAuditStep({
      incident_id: 'inc-0001',
      state: 'resolved',
      signal,
      decision,
      approval: { signers: ['b', 'a', 'c'], refusals: [{ party: 'd', rule: 'qa.veto' }], signature: 'aa' },
      human_approvals: [approval],
      execution,
      verification,
      times,
    });
    expect(s.incident).toMatchObject({
      id: 'inc-0001',
      type: 'resource_quota_exceeded',
      subtype: 'rbac_denied',
      state: 'resolved',
    });
    expect(s.decision).toMatchObject({ outcome: 'needs_human', proposal_digest: proposal.proposal_digest });
    expect(s.signers).toEqual(['a', 'b', 'c']);
    expect(s.refusals).toEqual([{ party: 'd', rule: 'qa.veto' }]);
    expect(s.approvals).toEqual([
      {
        approver_id: 'alice',
        approved_at: approval.approved_at,
        expires_at: approval.expires_at,
        proposal_digest: proposal.proposal_digest,
      },
    ]);
    expect(s.verification?.verdict).toBe('pass');
    expect(s.compliance.status).toBe('compliant');
  });

  it('states the action executed only: none for a rejected proposal; the undo of one that was tried', () => {
    const rejected = runAuditStep({ incident_id: 'inc-0001', state: 'rejected', signal, decision, times });
    expect(rejected.decision).toMatchObject({ proposal_digest: proposal.proposal_digest });
    expect(rejected.action).toBeUndefined();
    const rollback = { done: false, detail: 'revert did not apply' };
    const failed = runAuditStep({
      incident_id: 'inc-0001',
      state: 'failed',
      signal,
      decision,
      execution: { ...execution, status: 'failed', rollback },
      times,
    });
    expect(failed.action).toEqual({
      name: proposal.action,
      target: proposal.target,
      executor: execution.executor,
      result: 'failed',
      rollback,
    });
  });

  it('flags a record that does not add up', () => {
    const s = runAuditStep({
      incident_id: 'inc-0001',
      state: 'resolved',
      signal,
      decision,
      execution: { ...execution, proposal_digest: 'ff'.repeat(32) },
      times,
    });
    expect(s.compliance.violations).toEqual([
      'executed_without_signature',
      'execution_mismatch',
      'missing_human_approval',
      'resolved_without_verification',
    ]);
    const refused = runAuditStep({
      incident_id: 'inc-0001',
      state: 'failed',
      signal,
      decision: { ...decision, decision: 'refuse' },
      execution,
      times,
    });
    expect(refused.compliance.violations).toContain('executed_without_approval');
  });
});
