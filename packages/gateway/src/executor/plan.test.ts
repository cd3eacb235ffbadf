/** The change plan's steps that are not field edits: runnable kubectl commands. */
import { type ApprovalProposal, buildApprovalProposal, computeRiskScore } from '@aaps/agents';
import { ValidationError } from '@aaps/mpc-core';
import { describe, expect, it } from 'vitest';
import { createDryRunExecutor } from './dry-run.js';
import { applyFieldOps, kubectlResource, planChange } from './plan.js';

function undoProposal(target: string): ApprovalProposal {
  const factors = { blast_radius: 1, urgency: 'P2' as const, environment: 'staging' as const };
  return buildApprovalProposal({
    incident_id: 'inc-undo-1',
    action: 'image_rollback',
    target,
    parameters: { basis: 'previous_revision', to_revision: 'previous' },
    evidence_refs: ['event://payments/evt-1'],
    risk: { score: computeRiskScore('image_rollback', factors), method: 'aaps.risk.v1', factors },
  });
}

describe('kubectlResource', () => {
  it('turns kind://namespace/name into kind/name -n namespace, and kind://name into kind/name', () => {
    expect(kubectlResource('deployment://payments/ledger')).toBe('deployment/ledger -n payments');
    expect(kubectlResource('statefulset://db/pg-main.v2')).toBe('statefulset/pg-main.v2 -n db');
    expect(kubectlResource('daemonset://kube-system/agent')).toBe('daemonset/agent -n kube-system');
    expect(kubectlResource('clusterrole://view')).toBe('clusterrole/view');
    expect(() => kubectlResource('deployment://ledger')).toThrow(ValidationError);
  });
});

describe('rollout undo', () => {
  it('records a runnable kubectl command in the plan and in the dry-run change', async () => {
    const proposal = undoProposal('deployment://payments/ledger');
    const plan = planChange(proposal, '2026-11-25T15:00:00Z');
    expect(plan.resources).toEqual([]);
    expect(plan.notes).toEqual(['kubectl rollout undo deployment/ledger -n payments']);
    const executor = createDryRunExecutor({ now: () => new Date('2026-11-25T15:00:00Z') });
    const applied = await executor.apply({
      incident_id: 'inc-undo-1',
      proposal,
      approval: { ciphersuite: 'FROST-ED25519-SHA512-v1', group_public_key: '', signature: '', signers: [] },
      executor: 'dry-run',
    });
    expect(applied.change).toMatchObject({
      mode: 'dry-run',
      notes: ['kubectl rollout undo deployment/ledger -n payments'],
    });
    const sts = planChange(undoProposal('statefulset://db/pg'), '2026-11-25T15:00:00Z');
    expect(sts.notes).toEqual(['kubectl rollout undo statefulset/pg -n db']);
  });
});

describe('an image rollback of an init container', () => {
  const GOOD = `registry.example/shop/web:1.4.0@sha256:${'ab'.repeat(32)}`;
  const proposal = (init: boolean): ApprovalProposal => {
    const factors = { blast_radius: 1, urgency: 'P2' as const, environment: 'staging' as const };
    return buildApprovalProposal({
      incident_id: 'inc-init-1',
      action: 'image_rollback',
      target: 'deployment://shop/web',
      parameters: {
        basis: 'deployment_history',
        container: 'migrate',
        to_image: GOOD,
        ...(init ? { init_container: true } : {}),
      },
      evidence_refs: ['event://shop/evt-1'],
      risk: { score: computeRiskScore('image_rollback', factors), method: 'aaps.risk.v1', factors },
    });
  };
  const manifest = () => ({
    spec: {
      template: {
        spec: {
          initContainers: [{ name: 'migrate', image: 'registry.example/shop/web:v2' }],
          containers: [{ name: 'web', image: 'registry.example/shop/web:v2' }],
        },
      },
    },
  });

  it('edits spec.template.spec.initContainers, not containers', () => {
    const plan = planChange(proposal(true), '2026-11-25T15:00:00Z');
    expect(plan.summary).toBe(`set init container migrate of deployment://shop/web to ${GOOD}`);
    const patched = applyFieldOps(manifest(), plan.resources[0]!.set) as ReturnType<typeof manifest>;
    expect(patched.spec.template.spec.initContainers[0]!.image).toBe(GOOD);
    expect(patched.spec.template.spec.containers[0]!.image).toBe('registry.example/shop/web:v2');
  });

  it('without the mark edits containers, where no container migrate is', () => {
    const plan = planChange(proposal(false), '2026-11-25T15:00:00Z');
    expect(plan.resources[0]!.set[0]!.path.slice(0, 4)).toEqual(['spec', 'template', 'spec', 'containers']);
  });
});
