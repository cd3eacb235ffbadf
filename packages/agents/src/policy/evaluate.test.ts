import { PolicyRefusal } from '@aaps/mpc-core';
import { describe, expect, it } from 'vitest';
import { evaluateProposal, toPolicyRefusal } from './evaluate.js';
import { type ApprovalProposal, buildApprovalProposal, type ProposalCore } from './proposal.js';
import { computeRiskScore } from './risk.js';
import { AUTO_ACTIONS, HUMAN_ACTIONS, PARTY_ROLES } from './roles.js';
import type { Policy } from './schema.js';
import {
  context,
  DIGEST,
  GOOD_IMAGE,
  LOW_RISK,
  PARAMS,
  policyFor,
  proposalFor,
  signApproval,
} from './test-helpers/fixtures.js';

const policy = policyFor('strategy');
const ctx = context();

function ruleOf(p: Policy, role: Parameters<typeof evaluateProposal>[1], proposal: unknown, c = ctx) {
  const r = evaluateProposal(p, role, proposal, c);
  return r.decision === 'refuse' ? r.rule : 'approve';
}

/** Rebuild a proposal from its core with changes, keeping its digest right. */
function rebuilt(p: ApprovalProposal, over: Partial<ProposalCore>): ApprovalProposal {
  const { human_approval: _h, proposal_digest: _d, ...core } = p;
  return buildApprovalProposal({ ...core, ...over });
}

describe('evaluateProposal: approvals', () => {
  it.each(AUTO_ACTIONS)('approves %s within policy for every party role', (action) => {
    for (const role of PARTY_ROLES) {
      expect(ruleOf(policyFor(role), role, proposalFor(action))).toBe('approve');
    }
  });

  it('approves an image rollback to the previous revision (no known-good digest)', () => {
    const p = proposalFor('image_rollback', {
      parameters: {
        basis: 'previous_revision',
        to_revision: 'previous',
        from_image: 'registry.example/shop/web:v2',
      },
    });
    expect(ruleOf(policy, 'strategy', p)).toBe('approve');
  });

  it.each(HUMAN_ACTIONS)('approves %s with a valid human approval', (action) => {
    const p = proposalFor(action);
    expect(ruleOf(policy, 'strategy', { ...p, human_approval: signApproval(p) })).toBe('approve');
  });

  it('approves an auto action over the auto threshold with a valid human approval', () => {
    const p = proposalFor(
      'image_rollback',
      {},
      { blast_radius: 5, urgency: 'P1', environment: 'production' },
    );
    expect(p.risk.score).toBe(70);
    expect(ruleOf(policy, 'strategy', p)).toBe('risk.over_auto_threshold');
    expect(ruleOf(policy, 'strategy', { ...p, human_approval: signApproval(p) })).toBe('approve');
  });

  it('the maintenance executor approves what it may execute', () => {
    expect(ruleOf(policyFor('maintenance'), 'maintenance', proposalFor('configmap_reload'))).toBe('approve');
  });
});

describe('evaluateProposal: each refusal names its rule', () => {
  const p = proposalFor('configmap_reload');

  it('proposal.schema: unknown field, missing field, not an object', () => {
    expect(ruleOf(policy, 'strategy', { ...p, extra: 1 })).toBe('proposal.schema');
    const { target: _t, ...noTarget } = p;
    expect(ruleOf(policy, 'strategy', noTarget)).toBe('proposal.schema');
    expect(ruleOf(policy, 'strategy', 'approve me')).toBe('proposal.schema');
    const r = evaluateProposal(policy, 'strategy', { ...p, extra: 1 }, ctx);
    expect(r.decision === 'refuse' && r.fields).toEqual(['extra']);
  });

  it('role.unknown and policy.role_mismatch', () => {
    expect(ruleOf(policy, 'superagent' as never, p)).toBe('role.unknown');
    expect(ruleOf(policy, 'audit', p)).toBe('policy.role_mismatch');
  });

  it('proposal.digest_mismatch: a field changed after the digest', () => {
    expect(ruleOf(policy, 'strategy', { ...p, target: 'configmap://shop/other' })).toBe(
      'proposal.digest_mismatch',
    );
  });

  it('action.unknown and action.not_allowed', () => {
    expect(ruleOf(policy, 'strategy', rebuilt(p, { action: 'delete_namespace' }))).toBe('action.unknown');
    const narrow = {
      ...policy,
      allowed_auto_actions: policy.allowed_auto_actions.filter((a) => a !== 'configmap_reload'),
    };
    expect(ruleOf(narrow, 'strategy', p)).toBe('action.not_allowed');
  });

  it('evidence.missing and evidence.invalid_ref', () => {
    expect(ruleOf(policy, 'strategy', rebuilt(p, { evidence_refs: [] }))).toBe('evidence.missing');
    expect(ruleOf(policy, 'strategy', rebuilt(p, { evidence_refs: ['just words'] }))).toBe(
      'evidence.invalid_ref',
    );
  });

  it('target.invalid, target.namespace, target.kind', () => {
    expect(ruleOf(policy, 'strategy', rebuilt(p, { target: 'configmap://app-config' }))).toBe(
      'target.invalid',
    );
    expect(ruleOf(policy, 'strategy', rebuilt(p, { target: 'configmap://kube-system/coredns' }))).toBe(
      'target.namespace',
    );
    expect(ruleOf(policy, 'strategy', rebuilt(p, { target: 'secret://shop/db' }))).toBe('target.kind');
  });

  it('permission: maintenance touches no network policy or RBAC, and executes no human action', () => {
    expect(ruleOf(policy, 'strategy', rebuilt(p, { target: 'networkpolicy://shop/deny-all' }))).toBe(
      'permission.constraint.no_network_policy',
    );
    const pod = proposalFor('pod_restart');
    expect(ruleOf(policy, 'strategy', rebuilt(pod, { target: 'rolebinding://shop/admin' }))).toBe(
      'permission.constraint.no_rbac_changes',
    );
    const rbac = proposalFor('rbac_changes');
    expect(
      ruleOf(policyFor('maintenance'), 'maintenance', { ...rbac, human_approval: signApproval(rbac) }),
    ).toBe('permission.not_executor');
  });

  it('parameters.invalid: unknown, missing or mistyped parameters', () => {
    expect(
      ruleOf(policy, 'strategy', rebuilt(p, { parameters: { ...PARAMS.configmap_reload.parameters, x: 1 } })),
    ).toBe('parameters.invalid');
    expect(ruleOf(policy, 'strategy', rebuilt(p, { parameters: { rollout_restart: [] } }))).toBe(
      'parameters.invalid',
    );
    expect(
      ruleOf(
        policy,
        'strategy',
        rebuilt(p, {
          parameters: {
            source: { kind: 'last_known_good', version: '1' },
            rollout_restart: ['deployment://other/web'],
          },
        }),
      ),
    ).toBe('parameters.invalid');
  });

  it('bounds: quota resource, factor, usage; image digest', () => {
    const q = proposalFor('resource_quota_adjust');
    const change = { resource: 'limits.cpu', current_hard: '4', new_hard: '5', used: '3', requested: '2' };
    const withChange = (c: Record<string, string>) => rebuilt(q, { parameters: { changes: [c] } });
    expect(ruleOf(policy, 'strategy', withChange({ ...change, resource: 'count/secrets' }))).toBe(
      'bounds.quota_resource',
    );
    expect(ruleOf(policy, 'strategy', withChange({ ...change, new_hard: '8' }))).toBe('approve');
    expect(ruleOf(policy, 'strategy', withChange({ ...change, new_hard: '8001m' }))).toBe(
      'bounds.quota_factor',
    );
    expect(ruleOf(policy, 'strategy', withChange({ ...change, new_hard: '2' }))).toBe(
      'bounds.quota_below_usage',
    );
    // A policy from before caps: the resource is listed, uncapped, and no change of it is signed.
    const { [change.resource]: _cap, ...others } = policy.bounds.resource_quota.max_hard;
    const uncapped = {
      ...policy,
      bounds: { ...policy.bounds, resource_quota: { ...policy.bounds.resource_quota, max_hard: others } },
    };
    expect(ruleOf(uncapped, 'strategy', withChange({ ...change, new_hard: '8' }))).toBe('bounds.quota_max');
    const img = proposalFor('image_rollback');
    expect(
      ruleOf(
        policy,
        'strategy',
        rebuilt(img, {
          parameters: {
            basis: 'deployment_history',
            container: 'web',
            to_image: 'registry.example/shop/web:v1',
          },
        }),
      ),
    ).toBe('bounds.image_digest');
  });

  it('bounds.image_prefix: a rollback targets only images the policy lists, by whole components', () => {
    const img = proposalFor('image_rollback');
    const to = (to_image: string) =>
      rebuilt(img, { parameters: { basis: 'deployment_history', container: 'web', to_image } });
    const listing = (allowed_image_prefixes: string[]): Policy => ({
      ...policy,
      bounds: { ...policy.bounds, image_rollback: { require_digest: true, allowed_image_prefixes } },
    });
    const shop = listing(['registry.example/shop/']);
    // Absent, any digest-pinned image passes: what a fake deployment history could exploit.
    expect(ruleOf(policy, 'strategy', to(`evil.example/backdoor@${DIGEST}`))).toBe('approve');
    expect(ruleOf(shop, 'strategy', img)).toBe('approve');
    expect(ruleOf(shop, 'strategy', to(`registry.example/shop/web:v1@${DIGEST}`))).toBe('approve');
    for (const image of [
      `evil.example/backdoor@${DIGEST}`,
      `registry.example/shopping/web@${DIGEST}`,
      `registry.example/shop@${DIGEST}`,
      `registry.example/shop/../evil/web@${DIGEST}`,
      `registry.example/shop//web@${DIGEST}`,
      `evil.example/registry.example/shop/web@${DIGEST}`,
    ]) {
      const r = evaluateProposal(shop, 'strategy', to(image), ctx);
      expect(r).toMatchObject({ decision: 'refuse', rule: 'bounds.image_prefix' });
      expect(r.decision === 'refuse' && r.fields).toEqual(['parameters.to_image']);
    }
    // An entry without a trailing slash names one repository exactly, tag and digest aside.
    const web = listing(['registry.example/shop/web', 'registry.example:5000/ops/']);
    expect(ruleOf(web, 'strategy', to(`registry.example/shop/web@${DIGEST}`))).toBe('approve');
    expect(ruleOf(web, 'strategy', to(`registry.example:5000/ops/api@${DIGEST}`))).toBe('approve');
    expect(ruleOf(web, 'strategy', to(`registry.example/shop/web-canary@${DIGEST}`))).toBe(
      'bounds.image_prefix',
    );
    // An empty list allows no named image; the previous revision needs none.
    const none = listing([]);
    expect(ruleOf(none, 'strategy', img)).toBe('bounds.image_prefix');
    const undo = rebuilt(img, { parameters: { basis: 'previous_revision', to_revision: 'previous' } });
    expect(ruleOf(none, 'strategy', undo)).toBe('approve');
  });

  it('bounds.image_repository: a rollback goes to an image of the failing image its proposal names', () => {
    const img = proposalFor('image_rollback');
    const rollback = (to_image: string, from_image?: string) =>
      rebuilt(img, {
        parameters: {
          basis: 'deployment_history',
          container: 'web',
          to_image,
          ...(from_image === undefined ? {} : { from_image }),
        },
      });
    const failing = 'registry.example/shop/web@sha256:' + '9e'.repeat(32);
    expect(ruleOf(policy, 'strategy', rollback(GOOD_IMAGE, failing))).toBe('approve');
    expect(ruleOf(policy, 'strategy', rollback(GOOD_IMAGE, 'registry.example/shop/web:v2'))).toBe('approve');
    // Docker Hub's defaults are filled in on both sides.
    expect(ruleOf(policy, 'strategy', rollback(`docker.io/library/nginx:1.26@${DIGEST}`, 'nginx:1.27'))).toBe(
      'approve',
    );
    // Another repository is another container's image: the failing container stays as it was.
    for (const to of [
      `registry.example/mesh/proxy@${DIGEST}`,
      `registry.example/shop/web-canary@${DIGEST}`,
      `registry.example:5000/shop/web@${DIGEST}`,
    ]) {
      const r = evaluateProposal(policy, 'strategy', rollback(to, failing), ctx);
      expect(r).toMatchObject({ decision: 'refuse', rule: 'bounds.image_repository' });
      expect(r.decision === 'refuse' && r.fields).toEqual(['parameters.to_image', 'parameters.from_image']);
    }
    // Without from_image there is nothing to compare (the solver always names it with a history basis).
    expect(ruleOf(policy, 'strategy', rollback(`registry.example/mesh/proxy@${DIGEST}`))).toBe('approve');
    // A rollout undo names no image to go to.
    const undo = rebuilt(img, {
      parameters: { basis: 'previous_revision', to_revision: 'previous', from_image: failing },
    });
    expect(ruleOf(policy, 'strategy', undo)).toBe('approve');
  });

  it('risk.pooled_required: a party that requires the pooled score refuses a proposal without one', () => {
    const strict: Policy = { ...policy, risk: { ...policy.risk!, require_pooled: true } };
    const r = evaluateProposal(strict, 'strategy', p, ctx);
    expect(r).toMatchObject({ decision: 'refuse', rule: 'risk.pooled_required' });
    expect(r.decision === 'refuse' && r.fields).toEqual(['risk.aggregation_ref']);
    // Without the setting (or with it false) the formula alone is still accepted.
    expect(ruleOf(policy, 'strategy', p)).toBe('approve');
    expect(ruleOf({ ...strict, risk: { ...policy.risk!, require_pooled: false } }, 'strategy', p)).toBe(
      'approve',
    );
    const ref = { circuit: 'weighted-risk', session_id: 's-1', output_digest: 'cd'.repeat(32), value: 55 };
    const pooled = rebuilt(p, { risk: { ...p.risk, score: 55, aggregation_ref: ref } });
    expect(ruleOf(strict, 'strategy', pooled, context({ verifyAggregationRef: () => true }))).toBe('approve');
    // A reference that is there must still verify.
    expect(ruleOf(strict, 'strategy', pooled)).toBe('risk.aggregation_unverified');
  });

  it('risk: score mismatch, unverified aggregation, over the maximum', () => {
    expect(ruleOf(policy, 'strategy', rebuilt(p, { risk: { ...p.risk, score: 1 } }))).toBe(
      'risk.score_mismatch',
    );
    const ref = { circuit: 'weighted-risk', session_id: 's-1', output_digest: 'cd'.repeat(32), value: 55 };
    const pooled = rebuilt(p, { risk: { ...p.risk, score: 55, aggregation_ref: ref } });
    expect(ruleOf(policy, 'strategy', pooled)).toBe('risk.aggregation_unverified');
    expect(ruleOf(policy, 'strategy', pooled, context({ verifyAggregationRef: () => false }))).toBe(
      'risk.aggregation_unverified',
    );
    expect(ruleOf(policy, 'strategy', pooled, context({ verifyAggregationRef: () => true }))).toBe('approve');
    // A round the party confirmed for this proposal that no longer counts has its own rule.
    expect(ruleOf(policy, 'strategy', pooled, context({ verifyAggregationRef: () => 'stale' }))).toBe(
      'risk.aggregation_stale',
    );
    const pvc = proposalFor(
      'pvc_deletion',
      {},
      { blast_radius: 4, urgency: 'P1', environment: 'production' },
    );
    expect(pvc.risk.score).toBe(100);
    expect(ruleOf(policy, 'strategy', { ...pvc, human_approval: signApproval(pvc) })).toBe('risk.over_max');
  });

  it('human approval: required, bound to incident/action/proposal, in time, really signed', () => {
    const rbac = proposalFor('rbac_changes');
    expect(ruleOf(policy, 'strategy', rbac)).toBe('human_approval.required');
    expect(
      ruleOf(policy, 'strategy', { ...rbac, human_approval: signApproval(rbac, { incident_id: 'inc-9' }) }),
    ).toBe('human_approval.binding');
    expect(
      ruleOf(policy, 'strategy', { ...rbac, human_approval: signApproval(rbac, { action: 'pvc_deletion' }) }),
    ).toBe('human_approval.binding');
    const other = proposalFor('rbac_changes', { target: 'rolebinding://shop/other' });
    expect(ruleOf(policy, 'strategy', { ...rbac, human_approval: signApproval(other) })).toBe(
      'human_approval.binding',
    );
    expect(
      ruleOf(policy, 'strategy', {
        ...rbac,
        human_approval: signApproval(rbac, { expires_at: '2026-11-25T11:59:59Z' }),
      }),
    ).toBe('human_approval.expired');
    expect(
      ruleOf(policy, 'strategy', {
        ...rbac,
        human_approval: signApproval(rbac, { expires_at: '2026-11-27T11:30:00Z' }),
      }),
    ).toBe('human_approval.expired');
    const forged = { ...signApproval(rbac), approver_id: 'mallory' };
    expect(ruleOf(policy, 'strategy', { ...rbac, human_approval: forged })).toBe('human_approval.signature');
  });

  it('a check that throws refuses under the rule that was running', () => {
    const rbac = proposalFor('rbac_changes');
    const throwing = context({
      verifyHumanApproval: () => {
        throw new TypeError('roster unavailable');
      },
    });
    expect(ruleOf(policy, 'strategy', { ...rbac, human_approval: signApproval(rbac) }, throwing)).toBe(
      'human_approval.signature',
    );
    const badPolicy = { ...policy, bounds: undefined } as unknown as Policy;
    expect(evaluateProposal(badPolicy, 'strategy', rbac, ctx).decision).toBe('refuse');
  });

  it('qa.veto: quality assurance refuses when a mandatory stage fails', () => {
    const qa = policyFor('quality-assurance');
    const img = proposalFor('image_rollback');
    expect(ruleOf(qa, 'quality-assurance', img)).toBe('approve');
    const veto = evaluateProposal(qa, 'quality-assurance', img, {
      ...ctx,
      verification: {
        artifacts: { signature: { subject: GOOD_IMAGE, verified: false, verifier: 'cosign' } },
      },
    });
    expect(veto).toMatchObject({
      decision: 'refuse',
      rule: 'qa.veto',
      fields: ['verification.signature_verify'],
    });
    // Other roles have no veto power: the same data does not make them refuse.
    expect(
      evaluateProposal(policy, 'strategy', img, {
        ...ctx,
        verification: {
          artifacts: { signature: { subject: GOOD_IMAGE, verified: false, verifier: 'cosign' } },
        },
      }).decision,
    ).toBe('approve');
  });

  it('toPolicyRefusal carries the rule', () => {
    const r = evaluateProposal(policy, 'strategy', proposalFor('rbac_changes'), ctx);
    if (r.decision !== 'refuse') throw new Error('expected a refusal');
    const e = toPolicyRefusal(r);
    expect(e).toBeInstanceOf(PolicyRefusal);
    expect(e.code).toBe('POLICY_REFUSED');
    expect(e.rule).toBe('human_approval.required');
  });

  it('uses the risk formula the strategy agent uses', () => {
    expect(proposalFor('configmap_reload').risk.score).toBe(computeRiskScore('configmap_reload', LOW_RISK));
  });
});
