/**
 * A human approval of a proposal (or a rejection of an incident), signed by an approver's roster
 * key, in an `ApprovalDecision` envelope the approver also signs: what `POST /v1/approvals/:id`
 * takes. One builder for `aaps approve` and the tests.
 */
import { randomUUID } from 'node:crypto';
import {
  type ApprovalProposal,
  type HumanApproval,
  type HumanRejection,
  humanApprovalSigningBytes,
  humanRejectionSigningBytes,
} from '@aaps/agents';
import {
  base64Encode,
  type Envelope,
  type EnvelopeContext,
  type IdentityKey,
  SCHEMA_VERSION,
  type SignedEnvelope,
  signBytes,
  signEnvelope,
} from '@aaps/mpc-core';

export interface ApprovalEnvelopeOptions {
  proposal: Pick<ApprovalProposal, 'incident_id' | 'action' | 'proposal_digest'>;
  approver: string;
  key: IdentityKey;
  approvedAt: Date;
  expiresAt: Date;
  context: EnvelopeContext;
  /** Fields to override in the signed approval (tests of refused approvals). */
  override?: Partial<Omit<HumanApproval, 'signature'>>;
  now?: Date;
}

export interface RejectionEnvelopeOptions {
  incidentId: string;
  approver: string;
  key: IdentityKey;
  reason: string;
  rejectedAt: Date;
  context: EnvelopeContext;
  /** Fields to override in the signed rejection (tests of refused rejections). */
  override?: Partial<Omit<HumanRejection, 'signature'>>;
  now?: Date;
}

/** A human rejection of an incident waiting for a human, in the same kind of envelope. */
export function signedRejectionEnvelope(o: RejectionEnvelopeOptions): SignedEnvelope {
  const unsigned: Omit<HumanRejection, 'signature'> = {
    approver_id: o.approver,
    incident_id: o.incidentId,
    decision: 'reject',
    reason: o.reason,
    rejected_at: o.rejectedAt.toISOString(),
    ...o.override,
  };
  const rejection: HumanRejection = {
    ...unsigned,
    signature: `ed25519:${base64Encode(signBytes(o.key.secretKey, humanRejectionSigningBytes(unsigned)))}`,
  };
  return decisionEnvelope(o.incidentId, o.approver, o.key, o.context, rejection, o.now);
}

export function signedApprovalEnvelope(o: ApprovalEnvelopeOptions): SignedEnvelope {
  const unsigned: Omit<HumanApproval, 'signature'> = {
    approver_id: o.approver,
    incident_id: o.proposal.incident_id,
    action: o.proposal.action,
    proposal_digest: o.proposal.proposal_digest,
    decision: 'approve',
    approved_at: o.approvedAt.toISOString(),
    expires_at: o.expiresAt.toISOString(),
    ...o.override,
  };
  const approval: HumanApproval = {
    ...unsigned,
    signature: `ed25519:${base64Encode(signBytes(o.key.secretKey, humanApprovalSigningBytes(unsigned)))}`,
  };
  return decisionEnvelope(o.proposal.incident_id, o.approver, o.key, o.context, approval, o.now);
}

/** The `ApprovalDecision` envelope around a signed human decision, signed by the approver too. */
function decisionEnvelope(
  incidentId: string,
  approver: string,
  key: IdentityKey,
  context: EnvelopeContext,
  payload: HumanApproval | HumanRejection,
  now = new Date(),
): SignedEnvelope {
  const env: Envelope<Record<string, unknown>> = {
    meta: {
      trace_id: `approval-${incidentId}`,
      span_id: randomUUID(),
      timestamp: now.toISOString(),
      source_agent: approver,
      target_agent: 'gateway',
      message_type: 'ApprovalDecision',
      schema_version: SCHEMA_VERSION,
      idempotency_key: randomUUID(),
    },
    context,
    payload: payload as unknown as Record<string, unknown>,
  };
  return signEnvelope(env, key.secretKey);
}
