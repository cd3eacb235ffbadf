/**
 * The approval proposal: what the parties sign over, and the bytes they sign.
 *
 * A party never signs bytes it is handed. It receives the proposal, parses it strictly, checks it
 * against its policy, and derives the bytes itself with {@link proposalSigningBytes}: the RFC 8785
 * canonical JSON of `{domain: "aaps.approval.v1", proposal}`.
 *
 * `proposal_digest` is the SHA-256 of the proposal's core (everything but the human approval and
 * the digest itself) under its own domain. A human approval names it, so the approval covers this
 * exact change, and each party recomputes it.
 *
 * Both are defined once, in `@aaps/evidence` (`approvalSigningBytes`, `proposalDigestOf`), where
 * the offline verifier re-derives them from a bundle: the parties sign exactly what auditors check.
 */
import {
  type AggregationRef,
  APPROVAL_DOMAIN,
  approvalSigningBytes,
  PROPOSAL_DIGEST_DOMAIN,
  proposalDigestOf,
} from '@aaps/evidence';
import { canonicalBytes, ValidationError } from '@aaps/mpc-core';
import { isPlainObject, type JsonValue, Reader } from './reader.js';
import { ENVIRONMENTS, RISK_METHOD, type RiskFactors, URGENCY_LEVELS } from './risk.js';

export { APPROVAL_DOMAIN, PROPOSAL_DIGEST_DOMAIN };
export const HUMAN_APPROVAL_DOMAIN = 'aaps.human-approval.v1';
export const HUMAN_REJECTION_DOMAIN = 'aaps.human-rejection.v1';

/** Reference to an opened secret-shared aggregation (the `weighted-risk` circuit): the verifier's type. */
export type { AggregationRef };

export interface ProposalRisk {
  score: number;
  method: typeof RISK_METHOD;
  factors: RiskFactors;
  aggregation_ref?: AggregationRef;
}

/** A person's signed approval of one action for one incident and one proposal. */
export interface HumanApproval {
  approver_id: string;
  incident_id: string;
  action: string;
  proposal_digest: string;
  decision: 'approve';
  /** RFC 3339. */
  approved_at: string;
  /** RFC 3339. */
  expires_at: string;
  /** Over {@link humanApprovalSigningBytes}; checked by the injected verifier. */
  signature: string;
}

export interface ApprovalProposal {
  incident_id: string;
  action: string;
  /** Resource URI `kind://namespace/name`. */
  target: string;
  parameters: { [key: string]: JsonValue };
  evidence_refs: string[];
  risk: ProposalRisk;
  human_approval?: HumanApproval;
  /** SHA-256 hex, see {@link computeProposalDigest}. */
  proposal_digest: string;
}

export type ProposalCore = Omit<ApprovalProposal, 'human_approval' | 'proposal_digest'>;

const ID = /^[A-Za-z0-9][A-Za-z0-9._:@-]{0,127}$/;
const ACTION = /^[a-z][a-z0-9_]{0,63}$/;
const HEX32 = /^[0-9a-f]{64}$/;
const RFC3339 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|[+-]\d{2}:\d{2})$/;

/** Strictly parse an untrusted proposal; throws `ValidationError` listing every bad field. */
export function parseApprovalProposal(json: unknown): ApprovalProposal {
  const r = new Reader();
  const o = r.object(
    json,
    '',
    ['incident_id', 'action', 'target', 'parameters', 'evidence_refs', 'risk', 'proposal_digest'],
    ['human_approval'],
  );
  if (!o) r.throwIfAny('proposal');
  const p = o!;
  const incidentId = r.string(p['incident_id'], 'incident_id', { pattern: ID });
  const action = r.string(p['action'], 'action', { pattern: ACTION });
  const target = r.string(p['target'], 'target', { max: 512 });
  const parameters = isPlainObject(p['parameters'])
    ? r.json(p['parameters'], 'parameters')
    : r.report('parameters', 'expected an object');
  const evidence = r.array(
    p['evidence_refs'],
    'evidence_refs',
    (v, path) => r.string(v, path, { max: 4096 }),
    {
      max: 256,
    },
  );
  const risk = readRisk(r, p['risk']);
  const approval =
    p['human_approval'] === undefined
      ? undefined
      : readHumanApproval(r, p['human_approval'], 'human_approval');
  const digest = r.string(p['proposal_digest'], 'proposal_digest', { pattern: HEX32 });
  r.throwIfAny('proposal');
  const out: ApprovalProposal = {
    incident_id: incidentId!,
    action: action!,
    target: target!,
    parameters: parameters as { [key: string]: JsonValue },
    evidence_refs: evidence!,
    risk: risk!,
    proposal_digest: digest!,
  };
  if (approval) out.human_approval = approval;
  return out;
}

function readRisk(r: Reader, value: unknown): ProposalRisk | undefined {
  const o = r.object(value, 'risk', ['score', 'method', 'factors'], ['aggregation_ref']);
  if (!o) return undefined;
  const score = r.number(o['score'], 'risk.score', 0, 100, true);
  const method = r.oneOf(o['method'], 'risk.method', [RISK_METHOD] as const);
  const f = r.object(o['factors'], 'risk.factors', ['blast_radius', 'urgency', 'environment']);
  const blast = f && r.number(f['blast_radius'], 'risk.factors.blast_radius', 1, 100000, true);
  const urgency = f && r.oneOf(f['urgency'], 'risk.factors.urgency', URGENCY_LEVELS);
  const environment = f && r.oneOf(f['environment'], 'risk.factors.environment', ENVIRONMENTS);
  let aggregation: AggregationRef | undefined;
  if (o['aggregation_ref'] !== undefined) {
    const a = r.object(o['aggregation_ref'], 'risk.aggregation_ref', [
      'circuit',
      'session_id',
      'output_digest',
      'value',
    ]);
    if (a) {
      const circuit = r.string(a['circuit'], 'risk.aggregation_ref.circuit', { pattern: ACTION_OR_DASH });
      const session = r.string(a['session_id'], 'risk.aggregation_ref.session_id', { pattern: ID });
      const od = r.string(a['output_digest'], 'risk.aggregation_ref.output_digest', { pattern: HEX32 });
      const val = r.number(a['value'], 'risk.aggregation_ref.value', 0, 100, true);
      aggregation = { circuit: circuit!, session_id: session!, output_digest: od!, value: val! };
    }
  }
  const out: ProposalRisk = {
    score: score!,
    method: method!,
    factors: { blast_radius: blast!, urgency: urgency!, environment: environment! },
  };
  if (aggregation) out.aggregation_ref = aggregation;
  return out;
}

const ACTION_OR_DASH = /^[a-z][a-z0-9_-]{0,63}$/;

/** Strictly parse a human approval (also used by the gateway's approval endpoint). */
export function parseHumanApproval(json: unknown): HumanApproval {
  const r = new Reader();
  const a = readHumanApproval(r, json, '');
  r.throwIfAny('human approval');
  return a!;
}

function readHumanApproval(r: Reader, value: unknown, path: string): HumanApproval | undefined {
  const at = (k: string) => (path === '' ? k : `${path}.${k}`);
  const o = r.object(value, path, [
    'approver_id',
    'incident_id',
    'action',
    'proposal_digest',
    'decision',
    'approved_at',
    'expires_at',
    'signature',
  ]);
  if (!o) return undefined;
  const approver = r.string(o['approver_id'], at('approver_id'), { pattern: ID });
  const incident = r.string(o['incident_id'], at('incident_id'), { pattern: ID });
  const action = r.string(o['action'], at('action'), { pattern: ACTION });
  const digest = r.string(o['proposal_digest'], at('proposal_digest'), { pattern: HEX32 });
  const decision = r.oneOf(o['decision'], at('decision'), ['approve'] as const);
  const approvedAt = r.string(o['approved_at'], at('approved_at'), { pattern: RFC3339 });
  const expiresAt = r.string(o['expires_at'], at('expires_at'), { pattern: RFC3339 });
  const signature = r.string(o['signature'], at('signature'), { max: 512 });
  return {
    approver_id: approver!,
    incident_id: incident!,
    action: action!,
    proposal_digest: digest!,
    decision: decision!,
    approved_at: approvedAt!,
    expires_at: expiresAt!,
    signature: signature!,
  };
}

/**
 * A roster approver's signed decision that an incident waiting for a human is not to be acted on:
 * it ends the incident as `rejected`. It names the incident only (one with no proposal, such as an
 * `unknown` incident, can be rejected too), with the approver's reason.
 */
export interface HumanRejection {
  approver_id: string;
  incident_id: string;
  decision: 'reject';
  /** Why, for the timeline and the evidence (1 to 500 characters). */
  reason: string;
  /** RFC 3339. */
  rejected_at: string;
  /** `ed25519:<base64>` over {@link humanRejectionSigningBytes}. */
  signature: string;
}

/** Strictly parse a human rejection. */
export function parseHumanRejection(json: unknown): HumanRejection {
  const r = new Reader();
  const o = r.object(json, '', [
    'approver_id',
    'incident_id',
    'decision',
    'reason',
    'rejected_at',
    'signature',
  ]);
  const out = o && {
    approver_id: r.string(o['approver_id'], 'approver_id', { pattern: ID })!,
    incident_id: r.string(o['incident_id'], 'incident_id', { pattern: ID })!,
    decision: r.oneOf(o['decision'], 'decision', ['reject'] as const)!,
    reason: r.string(o['reason'], 'reason', { max: 500 })!,
    rejected_at: r.string(o['rejected_at'], 'rejected_at', { pattern: RFC3339 })!,
    signature: r.string(o['signature'], 'signature', { max: 512 })!,
  };
  r.throwIfAny('human rejection');
  return out!;
}

/** The bytes a human rejecter signs: canonical `{domain: "aaps.human-rejection.v1", rejection}` without its signature. */
export function humanRejectionSigningBytes(
  rejection: Omit<HumanRejection, 'signature'> & { signature?: string },
): Uint8Array {
  const { signature: _signature, ...unsigned } = rejection;
  return canonicalBytes({ domain: HUMAN_REJECTION_DOMAIN, rejection: unsigned });
}

function coreOf(p: ProposalCore | ApprovalProposal): ProposalCore {
  return {
    incident_id: p.incident_id,
    action: p.action,
    target: p.target,
    parameters: p.parameters,
    evidence_refs: p.evidence_refs,
    risk: p.risk,
  };
}

/** SHA-256 hex of `{domain: "aaps.proposal-digest.v1", core}` in canonical JSON. */
export function computeProposalDigest(p: ProposalCore | ApprovalProposal): string {
  const digest = proposalDigestOf(coreOf(p));
  if (digest === undefined)
    throw new ValidationError('INVALID_ARGUMENT', 'a proposal core field is missing', ['proposal']);
  return digest;
}

/** Complete a proposal core with its digest (and an optional human approval). */
export function buildApprovalProposal(core: ProposalCore, humanApproval?: HumanApproval): ApprovalProposal {
  const out: ApprovalProposal = { ...coreOf(core), proposal_digest: computeProposalDigest(core) };
  if (humanApproval) out.human_approval = humanApproval;
  return out;
}

/**
 * The bytes the parties sign: canonical JSON of `{domain: "aaps.approval.v1", proposal}`. The
 * proposal is parsed strictly first, so nothing outside the schema can ride along in the bytes.
 */
export function proposalSigningBytes(proposal: unknown): Uint8Array {
  return approvalSigningBytes(parseApprovalProposal(proposal));
}

/** The bytes a human approver signs: canonical `{domain: "aaps.human-approval.v1", approval}` without its signature. */
export function humanApprovalSigningBytes(
  approval: Omit<HumanApproval, 'signature'> & { signature?: string },
): Uint8Array {
  const { signature: _signature, ...unsigned } = approval;
  return canonicalBytes({ domain: HUMAN_APPROVAL_DOMAIN, approval: unsigned });
}
