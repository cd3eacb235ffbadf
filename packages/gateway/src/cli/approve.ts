/**
 * `aaps approve INCIDENT`: signs a human approval of the incident's current proposal with an
 * approver key from the roster, posts it, and follows the incident to its end.
 */
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import {
  type ApprovalProposal,
  type HumanApproval,
  humanApprovalSigningBytes,
  loadOrCreateIdentityKey,
} from '@aaps/agents';
import {
  base64Encode,
  type Envelope,
  SCHEMA_VERSION,
  signBytes,
  signEnvelope,
  ValidationError,
} from '@aaps/mpc-core';
import type { GatewayConfig } from '../config.js';
import { follow, type SubmitIo } from './submit.js';

export async function runApprove(
  id: string,
  config: GatewayConfig,
  token: string,
  io: SubmitIo,
): Promise<number> {
  const approver = config.approver ?? config.approvers[0];
  if (approver === undefined)
    throw new ValidationError('INVALID_ARGUMENT', '--approver is required', ['approver']);
  const key = loadOrCreateIdentityKey(
    config.approverKey ?? join(config.dataDir, 'approvers', `${approver}.key`),
    false,
  );
  const auth = { authorization: `Bearer ${token}` };
  const res = await io.fetch(`${config.url}/v1/incidents/${encodeURIComponent(id)}`, { headers: auth });
  const incident = (await res.json()) as {
    state?: string;
    timeline?: unknown[];
    proposal?: ApprovalProposal | null;
    error?: { code: string; message: string };
  };
  if (!res.ok || incident.proposal === undefined || incident.proposal === null) {
    io.print(
      `cannot approve ${id}: ${incident.error?.message ?? `it has no proposal (state ${incident.state})`}`,
    );
    return 1;
  }
  const p = incident.proposal;
  const now = Date.now();
  const unsigned: Omit<HumanApproval, 'signature'> = {
    approver_id: approver,
    incident_id: p.incident_id,
    action: p.action,
    proposal_digest: p.proposal_digest,
    decision: 'approve',
    approved_at: new Date(now).toISOString(),
    expires_at: new Date(now + config.validFor * 1000).toISOString(),
  };
  const approval: HumanApproval = {
    ...unsigned,
    signature: `ed25519:${base64Encode(signBytes(key.secretKey, humanApprovalSigningBytes(unsigned)))}`,
  };
  const env: Envelope<Record<string, unknown>> = {
    meta: {
      trace_id: `approval-${p.incident_id}`,
      span_id: randomUUID(),
      timestamp: new Date(now).toISOString(),
      source_agent: approver,
      target_agent: 'gateway',
      message_type: 'ApprovalDecision',
      schema_version: SCHEMA_VERSION,
      idempotency_key: randomUUID(),
    },
    context: {
      namespace: 'aaps',
      cluster: config.cluster,
      urgency: 'P2',
      constraints_ref: 'policy://human-approval/v1',
    },
    payload: approval as unknown as Record<string, unknown>,
  };
  const posted = await io.fetch(`${config.url}/v1/approvals/${encodeURIComponent(id)}`, {
    method: 'POST',
    headers: { ...auth, 'content-type': 'application/json' },
    body: JSON.stringify(signEnvelope(env, key.secretKey)),
  });
  if (!posted.ok) {
    const err = ((await posted.json()) as { error?: { code: string; message: string } }).error;
    io.print(`rejected: HTTP ${posted.status} ${err?.code ?? ''} ${err?.message ?? ''}`.trim());
    return 1;
  }
  io.print(`${id}  approved ${p.action} on ${p.target} as ${approver} (valid ${config.validFor} s)`);
  const end = await follow(config.url, token, id, io, incident.timeline?.length ?? 0);
  return end === 'resolved' ? 0 : 1;
}
