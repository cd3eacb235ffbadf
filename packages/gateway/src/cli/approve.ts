/**
 * `aaps approve INCIDENT`: a person's signed approval of an incident's proposal, or with
 * `--reject --reason TEXT` a signed rejection of the incident.
 *
 * An approval signs the proposal's digest, so the person must have seen the change that digest
 * stands for: the proposal the gateway hands over is parsed strictly, its digest recomputed and
 * its incident compared with the one typed (a compromised gateway, or anything between it and the
 * approver, could otherwise show one change and collect a signature over another); then its
 * action, target, parameters, risk and digest are printed, escaped for the terminal, and only then
 * is anything signed: after a `y` on a terminal, or for a script when `--digest PREFIX` matches
 * the digest (or `--yes` says to sign what was shown).
 */
import { type ApprovalProposal, computeProposalDigest, parseApprovalProposal } from '@aaps/agents';
import { ValidationError } from '@aaps/mpc-core';
import { signedApprovalEnvelope, signedRejectionEnvelope } from '../approval-envelope.js';
import type { GatewayConfig } from '../config.js';
import { readJson } from './answer.js';
import { approverId, approverKeyPath, loadApproverKey } from './approver-key.js';
import type { Ask } from './confirm.js';
import { takeOwnFlags } from './own-flags.js';
import { exitWhenGone, follow, printError, reach, type SubmitIo } from './submit.js';
import { jsonLine, printable } from './terminal-text.js';
import { UsageError } from './usage-error.js';

/** The shortest `--digest` prefix taken: 64 bits, more than anyone can grind a proposal to match. */
export const MIN_DIGEST_PREFIX = 16;

export interface ApproveFlags {
  rest: string[];
  /** `--reject --reason TEXT`: the reason of a rejection. */
  reason?: string;
  /** `--yes`: sign the proposal shown without asking. */
  yes: boolean;
  /** `--digest PREFIX`: sign only if the proposal's digest starts with it. */
  digest?: string;
}

/**
 * `aaps approve`'s own flags: `--reject` with `--reason TEXT` (each needs the other), or for an
 * approval `--yes` or `--digest PREFIX`; the rest is left for the config parser.
 */
export function takeApproveFlags(argv: readonly string[]): ApproveFlags {
  const f = takeOwnFlags(argv, { switches: ['reject', 'yes'], values: ['reason', 'digest'] });
  const { rest } = f;
  const reject = f.switches.has('reject');
  const yes = f.switches.has('yes');
  const reason = f.values.get('reason');
  const digest = f.values.get('digest');
  if (digest !== undefined && !new RegExp(`^[0-9a-f]{${MIN_DIGEST_PREFIX},64}$`).test(digest))
    throw new ValidationError(
      'INVALID_ARGUMENT',
      `--digest: expected the first ${MIN_DIGEST_PREFIX} or more hex characters of the proposal's digest (lower case)`,
      ['digest'],
    );
  if (reason !== undefined && !reject)
    throw new ValidationError('INVALID_ARGUMENT', '--reason goes with --reject', ['reason']);
  if (reject && reason === undefined)
    throw new ValidationError('INVALID_ARGUMENT', '--reject needs --reason TEXT', ['reason']);
  if (reason !== undefined && reason.length > 500)
    throw new ValidationError('INVALID_ARGUMENT', '--reason: at most 500 characters', ['reason']);
  if (reject && (yes || digest !== undefined))
    throw new ValidationError('INVALID_ARGUMENT', '--yes and --digest go with an approval, not --reject', [
      'reject',
    ]);
  return {
    rest,
    yes,
    ...(reason === undefined ? {} : { reason }),
    ...(digest === undefined ? {} : { digest }),
  };
}

export interface ApproveIo extends SubmitIo {
  /** The y/N question before signing; absent when stdin is not a terminal. */
  ask?: Ask;
}

export interface ApproveOptions {
  /** Reject the incident instead, with this reason. */
  reject?: { reason: string };
  /** Sign the proposal shown without asking. */
  yes?: boolean;
  /** Sign only if the proposal's digest starts with this (lower-case hex). */
  digest?: string;
}

const CONTEXT = {
  namespace: 'aaps',
  urgency: 'P2',
  constraints_ref: 'policy://human-approval/v1',
} as const;

/** What the incident answer carries that `aaps approve` reads. */
interface IncidentView {
  state?: unknown;
  timeline?: unknown;
  proposal?: unknown;
}

/**
 * The proposal `shown` if it is the one `id` should be approved under: it parses, names `id` and
 * its digest is its content's. Otherwise the one line saying why it is not signed.
 */
export function checkProposal(
  id: string,
  shown: unknown,
): { proposal: ApprovalProposal } | { refused: string } {
  let p: ApprovalProposal;
  try {
    p = parseApprovalProposal(shown);
  } catch (e) {
    return {
      refused: `the gateway's proposal for ${id} is malformed (${e instanceof Error ? e.message : String(e)})`,
    };
  }
  if (p.incident_id !== id)
    return { refused: `the gateway's proposal is for incident ${p.incident_id}, not ${id}` };
  const digest = computeProposalDigest(p);
  if (digest !== p.proposal_digest)
    return {
      refused: `the gateway's proposal for ${id} names digest ${p.proposal_digest}, but its content's digest is ${digest}`,
    };
  return { proposal: p };
}

/** The proposal as the person reads it before signing, one field a line, escaped for the terminal. */
export function proposalLines(id: string, p: ApprovalProposal): string[] {
  const refs = p.evidence_refs.length;
  return [
    `${printable(id)}  proposal to approve:`,
    `  action      ${printable(p.action)}`,
    `  target      ${printable(p.target)}`,
    `  parameters  ${jsonLine(p.parameters)}`,
    `  risk        ${p.risk.score} (${printable(p.risk.method)}) ${jsonLine(p.risk.factors)}`,
    `  evidence    ${refs} reference${refs === 1 ? '' : 's'}${refs === 0 ? '' : `: ${jsonLine(p.evidence_refs)}`}`,
    `  digest      ${p.proposal_digest}`,
  ];
}

/**
 * Sign and post a human decision on an incident waiting for a human: an approval of its proposal
 * (once shown and confirmed), or with `reject` a rejection with its reason; then follow the
 * incident to its end.
 */
export async function runApprove(
  id: string,
  config: GatewayConfig,
  token: string,
  io: ApproveIo,
  options: ApproveOptions = {},
): Promise<number> {
  const approver = approverId(config, 'approve');
  const key = loadApproverKey(approverKeyPath(config, approver));
  const shownId = printable(id);
  const auth = { authorization: `Bearer ${token}` };
  const res = await reach(io, config.url, `/v1/incidents/${encodeURIComponent(id)}`, { headers: auth });
  const got = await readJson(res);
  const what = options.reject === undefined ? 'approve' : 'reject';
  if (!got.ok) {
    printError(io, `aaps: cannot ${what} ${shownId}: ${got.failure}`);
    return 1;
  }
  const incident = (typeof got.body === 'object' && got.body !== null ? got.body : {}) as IncidentView;
  const seen = Array.isArray(incident.timeline) ? incident.timeline.length : 0;
  const post = async (envelope: unknown): Promise<boolean> => {
    const posted = await reach(io, config.url, `/v1/approvals/${encodeURIComponent(id)}`, {
      method: 'POST',
      headers: { ...auth, 'content-type': 'application/json' },
      body: JSON.stringify(envelope),
    });
    const answer = await readJson(posted);
    if (answer.ok) return true;
    printError(io, `aaps: refused: ${answer.failure}`);
    return false;
  };
  if (options.reject !== undefined) {
    const envelope = signedRejectionEnvelope({
      incidentId: id,
      approver,
      key,
      reason: options.reject.reason,
      rejectedAt: new Date(),
      context: { ...CONTEXT, cluster: config.cluster },
    });
    if (!(await post(envelope))) return 1;
    io.print(`${shownId}  rejected as ${approver}: ${printable(options.reject.reason)}`);
    const end = await follow(config.url, token, id, io, seen);
    if (io.gone?.aborted === true) return exitWhenGone([end], (s) => s === 'rejected');
    return end === 'rejected' ? 0 : 1;
  }
  if (incident.proposal === undefined || incident.proposal === null) {
    // Waiting for a person with no proposal (an escalation): say what that person can do instead.
    const next =
      incident.state === 'awaiting_human'
        ? `: no agent proposed a fix, so there is nothing to approve; a person fixes it by hand, then ends it with aaps approve ${shownId} --reject --reason TEXT`
        : '';
    printError(
      io,
      `aaps: cannot approve ${shownId}: it has no proposal (state ${printable(String(incident.state))})${next}`,
    );
    return 1;
  }
  const checked = checkProposal(id, incident.proposal);
  if ('refused' in checked) {
    printError(io, `aaps: not signed: ${printable(checked.refused)}`);
    return 1;
  }
  const p = checked.proposal;
  for (const line of proposalLines(id, p)) io.print(line);
  if (!(await confirmed(p, approver, io, options))) return 1;
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
  io.print(
    `${shownId}  approved ${printable(p.action)} on ${printable(p.target)} as ${approver} (valid ${config.validFor} s)`,
  );
  const end = await follow(config.url, token, id, io, seen);
  if (io.gone?.aborted === true) return exitWhenGone([end], (s) => s === 'resolved');
  return end === 'resolved' ? 0 : 1;
}

/**
 * Whether the person confirmed the proposal just printed: `--digest PREFIX` matching its digest,
 * `--yes`, or a `y` typed on the terminal. A refusal prints its one line; with neither a flag nor a
 * terminal it is a usage error.
 */
async function confirmed(
  p: ApprovalProposal,
  approver: string,
  io: ApproveIo,
  options: ApproveOptions,
): Promise<boolean> {
  if (options.digest !== undefined) {
    if (p.proposal_digest.startsWith(options.digest)) return true;
    printError(
      io,
      `aaps: not signed: the proposal's digest ${p.proposal_digest} does not start with --digest ${options.digest}`,
    );
    return false;
  }
  if (options.yes === true) return true;
  if (io.ask === undefined)
    throw new UsageError(
      `approve: stdin is not a terminal to confirm on: pass --digest PREFIX (the first ${MIN_DIGEST_PREFIX} or more characters of the digest shown) or --yes`,
    );
  const answer = await io.ask(
    `approve ${printable(p.action)} on ${printable(p.target)} as ${approver}? [y/N] `,
  );
  if (/^y(es)?$/i.test(answer.trim())) return true;
  printError(io, 'aaps: not approved; nothing signed');
  return false;
}
