import { join } from 'node:path';
import { type ApprovalProposal, loadOrCreateIdentityKey } from '@aaps/agents';
import { ValidationError } from '@aaps/mpc-core';
import { signedApprovalEnvelope, signedRejectionEnvelope } from '../approval-envelope.js';
import type { GatewayConfig } from '../config.js';
import { exitWhenGone, follow, printError, reach, type SubmitIo } from './submit.js';

/**
 * `aaps approve`'s own flags: `--reject` with `--reason TEXT` (each needs the other), returned as
 * the reason; the rest is left for the config parser.
 */
export function takeRejectFlags(argv: readonly string[]): { rest: string[]; reason?: string } {
  const rest: string[] = [];
  let reject = false;
  let reason: string | undefined;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] ?? '';
    if (arg === '--reject') {
      reject = true;
    } else if (arg === '--reason' || arg.startsWith('--reason=')) {
      reason = arg === '--reason' ? argv[++i] : arg.slice('--reason='.length);
      if (reason === undefined || reason === '')
        throw new ValidationError('INVALID_ARGUMENT', '--reason: needs a value', ['reason']);
    } else {
      rest.push(arg);
    }
  }
  if (reason !== undefined && !reject)
    throw new ValidationError('INVALID_ARGUMENT', '--reason goes with --reject', ['reason']);
  if (reject && reason === undefined)
    throw new ValidationError('INVALID_ARGUMENT', '--reject needs --reason TEXT', ['reason']);
  if (reason !== undefined && reason.length > 500)
    throw new ValidationError('INVALID_ARGUMENT', '--reason: at most 500 characters', ['reason']);
  return { rest, ...(reason === undefined ? {} : { reason }) };
}

const CONTEXT = {
  namespace: 'aaps',
  urgency: 'P2',
  constraints_ref: 'policy://human-approval/v1',
} as const;

/**
 * Sign and post a human decision on an incident waiting for a human: an approval of its proposal,
 * or with `reject` a rejection with its reason; then follow the incident to its end.
 */
export async function runApprove(
  id: string,
  config: GatewayConfig,
  token: string,
  io: SubmitIo,
  reject?: { reason: string },
): Promise<number> {
  const approver = config.approver ?? config.approvers[0];
  if (approver === undefined)
    throw new ValidationError('INVALID_ARGUMENT', '--approver is required', ['approver']);
  const key = loadOrCreateIdentityKey(
    config.approverKey ?? join(config.dataDir, 'approvers', `${approver}.key`),
    false,
    'approver',
  );
  const auth = { authorization: `Bearer ${token}` };
  const res = await reach(io, config.url, `/v1/incidents/${encodeURIComponent(id)}`, { headers: auth });
  const incident = (await res.json()) as {
    state?: string;
    timeline?: unknown[];
    proposal?: ApprovalProposal | null;
    error?: { code: string; message: string };
  };
  const post = async (envelope: unknown): Promise<boolean> => {
    const posted = await reach(io, config.url, `/v1/approvals/${encodeURIComponent(id)}`, {
      method: 'POST',
      headers: { ...auth, 'content-type': 'application/json' },
      body: JSON.stringify(envelope),
    });
    if (posted.ok) return true;
    const err = ((await posted.json()) as { error?: { code: string; message: string } }).error;
    printError(io, `aaps: refused: HTTP ${posted.status} ${err?.code ?? ''} ${err?.message ?? ''}`.trim());
    return false;
  };
  if (reject !== undefined) {
    if (!res.ok) {
      printError(io, `aaps: cannot reject ${id}: ${incident.error?.message ?? `HTTP ${res.status}`}`);
      return 1;
    }
    const envelope = signedRejectionEnvelope({
      incidentId: id,
      approver,
      key,
      reason: reject.reason,
      rejectedAt: new Date(),
      context: { ...CONTEXT, cluster: config.cluster },
    });
    if (!(await post(envelope))) return 1;
    io.print(`${id}  rejected as ${approver}: ${reject.reason}`);
    const end = await follow(config.url, token, id, io, incident.timeline?.length ?? 0);
    if (io.gone?.aborted === true) return exitWhenGone([end], (s) => s === 'rejected');
    return end === 'rejected' ? 0 : 1;
  }
  if (!res.ok || incident.proposal === undefined || incident.proposal === null) {
    printError(
      io,
      `aaps: cannot approve ${id}: ${incident.error?.message ?? `it has no proposal (state ${incident.state})`}`,
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
    context: { ...CONTEXT, cluster: config.cluster },
  });
  if (!(await post(envelope))) return 1;
  io.print(`${id}  approved ${p.action} on ${p.target} as ${approver} (valid ${config.validFor} s)`);
  const end = await follow(config.url, token, id, io, incident.timeline?.length ?? 0);
  if (io.gone?.aborted === true) return exitWhenGone([end], (s) => s === 'resolved');
  return end === 'resolved' ? 0 : 1;
}
