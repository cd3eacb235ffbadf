import { bytesToHex, hexToBytes } from '@aaps/mpc-core';
import { ed25519 } from '@noble/curves/ed25519.js';
import { describe, expect, it } from 'vitest';
import type { ApprovalProposal } from '../policy/proposal.js';
import { buildApprovalProposal, proposalSigningBytes } from '../policy/proposal.js';
import {
  context,
  GOOD_IMAGE,
  policyFor,
  proposalFor,
  signApproval,
} from '../policy/test-helpers/fixtures.js';
import { checkExecutionOrder, type ExecutionContext, type ExecutionOrder } from './maintenance.js';

// A FROST-Ed25519 group signature is a plain Ed25519 signature under the group key.
const groupSecret = new Uint8Array(32).fill(9);
const groupKey = ed25519.getPublicKey(groupSecret);
const policy = policyFor('maintenance');
const ctx: ExecutionContext = {
  ...context(),
  verifyApprovalSignature: (bytes, s) =>
    s.group_public_key === bytesToHex(groupKey) && ed25519.verify(hexToBytes(s.signature), bytes, groupKey),
};

function orderFor(
  p: ApprovalProposal,
  sign: (b: Uint8Array) => Uint8Array = (b) => ed25519.sign(b, groupSecret),
): ExecutionOrder {
  return {
    incident_id: p.incident_id,
    proposal: p,
    approval_signature: {
      ciphersuite: 'FROST-ED25519-SHA512-v1',
      group_public_key: bytesToHex(groupKey),
      signature: bytesToHex(sign(proposalSigningBytes(p))),
      signers: ['p1', 'p2', 'p3'],
    },
  };
}

describe('maintenance: execution orders', () => {
  it('plans a config reload: snapshot, render, restart; rollback restores and restarts', () => {
    const r = checkExecutionOrder(policy, orderFor(proposalFor('configmap_reload')), ctx);
    expect(r.decision).toBe('execute');
    if (r.decision !== 'execute') return;
    expect(r.plan.steps.map((s) => s.op)).toEqual(['snapshot', 'render_config', 'rollout_restart']);
    expect(r.plan.rollback.map((s) => s.op)).toEqual(['restore_snapshot', 'rollout_restart']);
  });

  it('plans image rollbacks by digest or as rollout undo, and quota changes', () => {
    const img = checkExecutionOrder(policy, orderFor(proposalFor('image_rollback')), ctx);
    expect(img).toMatchObject({
      decision: 'execute',
      plan: { steps: [{ op: 'snapshot' }, { op: 'set_image', container: 'web', image: GOOD_IMAGE }] },
    });
    const undo = proposalFor('image_rollback', {
      parameters: { basis: 'previous_revision', to_revision: 'previous' },
    });
    expect(checkExecutionOrder(policy, orderFor(undo), ctx)).toMatchObject({
      plan: { steps: [{ op: 'snapshot' }, { op: 'rollout_undo', workload: 'deployment://shop/web' }] },
    });
    expect(checkExecutionOrder(policy, orderFor(proposalFor('resource_quota_adjust')), ctx)).toMatchObject({
      plan: { steps: [{ op: 'snapshot' }, { op: 'set_quota_hard', hard: { 'limits.cpu': '5' } }] },
    });
  });

  it('refuses an order whose signature is not over the bytes it derives itself', () => {
    const p = proposalFor('pod_restart');
    const other = proposalFor('pod_restart', { target: 'deployment://shop/api' });
    const forged = orderFor(p, () => ed25519.sign(proposalSigningBytes(other), groupSecret));
    expect(checkExecutionOrder(policy, forged, ctx)).toMatchObject({
      decision: 'refuse',
      rule: 'order.signature',
    });
    const wrongKey = orderFor(p, (b) => ed25519.sign(b, new Uint8Array(32).fill(1)));
    expect(checkExecutionOrder(policy, wrongKey, ctx)).toMatchObject({ rule: 'order.signature' });
  });

  it('refuses malformed orders and orders for another incident', () => {
    expect(checkExecutionOrder(policy, { proposal: 1 }, ctx)).toMatchObject({ rule: 'order.schema' });
    const o = orderFor(proposalFor('pod_restart'));
    expect(checkExecutionOrder(policy, { ...o, incident_id: 'inc-9' }, ctx)).toMatchObject({
      rule: 'order.binding',
    });
  });

  it('never executes RBAC or network changes, even signed', () => {
    const rbac = proposalFor('rbac_changes');
    const approved = { ...rbac, human_approval: signApproval(rbac) };
    expect(checkExecutionOrder(policy, orderFor(approved), ctx)).toMatchObject({
      rule: 'permission.not_executor',
    });
    const { proposal_digest: _d, human_approval: _h, ...core } = proposalFor('configmap_reload');
    const sneaky = buildApprovalProposal({ ...core, target: 'networkpolicy://shop/deny-all' });
    expect(checkExecutionOrder(policy, orderFor(sneaky), ctx)).toMatchObject({
      rule: 'permission.constraint.no_network_policy',
    });
  });
});
