import { join } from 'node:path';
import { type ApprovalProposal, loadOrCreateIdentityKey } from '@aaps/agents';
import { ValidationError } from '@aaps/mpc-core';
import { signedApprovalEnvelope } from '../approval-envelope.js';
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
  const envelope = signedApprovalEnvelope({
    proposal: p,
    approver,
    key,
    approvedAt: new Date(now),
    expiresAt: new Date(now + config.validFor * 1000),
    now: new Date(now),
    context: {
      namespace: 'aaps',
      cluster: config.cluster,
      urgency: 'P2',
      constraints_ref: 'policy://human-approval/v1',
    },
  });
  const posted = await io.fetch(`${config.url}/v1/approvals/${encodeURIComponent(id)}`, {
    method: 'POST',
    headers: { ...auth, 'content-type': 'application/json' },
    body: JSON.stringify(envelope),
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
