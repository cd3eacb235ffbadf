/**
 * The k-of-n approval behind an executed action (`approval.signature`). Before anything changes,
 * the gateway sends maintenance an `ExecutionOrder` envelope whose payload carries the proposal the
 * parties approved and their FROST group signature over it:
 *
 *   payload = {incident_id, proposal, approval: {ciphersuite, group_public_key, signature, signers},
 *              executor}
 *
 * The signed bytes are the RFC 8785 canonical JSON of `{"domain": "aaps.approval.v1", "proposal":
 * proposal}` (packages/agents `proposalSigningBytes`), and `proposal.proposal_digest` is the hex
 * SHA-256 of the canonical JSON of `{"domain": "aaps.proposal-digest.v1", "core": core}`, where
 * `core` is the proposal's `incident_id, action, target, parameters, evidence_refs, risk`
 * (packages/agents `computeProposalDigest`). Both are defined here, once: the parties call these
 * after parsing a proposal strictly, and the verifier derives them from the transcript as the
 * bundle carries it, so an auditor re-derives them without the agents' code.
 */
import { canonicalBytes } from '@aaps/mpc-core/verifier';
import { parseHex, sha256Hex } from './encoding.js';
import { fail } from './errors.js';
import { type EvidenceCiphersuite, verifyGroupSignature } from './keys.js';
import { type IncidentPredicate, isObject, signerListProblem, type VerifierRoster } from './statement.js';

export const APPROVAL_DOMAIN = 'aaps.approval.v1';
export const PROPOSAL_DIGEST_DOMAIN = 'aaps.proposal-digest.v1';
export const EXECUTION_ORDER = 'ExecutionOrder';

/** The proposal fields `proposal_digest` covers (everything but the human approval and itself). */
const CORE_FIELDS = ['incident_id', 'action', 'target', 'parameters', 'evidence_refs', 'risk'] as const;

/** The bytes the parties' approval signature signs: JCS of `{domain: "aaps.approval.v1", proposal}`. */
export function approvalSigningBytes(proposal: unknown): Uint8Array {
  return canonicalBytes({ domain: APPROVAL_DOMAIN, proposal });
}

/**
 * A proposal's digest: hex SHA-256 of JCS of `{domain: "aaps.proposal-digest.v1", core}`;
 * `undefined` when a core field is missing.
 */
export function proposalDigestOf(proposal: Record<string, unknown>): string | undefined {
  const core: Record<string, unknown> = {};
  for (const field of CORE_FIELDS) {
    if (proposal[field] === undefined) return undefined;
    core[field] = proposal[field];
  }
  return sha256Hex(canonicalBytes({ domain: PROPOSAL_DIGEST_DOMAIN, core }));
}

/** Indexes of the transcript's `ExecutionOrder` envelopes (by `meta.message_type`), in order. */
export function executionOrderIndexes(transcript: readonly unknown[]): number[] {
  const out: number[] = [];
  for (let i = 0; i < transcript.length; i++) {
    const meta = (transcript[i] as { meta?: { message_type?: unknown } }).meta;
    if (meta?.message_type === EXECUTION_ORDER) out.push(i);
  }
  return out;
}

/**
 * Workflow steps that only a change that started can reach (DESIGN.md "Incident workflow"): the
 * order was accepted, the change applied, verified or vetoed, or undone. A bundle that records one
 * of them in `predicate.times` shows an execution.
 */
export const EXECUTION_STEPS = [
  'execution_started',
  'executed',
  'verification_passed',
  'verification_failed',
  'rolled_back',
] as const;

/** Envelopes only an executed change produces: the executor's result and quality assurance's check of it. */
export const EXECUTION_MESSAGES = ['ExecutionResult', 'VerificationReport'] as const;

/**
 * What in a bundle without an `ExecutionOrder` says an action ran anyway, if anything: a step of
 * {@link EXECUTION_STEPS} in the predicate's times, a `predicate.verification` (only an executed
 * change is verified), an action result, or an envelope of {@link EXECUTION_MESSAGES}. The order
 * (and the approval it carries) cannot be left out of a bundle that shows an execution.
 */
export function executionClaimed(
  predicate: IncidentPredicate,
  transcript: readonly unknown[],
): string | undefined {
  for (const step of EXECUTION_STEPS)
    if (predicate.times[step] !== undefined) return `predicate.times.${step}`;
  if (predicate.verification !== null && predicate.verification !== undefined)
    return 'predicate.verification';
  if (isObject(predicate.action) && predicate.action.result !== undefined) return 'predicate.action.result';
  const messages: readonly unknown[] = EXECUTION_MESSAGES;
  const at = transcript.findIndex((e) =>
    messages.includes((e as { meta?: { message_type?: unknown } }).meta?.message_type),
  );
  if (at < 0) return undefined;
  const type = (transcript[at] as { meta: { message_type: string } }).meta.message_type;
  return `transcript[${at}] (${type})`;
}

/** The trusted group an approval must verify under (the DSSE check's key and suite). */
export interface ApprovalGroup {
  suite: EvidenceCiphersuite;
  publicKey: Uint8Array;
  /** Lower-case hex of `publicKey`. */
  publicKeyHex: string;
}

/**
 * The whole `approval.signature` check, as `aaps-verify` runs it and a party before it signs
 * evidence: every `ExecutionOrder` in the transcript passes {@link verifyApprovals}, and a
 * transcript without one shows no execution (else the order and its approval were left out).
 * Returns false when there was no order to check; throws `approval.signature`.
 */
export function checkApprovals(
  transcript: readonly unknown[],
  predicate: IncidentPredicate,
  group: ApprovalGroup,
  roster: VerifierRoster,
): boolean {
  const orders = executionOrderIndexes(transcript);
  if (orders.length > 0) {
    verifyApprovals(transcript, orders, predicate, group, roster);
    return true;
  }
  const ran = executionClaimed(predicate, transcript);
  if (ran !== undefined)
    fail('approval.signature', `the bundle records an executed action (${ran}) but no ExecutionOrder`);
  return false;
}

/**
 * The `approval.signature` check for the `ExecutionOrder` envelopes at `indexes`: each carries a
 * group signature under the trusted key over {@link approvalSigningBytes} of its proposal, the
 * proposal's `proposal_digest` is its digest, the order and proposal name the bundle's incident,
 * and, when the predicate's decision records a `proposal_digest`, the proposal is that one; its
 * `approval.signers` (what the gateway says the quorum was) are distinct parties of `roster`,
 * between k and n of them. Throws `approval.signature` naming the envelope's index.
 */
export function verifyApprovals(
  transcript: readonly unknown[],
  indexes: readonly number[],
  predicate: IncidentPredicate,
  group: ApprovalGroup,
  roster: VerifierRoster,
): void {
  for (const index of indexes) verifyApproval(transcript[index], index, predicate, group, roster);
}

function verifyApproval(
  envelope: unknown,
  index: number,
  predicate: IncidentPredicate,
  group: ApprovalGroup,
  roster: VerifierRoster,
): void {
  const at = `ExecutionOrder transcript[${index}]`;
  const malformed: () => never = () =>
    fail('approval.signature', `${at} has no payload.proposal and payload.approval objects`, { index });
  const payload = (envelope as { payload?: unknown }).payload;
  if (!isObject(payload)) malformed();
  const { proposal, approval } = payload;
  if (!isObject(proposal) || !isObject(approval)) malformed();
  if (approval.ciphersuite !== group.suite || approval.group_public_key !== group.publicKeyHex) {
    fail('approval.signature', `${at}: the approval names another group key or ciphersuite`, {
      index,
      expected: { ciphersuite: group.suite, group_public_key: group.publicKeyHex },
      actual: { ciphersuite: approval.ciphersuite, group_public_key: approval.group_public_key },
    });
  }
  const problem = signerListProblem(approval.signers, roster, predicate.threshold);
  if (problem !== undefined) {
    fail('approval.signature', `${at}: approval.signers: ${problem.message}`, {
      index,
      actual: Array.isArray(approval.signers) ? approval.signers : null,
    });
  }
  const signature = parseHex(approval.signature);
  if (signature?.length !== 64) {
    fail('approval.signature', `${at}: approval.signature is not 64-byte lower-case hex`, { index });
  }
  if (!verifyGroupSignature(group.suite, group.publicKey, approvalSigningBytes(proposal), signature)) {
    fail(
      'approval.signature',
      `${at}: the approval signature does not verify under the group key over {domain: ${APPROVAL_DOMAIN}, proposal}`,
      { index },
    );
  }
  const digest = proposalDigestOf(proposal);
  if (digest === undefined || digest !== proposal.proposal_digest) {
    fail('approval.signature', `${at}: proposal.proposal_digest is not the digest of the proposal`, {
      index,
      expected: digest ?? null,
      actual: proposal.proposal_digest ?? null,
    });
  }
  const incident = predicate.incident.id;
  if (payload.incident_id !== incident || proposal.incident_id !== incident) {
    fail('approval.signature', `${at}: the approved proposal is not for incident ${incident}`, {
      index,
      expected: incident,
      actual: { order: payload.incident_id ?? null, proposal: proposal.incident_id },
    });
  }
  const decided = predicate.decision.proposal_digest;
  if (typeof decided === 'string' && decided !== digest) {
    fail(
      'approval.signature',
      `${at}: the approved proposal is not the one the decision names (predicate.decision.proposal_digest)`,
      { index, expected: decided, actual: digest },
    );
  }
}
