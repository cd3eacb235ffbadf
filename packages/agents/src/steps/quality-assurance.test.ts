import { describe, expect, it } from 'vitest';
import { buildApprovalProposal } from '../policy/proposal.js';
import {
  context,
  GOOD_IMAGE,
  NOW,
  policyFor,
  proposalFor,
  signApproval,
} from '../policy/test-helpers/fixtures.js';
import { type QualityAssuranceInput, runVerification } from './quality-assurance.js';

const policy = policyFor('quality-assurance');
const img = proposalFor('image_rollback');
const statusOf = (input: QualityAssuranceInput) =>
  Object.fromEntries(runVerification(policy, input, context()).stages.map((s) => [s.name, s.status]));

describe('quality assurance', () => {
  it('runs the seven seed stages and the post-change check, in order', () => {
    const report = runVerification(policy, { proposal: img }, context());
    expect(report.stages.map((s) => s.name)).toEqual([
      'schema_validation',
      'policy_compliance',
      'sbom_scan',
      'signature_verify',
      'attestation_check',
      'test_coverage',
      'security_scan',
      'post_change_check',
    ]);
    expect(report.incident_id).toBe('inc-0001');
    expect(report.proposal_digest).toBe(img.proposal_digest);
  });

  it('skips a stage with no data, with the reason, and never passes it', () => {
    const report = runVerification(policy, { proposal: img }, context());
    const skipped = report.stages.filter((s) => s.status === 'skipped');
    expect(skipped.map((s) => s.name)).toEqual([
      'sbom_scan',
      'signature_verify',
      'attestation_check',
      'test_coverage',
      'security_scan',
      'post_change_check',
    ]);
    expect(skipped.every((s) => s.detail.length > 0)).toBe(true);
    expect(report.verdict).toBe('pass');
  });

  it('passes stages whose data holds', () => {
    const status = statusOf({
      proposal: img,
      artifacts: {
        sbom: {
          format: 'CycloneDX',
          subject: GOOD_IMAGE,
          vulnerabilities: [{ id: 'CVE-2026-1', severity: 'medium' }],
        },
        signature: { subject: GOOD_IMAGE, verified: true, verifier: 'cosign' },
        attestation: {
          predicate_type: 'https://slsa.dev/provenance/v1',
          subject_digest: GOOD_IMAGE.split('@')[1]!,
          verified: true,
        },
        tests: { passed: 120, failed: 0, coverage: 0.82 },
        security_scan: { tool: 'semgrep', findings: [] },
      },
      execution: {
        incident_id: 'inc-0001',
        proposal_digest: img.proposal_digest,
        status: 'succeeded',
        executor: 'dry-run',
      },
    });
    expect(Object.values(status)).toEqual(Array(8).fill('pass'));
  });

  it.each([
    [
      'sbom_scan',
      {
        sbom: {
          format: 'CycloneDX',
          subject: GOOD_IMAGE,
          vulnerabilities: [{ id: 'CVE-1', severity: 'critical' as const }],
        },
      },
    ],
    [
      'sbom_scan',
      {
        sbom: {
          format: 'CycloneDX',
          subject: 'registry.example/other@sha256:' + '00'.repeat(32),
          vulnerabilities: [],
        },
      },
    ],
    ['signature_verify', { signature: { subject: GOOD_IMAGE, verified: false, verifier: 'cosign' } }],
    [
      'attestation_check',
      { attestation: { predicate_type: 'https://example/other', subject_digest: 'x', verified: true } },
    ],
    ['test_coverage', { tests: { passed: 10, failed: 1, coverage: 0.9 } }],
    ['test_coverage', { tests: { passed: 10, failed: 0, coverage: 0.2 } }],
    [
      'security_scan',
      { security_scan: { tool: 'semgrep', findings: [{ id: 'S1', severity: 'high' as const }] } },
    ],
  ])('vetoes on a failed mandatory stage: %s', (stage, artifacts) => {
    const report = runVerification(policy, { proposal: img, artifacts }, context());
    expect(report.verdict).toBe('veto');
    expect(report.vetoed_by).toEqual([stage]);
  });

  it('vetoes a failed execution and a result for another proposal', () => {
    const failed = runVerification(
      policy,
      {
        proposal: img,
        execution: {
          incident_id: 'inc-0001',
          proposal_digest: img.proposal_digest,
          status: 'rolled_back',
          executor: 'gitops',
        },
      },
      context(),
    );
    expect(failed.vetoed_by).toEqual(['post_change_check']);
    const other = runVerification(
      policy,
      {
        proposal: img,
        execution: {
          incident_id: 'inc-0001',
          proposal_digest: 'ff'.repeat(32),
          status: 'succeeded',
          executor: 'gitops',
        },
      },
      context(),
    );
    expect(other.vetoed_by).toEqual(['schema_validation']);
  });

  it('vetoes a proposal that breaks policy or schema, and fails required stages that have no data', () => {
    expect(runVerification(policy, { proposal: proposalFor('rbac_changes') }, context()).vetoed_by).toEqual([
      'policy_compliance',
    ]);
    expect(runVerification(policy, { proposal: { nope: 1 } }, context()).vetoed_by).toEqual([
      'schema_validation',
      'policy_compliance',
    ]);
    const strict = {
      ...policy,
      verification: { ...policy.verification, require_data: ['signature_verify' as const] },
    };
    expect(runVerification(strict, { proposal: img }, context()).vetoed_by).toEqual(['signature_verify']);
  });

  it('a failed stage that is not mandatory is reported without a veto', () => {
    const lax = {
      ...policy,
      verification: { ...policy.verification, mandatory: ['schema_validation' as const] },
    };
    const report = runVerification(
      lax,
      { proposal: img, artifacts: { tests: { passed: 1, failed: 3 } } },
      context(),
    );
    expect(report.stages.find((s) => s.name === 'test_coverage')).toMatchObject({
      status: 'fail',
      mandatory: false,
    });
    expect(report.verdict).toBe('pass');
  });

  describe('a human approval checked after execution', () => {
    const bare = proposalFor('rbac_changes');
    // Valid from 11:30 to 11:59:30; verification runs at 12:00 (NOW).
    const approval = signApproval(bare, { expires_at: '2026-11-25T11:59:30Z' });
    const approved = buildApprovalProposal(bare, approval);
    const executed = {
      incident_id: 'inc-0001',
      proposal_digest: approved.proposal_digest,
      status: 'succeeded' as const,
      executor: 'dry-run',
    };
    const compliance = (input: QualityAssuranceInput) =>
      runVerification(policy, input, context()).stages.find((s) => s.name === 'policy_compliance');

    it('is judged when the order was issued, so one that ran out since does not veto the change', () => {
      expect(
        compliance({ proposal: approved, execution: executed, ordered_at: '2026-11-25T11:45:00Z' }),
      ).toMatchObject({ status: 'pass' });
    });

    it('is judged now when it had run out before the order, without an order time, or before execution', () => {
      const late = { proposal: approved, execution: executed, ordered_at: '2026-11-25T11:59:45Z' };
      const unknownTime = { proposal: approved, execution: executed };
      const notExecuted = { proposal: approved, ordered_at: '2026-11-25T11:45:00Z' };
      const unreal = { proposal: approved, execution: executed, ordered_at: 'yesterday' };
      for (const input of [late, unknownTime, notExecuted, unreal]) {
        expect(compliance(input)).toMatchObject({
          status: 'fail',
          detail: 'refused by human_approval.expired',
        });
      }
    });

    it('an order time in the future counts as now', () => {
      const ahead = new Date(NOW + 3600_000).toISOString();
      expect(compliance({ proposal: approved, execution: executed, ordered_at: ahead })).toMatchObject({
        status: 'fail',
      });
    });

    it('keeps every other rule: a forged approval still fails at the order time', () => {
      const forged = buildApprovalProposal(bare, {
        ...approval,
        signature: approval.signature.replace(/.{4}$/, 'AAAA'),
      });
      expect(
        compliance({ proposal: forged, execution: executed, ordered_at: '2026-11-25T11:45:00Z' }),
      ).toMatchObject({ status: 'fail', detail: 'refused by human_approval.signature' });
    });
  });

  describe('a pooled-risk reference checked after execution', () => {
    // The image rollback at a pooled 55 (over the formula's score), citing a round.
    const { human_approval: _h, proposal_digest: _d, ...core } = img;
    const ref = { circuit: 'weighted-risk', session_id: 's-1', output_digest: 'cd'.repeat(32), value: 55 };
    const pooled = buildApprovalProposal({
      ...core,
      risk: { ...core.risk, score: 55, aggregation_ref: ref },
    });
    const executed = {
      incident_id: 'inc-0001',
      proposal_digest: pooled.proposal_digest,
      status: 'succeeded' as const,
      executor: 'dry-run',
    };
    const compliance = (input: QualityAssuranceInput, standing: boolean | 'stale') =>
      runVerification(policy, input, context({ verifyAggregationRef: () => standing })).stages.find(
        (s) => s.name === 'policy_compliance',
      );

    it('accepts the round the approval cited that went stale since (the view changed): the change stands', () => {
      expect(compliance({ proposal: pooled, execution: executed }, 'stale')).toMatchObject({
        status: 'pass',
      });
      expect(compliance({ proposal: pooled, execution: executed }, true)).toMatchObject({ status: 'pass' });
    });

    it('still fails a reference that does not verify, and a stale one before execution', () => {
      expect(compliance({ proposal: pooled, execution: executed }, false)).toMatchObject({
        status: 'fail',
        detail: 'refused by risk.aggregation_unverified',
      });
      expect(compliance({ proposal: pooled }, 'stale')).toMatchObject({
        status: 'fail',
        detail: 'refused by risk.aggregation_stale',
      });
    });
  });
});
