/** Test fixtures: valid proposals per action, real Ed25519 human approvals, and a context. */
import { base64Decode, base64Encode } from '@aaps/mpc-core';
import { ed25519 } from '@noble/curves/ed25519.js';
import { defaultPolicy } from '../defaults.js';
import {
  type ApprovalProposal,
  buildApprovalProposal,
  type HumanApproval,
  humanApprovalSigningBytes,
  type ProposalCore,
} from '../proposal.js';
import { computeRiskScore, type RiskFactors } from '../risk.js';
import type { ActionName, AgentRole } from '../roles.js';
import type { EvaluationContext } from '../rules.js';
import type { Policy } from '../schema.js';

export const NOW = Date.parse('2026-11-25T12:00:00Z');
export const DIGEST = `sha256:${'ab'.repeat(32)}`;
export const GOOD_IMAGE = `registry.example/shop/web@${DIGEST}`;

/** One approver key pair; the context trusts only its public key. */
const approverSecret = new Uint8Array(32).fill(7);
export const APPROVER_PUBLIC = ed25519.getPublicKey(approverSecret);

export const PARAMS: Record<ActionName, { target: string; parameters: ProposalCore['parameters'] }> = {
  configmap_reload: {
    target: 'configmap://shop/app-config',
    parameters: {
      source: {
        kind: 'gitops',
        repo: 'https://git.example/platform/deploy.git',
        path: 'shop/app-config.yaml',
      },
      rollout_restart: ['deployment://shop/web'],
    },
  },
  secret_template_render: {
    target: 'secret://shop/db-credentials',
    parameters: { source: { kind: 'last_known_good', version: '41877' }, rollout_restart: [] },
  },
  image_rollback: {
    target: 'deployment://shop/web',
    parameters: { basis: 'deployment_history', container: 'web', to_image: GOOD_IMAGE },
  },
  resource_quota_adjust: {
    target: 'resourcequota://shop/compute',
    parameters: {
      changes: [{ resource: 'limits.cpu', current_hard: '4', new_hard: '5', used: '3', requested: '2' }],
    },
  },
  pod_restart: { target: 'deployment://shop/web', parameters: { strategy: 'rollout_restart' } },
  rbac_changes: {
    target: 'rolebinding://shop/aaps-web-list-pods',
    parameters: { summary: 'let web list pods' },
  },
  network_policy_mods: {
    target: 'networkpolicy://shop/allow-db',
    parameters: { summary: 'open 5432 to web' },
  },
  pvc_deletion: {
    target: 'persistentvolumeclaim://shop/scratch',
    parameters: { summary: 'drop scratch volume' },
  },
  ingress_changes: { target: 'ingress://shop/web', parameters: { summary: 'new host' } },
  cert_management: { target: 'certificate://shop/web-tls', parameters: { summary: 'renew' } },
};

/** The fixtures' namespace (`shop`) runs in staging: a party scores that only if its policy says so. */
export const LOW_RISK: RiskFactors = { blast_radius: 1, urgency: 'P2', environment: 'staging' };

/**
 * `role`'s default policy with its own view that `shop` is staging, as a department would map it;
 * without it, `shop` is `unknown` and a proposal declaring staging is refused
 * (`risk.environment_understated`).
 */
export function policyFor(role: AgentRole): Policy {
  return {
    ...defaultPolicy(role),
    risk: { weight_percent: 100, offset: 0, environments: { shop: 'staging' } },
  };
}

/** A valid proposal for `action` with a correct risk score and digest. */
export function proposalFor(
  action: ActionName,
  over: Partial<ProposalCore> = {},
  factors: RiskFactors = LOW_RISK,
): ApprovalProposal {
  const p = PARAMS[action];
  const core: ProposalCore = {
    incident_id: 'inc-0001',
    action,
    target: p.target,
    parameters: p.parameters,
    evidence_refs: ['incident://inc-0001/signal', 'log://shop/web-5d9c8b7f6-x2x9k'],
    risk: { score: computeRiskScore(action, factors), method: 'aaps.risk.v1', factors },
    ...over,
  };
  return buildApprovalProposal(core);
}

/** A human approval of `proposal`, really signed with the approver key. */
export function signApproval(
  proposal: ApprovalProposal,
  over: Partial<Omit<HumanApproval, 'signature'>> = {},
): HumanApproval {
  const unsigned = {
    approver_id: 'alice',
    incident_id: proposal.incident_id,
    action: proposal.action,
    proposal_digest: proposal.proposal_digest,
    decision: 'approve' as const,
    approved_at: '2026-11-25T11:30:00Z',
    expires_at: '2026-11-25T13:30:00Z',
    ...over,
  };
  const sig = ed25519.sign(humanApprovalSigningBytes(unsigned), approverSecret);
  return { ...unsigned, signature: `ed25519:${base64Encode(sig)}` };
}

/** Verifies approvals against {@link APPROVER_PUBLIC}, as a party does against its roster. */
export function verifyApproval(a: HumanApproval): boolean {
  if (!a.signature.startsWith('ed25519:')) return false;
  const sig = base64Decode(a.signature.slice('ed25519:'.length), 'signature');
  return ed25519.verify(sig, humanApprovalSigningBytes(a), APPROVER_PUBLIC);
}

export function context(over: Partial<EvaluationContext> = {}): EvaluationContext {
  return { now: NOW, verifyHumanApproval: verifyApproval, ...over };
}

export const strategyPolicy = () => policyFor('strategy');
