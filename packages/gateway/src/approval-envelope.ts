/**
 * A human approval of a proposal, signed by an approver's roster key, in an `ApprovalDecision`
 * envelope the approver also signs: what `POST /v1/approvals/:id` takes. One builder for
 * `aaps approve` and the tests.
 */
import { randomUUID } from 'node:crypto';
import { type ApprovalProposal, type HumanApproval, humanApprovalSigningBytes } from '@aaps/agents';
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
  const env: Envelope<Record<string, unknown>> = {
    meta: {
      trace_id: `approval-${o.proposal.incident_id}`,
      span_id: randomUUID(),
      timestamp: (o.now ?? new Date()).toISOString(),
      source_agent: o.approver,
      target_agent: 'gateway',
      message_type: 'ApprovalDecision',
      schema_version: SCHEMA_VERSION,
      idempotency_key: randomUUID(),
    },
    context: o.context,
    payload: approval as unknown as Record<string, unknown>,
  };
  return signEnvelope(env, o.key.secretKey);
}
