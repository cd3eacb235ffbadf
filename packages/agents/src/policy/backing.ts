/**
 * What an approval proposal must be backed by before a party signs it: the agents' own signed
 * outputs for its incident, so that a gateway (which coordinates the signing and relays every
 * message) cannot have the parties approve a change it made up.
 *
 * - The strategy party's `ApprovalDecision` envelope, signed with its identity key, deciding `auto`
 *   or `needs_human` on a proposal with this proposal's digest (the digest covers the incident,
 *   action, target, parameters, evidence and risk; a human approval is checked on its own, and
 *   one must be attached when strategy decided `needs_human`).
 * - The problem-solver party's `FixProposal` envelope, signed with its identity key, for the same
 *   incident, listing a fix with this action, target, parameters and evidence, and the blast
 *   radius the risk was scored under.
 *
 * A gateway can still feed the agents false inputs (a made-up alert or deployment history); what
 * bounds that is each party's own policy (allowed actions, namespaces, images, quota bounds, risk
 * limits). It can no longer skip the agents. Pure; fails closed.
 */
import {
  canonicalize,
  type Envelope,
  type EnvelopeContext,
  hexToBytes,
  type IdentityKey,
  SCHEMA_VERSION,
  type SignedEnvelope,
  signEnvelope,
  verifyEnvelope,
} from '@aaps/mpc-core';
import { partyById, type Roster } from '../roster.js';
import type { FixProposal, FixProposalSet } from '../steps/problem-solver.js';
import type { ApprovalDecisionPayload } from '../steps/strategy.js';
import { type ApprovalProposal, computeProposalDigest, parseApprovalProposal } from './proposal.js';
import { isPlainObject } from './reader.js';
import type { AgentRole } from './roles.js';

/** The refusal rule when a proposal is not backed by the agents' signed outputs. */
export const BACKING_RULE = 'approval.backing';

/** The signed agent outputs an approval proposal cites (see the module comment). */
export interface ApprovalBacking {
  /** The strategy party's `ApprovalDecision` envelope. */
  decision: SignedEnvelope;
  /** The problem-solver party's `FixProposal` envelope. */
  fix: SignedEnvelope;
}

export type BackingCheck = { ok: true } | { ok: false; rule: typeof BACKING_RULE; message: string };

const refuse = (message: string): BackingCheck => ({ ok: false, rule: BACKING_RULE, message });

/**
 * The payload of `env` if it is a `messageType` envelope signed by a roster party of `role`;
 * otherwise why not.
 */
function signedBy(
  env: unknown,
  roster: Roster,
  role: AgentRole,
  messageType: string,
): { payload: Record<string, unknown> } | { why: string } {
  if (!isPlainObject(env) || !isPlainObject(env['meta']) || !isPlainObject(env['payload']))
    return { why: `the ${messageType} is not an envelope` };
  const meta = env['meta'];
  if (meta['message_type'] !== messageType) return { why: `expected a ${messageType} envelope` };
  const party = partyById(roster, meta['source_agent']);
  if (party === undefined || party.role !== role)
    return { why: `the ${messageType} is not from a ${role} party of the roster` };
  try {
    verifyEnvelope(env as unknown as SignedEnvelope, hexToBytes(party.identity_key));
  } catch {
    return { why: `the ${messageType} signature of ${party.id} does not verify` };
  }
  return { payload: env['payload'] };
}

const same = (a: unknown, b: unknown) => {
  try {
    return canonicalize(a) === canonicalize(b);
  } catch {
    return false;
  }
};

/** Whether `fix` proposes exactly the proposal's change. */
function proposesIt(fix: unknown, p: ApprovalProposal): boolean {
  if (!isPlainObject(fix)) return false;
  const f = fix as unknown as FixProposal;
  return (
    f.action === p.action &&
    f.target === p.target &&
    same(f.parameters, p.parameters) &&
    same(f.evidence_refs, p.evidence_refs) &&
    f.blast_radius === p.risk.factors.blast_radius
  );
}

/**
 * Check that `proposal` (already parsed or not) is backed by `backing` under `roster`. Refuses, with
 * rule {@link BACKING_RULE} and a message naming what is missing, anything else.
 */
export function checkApprovalBacking(proposal: unknown, backing: unknown, roster: Roster): BackingCheck {
  let p: ApprovalProposal;
  try {
    p = parseApprovalProposal(proposal);
  } catch {
    return refuse('the proposal does not parse');
  }
  if (!isPlainObject(backing)) return refuse('no signed decision and fix proposal back the proposal');
  const decision = signedBy(backing['decision'], roster, 'strategy', 'ApprovalDecision');
  if ('why' in decision) return refuse(decision.why);
  const d = decision.payload as unknown as ApprovalDecisionPayload;
  if (d.incident_id !== p.incident_id) return refuse('the decision is for another incident');
  if (d.decision !== 'auto' && d.decision !== 'needs_human')
    return refuse(`the strategy party decided ${String(d.decision)}, not to propose it`);
  // A person must approve what strategy sent to a person (each party checks that approval itself).
  if (d.decision === 'needs_human' && p.human_approval === undefined)
    return refuse("the strategy party asked for a person's approval, which the proposal does not carry");
  let decided: string;
  try {
    decided = computeProposalDigest(parseApprovalProposal(d.proposal));
  } catch {
    return refuse('the decision carries no valid proposal');
  }
  if (decided !== computeProposalDigest(p) || d.proposal.proposal_digest !== p.proposal_digest)
    return refuse('the decision was made on another proposal');
  const fixes = signedBy(backing['fix'], roster, 'problem-solver', 'FixProposal');
  if ('why' in fixes) return refuse(fixes.why);
  const set = fixes.payload as unknown as FixProposalSet;
  if (set.incident_id !== p.incident_id) return refuse('the fix proposal is for another incident');
  if (!Array.isArray(set.proposals) || !set.proposals.some((f) => proposesIt(f, p)))
    return refuse('the problem-solver party proposed no such fix');
  return { ok: true };
}

/**
 * The backing of an incident's proposal in its transcript: the last strategy `ApprovalDecision` (one
 * that carries a proposal: a person's approval or rejection is an `ApprovalDecision` too) and the
 * last `FixProposal` (the gateway passes them with the proposal to sign).
 */
export function backingFromTranscript(transcript: readonly SignedEnvelope[]): ApprovalBacking | undefined {
  let decision: SignedEnvelope | undefined;
  let fix: SignedEnvelope | undefined;
  for (const env of transcript) {
    if (env.meta.message_type === 'ApprovalDecision' && isPlainObject(env.payload['proposal']))
      decision = env;
    else if (env.meta.message_type === 'FixProposal') fix = env;
  }
  return decision && fix ? { decision, fix } : undefined;
}

/** An agent's signing identity: its roster id and identity key. */
export interface BackingSigner {
  id: string;
  key: IdentityKey;
}

/**
 * Sign the backing of `proposal` as the problem solver and the strategy agent would have: a
 * `FixProposal` listing exactly its change and an `ApprovalDecision` deciding `decision` on it.
 * For harnesses that drive the parties without the agent steps (benchmarks, tests); the gateway
 * takes the real envelopes from the incident's transcript ({@link backingFromTranscript}).
 */
export function signBacking(
  proposal: ApprovalProposal,
  signers: { fix: BackingSigner; decision: BackingSigner },
  opts: { decision?: 'auto' | 'needs_human'; at?: Date; context?: EnvelopeContext } = {},
): ApprovalBacking {
  const at = (opts.at ?? new Date()).toISOString();
  const context: EnvelopeContext = opts.context ?? {
    namespace: 'default',
    cluster: 'default',
    urgency: proposal.risk.factors.urgency,
    constraints_ref: 'policy://default',
  };
  const envelope = (from: BackingSigner, to: string, messageType: string, payload: unknown) =>
    signEnvelope<Record<string, unknown>>(
      {
        meta: {
          trace_id: proposal.incident_id,
          span_id: `${messageType}-${proposal.proposal_digest.slice(0, 16)}`,
          timestamp: at,
          source_agent: from.id,
          target_agent: to,
          message_type: messageType as Envelope['meta']['message_type'],
          schema_version: SCHEMA_VERSION,
          idempotency_key: `${proposal.incident_id}:${messageType}:${proposal.proposal_digest}`,
        },
        context,
        payload: JSON.parse(JSON.stringify(payload)) as Record<string, unknown>,
      },
      from.key.secretKey,
    );
  const { human_approval: _approval, ...unapproved } = proposal;
  const fix: FixProposalSet = {
    incident_id: proposal.incident_id,
    rca_digest: '0'.repeat(64),
    proposals: [
      {
        rank: 1,
        action: proposal.action as FixProposal['action'],
        target: proposal.target,
        parameters: proposal.parameters,
        rationale: 'signed for a harness',
        evidence_refs: proposal.evidence_refs,
        executor: 'maintenance',
        requires_human_approval: opts.decision === 'needs_human',
        blast_radius: proposal.risk.factors.blast_radius,
      },
    ],
    escalations: [],
  };
  return {
    fix: envelope(signers.fix, 'strategy', 'FixProposal', fix),
    decision: envelope(signers.decision, 'gateway', 'ApprovalDecision', {
      incident_id: proposal.incident_id,
      decision: opts.decision ?? 'auto',
      reason: 'signed for a harness',
      proposal: unapproved,
    }),
  };
}
