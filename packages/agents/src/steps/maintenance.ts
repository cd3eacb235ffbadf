/**
 * Maintenance (the executor): check an `ExecutionOrder` before anything changes, and derive the
 * exact change from the approved proposal. The order must carry the parties' threshold signature
 * over the bytes the executor derives itself from the proposal, and the proposal must pass the
 * executor's own policy (maintenance writes only its scopes, never network policy or RBAC, and
 * carries out no human-approval action). The plan begins with a snapshot of the target, so a
 * failed change can be rolled back to exactly what was there.
 */

import { evaluateProposal } from '../policy/evaluate.js';
import type { SourceOfTruth } from '../policy/parameters.js';
import { type ApprovalProposal, parseApprovalProposal, proposalSigningBytes } from '../policy/proposal.js';
import { Reader } from '../policy/reader.js';
import { checkProposal, type EvaluationContext, type RefusalRule } from '../policy/rules.js';
import type { Policy } from '../policy/schema.js';

/** The `ExecutionOrder` payload. */
export interface ExecutionOrder {
  incident_id: string;
  proposal: ApprovalProposal;
  approval_signature: {
    ciphersuite: string;
    /** Hex of the group public key. */
    group_public_key: string;
    /** Hex of the aggregated signature over `proposalSigningBytes(proposal)`. */
    signature: string;
    /** Ids of the parties whose shares made the signature. */
    signers: string[];
  };
}

export type ExecutionStep =
  | { op: 'snapshot'; target: string }
  | { op: 'restore_snapshot'; target: string }
  | { op: 'render_config'; target: string; source: SourceOfTruth }
  | { op: 'rollout_restart'; workload: string }
  | { op: 'set_image'; workload: string; container: string; image: string }
  | { op: 'rollout_undo'; workload: string }
  | { op: 'set_quota_hard'; target: string; hard: Record<string, string> };

export interface ExecutionPlan {
  incident_id: string;
  proposal_digest: string;
  action: string;
  target: string;
  steps: ExecutionStep[];
  /** Steps that put things back as the snapshot found them. */
  rollback: ExecutionStep[];
}

export type ExecutionRefusalRule = RefusalRule | 'order.schema' | 'order.binding' | 'order.signature';

export type ExecutionCheck =
  | { decision: 'execute'; plan: ExecutionPlan }
  | { decision: 'refuse'; rule: ExecutionRefusalRule; message: string; fields?: string[] };

export interface ExecutionContext extends EvaluationContext {
  /** Verifies the group signature over `bytes` (e.g. Ed25519 under the group key from `GET /v1/keys`). */
  verifyApprovalSignature(bytes: Uint8Array, signature: ExecutionOrder['approval_signature']): boolean;
}

const HEX = /^[0-9a-f]+$/;

export function checkExecutionOrder(policy: Policy, order: unknown, ctx: ExecutionContext): ExecutionCheck {
  const r = new Reader();
  const o = r.object(order, '', ['incident_id', 'proposal', 'approval_signature']);
  const sig =
    o &&
    r.object(o['approval_signature'], 'approval_signature', [
      'ciphersuite',
      'group_public_key',
      'signature',
      'signers',
    ]);
  if (sig) {
    r.string(sig['ciphersuite'], 'approval_signature.ciphersuite', { max: 64 });
    r.string(sig['group_public_key'], 'approval_signature.group_public_key', { pattern: HEX, max: 256 });
    r.string(sig['signature'], 'approval_signature.signature', { pattern: HEX, max: 512 });
    r.array(sig['signers'], 'approval_signature.signers', (v, p) => r.string(v, p, { max: 128 }), {
      min: 1,
      unique: true,
    });
  }
  let proposal: ApprovalProposal | undefined;
  if (o) {
    r.string(o['incident_id'], 'incident_id', { max: 128 });
    try {
      proposal = parseApprovalProposal(o['proposal']);
    } catch {
      r.report('proposal', 'not a valid approval proposal');
    }
  }
  if (r.issues.length > 0 || !o || !proposal || !sig) {
    return {
      decision: 'refuse',
      rule: 'order.schema',
      message: 'malformed execution order',
      fields: r.issues.map((i) => i.path),
    };
  }
  if (o['incident_id'] !== proposal.incident_id) {
    return {
      decision: 'refuse',
      rule: 'order.binding',
      message: 'order and proposal name different incidents',
      fields: ['incident_id'],
    };
  }
  let signed = false;
  try {
    signed =
      ctx.verifyApprovalSignature(
        proposalSigningBytes(proposal),
        sig as ExecutionOrder['approval_signature'],
      ) === true;
  } catch {
    signed = false;
  }
  if (!signed) {
    return {
      decision: 'refuse',
      rule: 'order.signature',
      message: 'threshold signature does not verify over the proposal',
      fields: ['approval_signature'],
    };
  }
  const verdict = evaluateProposal(policy, 'maintenance', proposal, ctx);
  if (verdict.decision === 'refuse') return verdict;
  return { decision: 'execute', plan: planExecution(policy, proposal, ctx) };
}

/** The exact change for an approved proposal (pure; the executor performs or records it). */
export function planExecution(
  policy: Policy,
  proposal: ApprovalProposal,
  ctx: EvaluationContext,
): ExecutionPlan {
  const outcome = checkProposal(policy, 'maintenance', proposal, ctx);
  if (outcome.decision === 'refuse') {
    // Unreachable after checkExecutionOrder; kept so the function is safe on its own.
    return {
      incident_id: proposal.incident_id,
      proposal_digest: proposal.proposal_digest,
      action: proposal.action,
      target: proposal.target,
      steps: [],
      rollback: [],
    };
  }
  const { parameters } = outcome.checked;
  const target = proposal.target;
  const steps: ExecutionStep[] = [{ op: 'snapshot', target }];
  const rollback: ExecutionStep[] = [{ op: 'restore_snapshot', target }];
  switch (parameters.action) {
    case 'configmap_reload':
    case 'secret_template_render':
      steps.push({ op: 'render_config', target, source: parameters.params.source });
      for (const w of parameters.params.rollout_restart) {
        steps.push({ op: 'rollout_restart', workload: w });
        rollback.push({ op: 'rollout_restart', workload: w });
      }
      break;
    case 'image_rollback':
      steps.push(
        parameters.params.basis === 'deployment_history'
          ? {
              op: 'set_image',
              workload: target,
              container: parameters.params.container,
              image: parameters.params.to_image,
            }
          : { op: 'rollout_undo', workload: target },
      );
      break;
    case 'resource_quota_adjust':
      steps.push({
        op: 'set_quota_hard',
        target,
        hard: Object.fromEntries(parameters.params.changes.map((c) => [c.resource, c.new_hard])),
      });
      break;
    case 'pod_restart':
      steps.push({ op: 'rollout_restart', workload: target });
      break;
    default:
      break;
  }
  return {
    incident_id: proposal.incident_id,
    proposal_digest: proposal.proposal_digest,
    action: proposal.action,
    target,
    steps,
    rollback,
  };
}
