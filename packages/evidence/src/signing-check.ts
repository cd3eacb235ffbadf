/**
 * What a party checks before it lends its share to an evidence signature. The coordinator sends
 * the Statement's bytes, their DSSE payload type and the transcript, never the message: the bytes
 * to sign (the DSSE PAE) are derived here, and only once what `aaps-verify` checks of the Statement
 * and transcript holds (the bundle's log entry comes later, from the log). The party node and the gateway's in-process coordinator both call
 * this, so both refuse the same evidence under the same rule.
 */

import { canonicalize, VerificationError } from '@aaps/mpc-core/verifier';
import {
  type AggregationRef,
  type CitedAggregation,
  checkSignedAggregation,
  citedAggregation,
} from './aggregation-binding.js';
import { checkApprovals } from './approval.js';
import { checkSubject, openStatementPayload } from './bundle/verify.js';
import { IN_TOTO_PAYLOAD_TYPE, pae } from './dsse.js';
import { toHex } from './encoding.js';
import type { EvidenceCiphersuite } from './keys.js';
import type { RosterMember, Statement, VerifierRoster } from './statement.js';
import { type CanonicalTranscript, verifyTranscript } from './transcript.js';
import { checkTranscriptAuthority, checkTranscriptOutcome, type PartyRoles } from './transcript-authority.js';
import { checkTranscriptEnding } from './transcript-ending.js';

/**
 * The rules a refusal names. They are checked cheapest first: the payload type, the Statement (its
 * group, threshold, signers and roster), the transcript's shape, the subject's name and digest, the
 * transcript's signatures, the approval of any executed action (`approval.signature`), the
 * transcript's authority (`evidence.transcript`: workflow messages only, each party its role's
 * outputs, all about this incident), the predicate's verification and action result against the
 * transcript (`evidence.outcome`), and last the aggregation record the Statement signs
 * (`aggregation`: the one the approved proposal cites, and one this party confirmed).
 */
export const EVIDENCE_SIGNING_RULES = [
  'evidence.payload_type',
  'evidence.statement',
  'evidence.roster',
  'evidence.transcript',
  'evidence.subject',
  'evidence.signers',
  'evidence.approval',
  'evidence.outcome',
  'evidence.aggregation',
] as const;
export type EvidenceSigningRule = (typeof EVIDENCE_SIGNING_RULES)[number];

export interface EvidenceSigningInput {
  /** The DSSE payload type to sign under: it must be the in-toto one, as verifiers require. */
  payloadType: string;
  /** The Statement's bytes (its RFC 8785 canonical JSON, as the bundle's payload carries them). */
  payload: Uint8Array;
  /** The incident's signed envelopes, in order (anything: it is checked here). */
  transcript: unknown;
  /**
   * The signing party's own roster: the transcript's identity signatures are checked against it,
   * and the Statement's `predicate.roster` must be exactly it (`evidence.roster`).
   */
  roster: VerifierRoster;
  /**
   * Each party's role by id, from the party's roster.json: a party's envelopes must then be its
   * role's outputs (a `VerificationReport` quality assurance's). Without it, one role's outputs per
   * party in the transcript.
   */
  roles?: PartyRoles;
  /** The signer's group: the Statement must name this key and ciphersuite, as verifiers require. */
  ciphersuite: string;
  groupPublicKey: Uint8Array;
  /** The group key's threshold: the Statement must state it, and name exactly `min` signers. */
  threshold: { min: number; max: number };
  /**
   * The party about to sign: it must be among the Statement's signers, so that every honest party
   * whose share is in the group signature is named in the bundle. Omitted by a caller that checks
   * for several parties at once and then asks only the named ones.
   */
  signer?: string;
  /**
   * Whether THIS party evaluated and confirmed the cited aggregation (the session, circuit, digest
   * and value of `ref`), pooled for `proposal` (the approved proposal citing it, as the transcript
   * carries it: unchecked JSON). A party node passes its ledger's check; without it only the
   * Statement's digest is held to the reference. Throwing counts as false.
   */
  aggregationConfirmed?: (ref: AggregationRef, proposal: Record<string, unknown>) => boolean;
}

export type EvidenceSigningCheck =
  | {
      ok: true;
      /** The bytes to sign: `PAE(payloadType, payload)`. */
      message: Uint8Array;
      /** The Statement's one subject name, e.g. `incident/<id>`. */
      subject: string;
      /** Hex SHA-256 of the transcript's canonical JSON, which the subject names. */
      transcriptSha256: string;
      /** The parties the Statement names as its signers. */
      signers: readonly string[];
    }
  | { ok: false; rule: EvidenceSigningRule; message: string };

const DEFAULT_GATEWAY_ID = 'gateway';

/**
 * A roster's RFC 8785 text in one spelling per meaning: `parties` and `approvers` sorted by id (then
 * key), and `gateway_id` written out (`gateway` when absent). Verifiers look members up by id and
 * kind, never by position, and a Statement's roster repeats no id (`statement.format`), so the order
 * carries nothing; every other field is kept, so anything added to the roster makes it differ.
 */
function canonicalRoster(roster: VerifierRoster): string {
  const sorted = (members: readonly RosterMember[]) =>
    [...members].sort((a, b) =>
      a.id === b.id ? compare(a.identity_key, b.identity_key) : compare(a.id, b.id),
    );
  return canonicalize({
    ...roster,
    parties: sorted(roster.parties),
    approvers: sorted(roster.approvers),
    gateway_id: roster.gateway_id ?? DEFAULT_GATEWAY_ID,
  });
}

const compare = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

/** What the gateway's evidence writer puts in a Statement for `roster`: ids and keys, nothing more. */
function writtenRoster(roster: VerifierRoster): VerifierRoster {
  const member = (m: RosterMember): RosterMember => ({ id: m.id, identity_key: m.identity_key });
  return {
    parties: roster.parties.map(member),
    approvers: roster.approvers.map(member),
    gateway_key: roster.gateway_key,
    gateway_id: roster.gateway_id ?? DEFAULT_GATEWAY_ID,
  };
}

/**
 * Whether a Statement's roster is exactly `own`: the same parties and approvers (ids and identity
 * keys), the same gateway key and id, and nothing else. `aaps-verify` checks the transcript against
 * the predicate's roster when it is given no other, so a roster the party did not check would let
 * the gateway vouch for an approver (or a party key) of its own making.
 */
function isOwnRoster(predicateRoster: VerifierRoster, own: VerifierRoster): boolean {
  try {
    return canonicalRoster(predicateRoster) === canonicalRoster(writtenRoster(own));
  } catch {
    return false;
  }
}

/** The bytes a group signature over evidence signs: the DSSE PAE of the Statement as in-toto. */
export function evidenceSigningMessage(payload: Uint8Array): Uint8Array {
  return pae(IN_TOTO_PAYLOAD_TYPE, payload);
}

/**
 * Check evidence offered for signing; never throws. It holds when the payload type is in-toto's,
 * the payload is an AAPS incident Statement naming the signer's group key, ciphersuite and
 * threshold, exactly `threshold.min` distinct signers (the signer, when given, among them), the
 * signer's own `roster` as its roster and, as its one subject, its incident with the transcript's
 * digest, every transcript envelope carries its sender's identity signature under `roster` and is
 * a workflow message its signer may send about this incident (a party its role's outputs, by
 * `roles` when given), the predicate's verification and action result are what the transcript
 * says (an executed change followed by its verification report), every executed action carries
 * its group approval, and the Statement signs an aggregation record exactly when the approved
 * proposal cites one, with the cited digest (which `aggregationConfirmed`, when given, says this
 * party confirmed): what `aaps-verify` checks of the Statement and transcript, against the roster
 * it will trust.
 */
export function checkEvidenceForSigning(input: EvidenceSigningInput): EvidenceSigningCheck {
  const refuse = (rule: EvidenceSigningRule, message: string): EvidenceSigningCheck => ({
    ok: false,
    rule,
    message,
  });
  if (input.payloadType !== IN_TOTO_PAYLOAD_TYPE) {
    return refuse('evidence.payload_type', `evidence is signed as ${IN_TOTO_PAYLOAD_TYPE} only`);
  }
  // What aaps-verify checks of the Statement (statement.format, statement.subject) is its own code.
  let statement: Statement;
  try {
    statement = openStatementPayload(
      IN_TOTO_PAYLOAD_TYPE,
      input.payload,
      input.ciphersuite,
      toHex(input.groupPublicKey),
    );
  } catch (e) {
    return refuse(
      'evidence.statement',
      `not an AAPS evidence statement under this key: ${(e as Error).message}`,
    );
  }
  const { predicate } = statement;
  const { min, max } = input.threshold;
  if (predicate.threshold.min !== min || predicate.threshold.max !== max) {
    return refuse('evidence.statement', `the statement's threshold is not the key's ${min}-of-${max}`);
  }
  // Exactly `min` distinct signers: as many as give shares, so naming more cannot claim more.
  if (predicate.signers.length !== min || new Set(predicate.signers).size !== min) {
    return refuse('evidence.signers', `the statement must name exactly ${min} distinct signers`);
  }
  if (input.signer !== undefined && !predicate.signers.includes(input.signer)) {
    return refuse('evidence.signers', `the statement does not name ${input.signer} among its signers`);
  }
  if (!isOwnRoster(predicate.roster, input.roster)) {
    return refuse(
      'evidence.roster',
      "the statement's roster is not this party's (parties, approvers, gateway key and id)",
    );
  }
  const { transcript } = input;
  if (!Array.isArray(transcript) || transcript.length === 0) {
    return refuse('evidence.transcript', 'evidence needs its transcript: a non-empty array of envelopes');
  }
  let canonical: CanonicalTranscript;
  try {
    canonical = checkSubject(statement, transcript);
  } catch (e) {
    if (e instanceof VerificationError && e.check === 'statement.subject')
      return refuse('evidence.subject', e.message);
    return refuse('evidence.transcript', `transcript does not serialize: ${(e as Error).message}`);
  }
  try {
    verifyTranscript(transcript, input.roster, canonical);
  } catch (e) {
    return refuse('evidence.transcript', `transcript does not verify: ${(e as Error).message}`);
  }
  // aaps-verify's approval.signature: an executed action's order carries the group's approval of
  // the very proposal executed; no quorum attests evidence of an execution nobody approved.
  try {
    checkApprovals(
      transcript,
      predicate,
      {
        suite: input.ciphersuite as EvidenceCiphersuite,
        publicKey: input.groupPublicKey,
        publicKeyHex: toHex(input.groupPublicKey),
      },
      input.roster,
    );
  } catch (e) {
    return refuse('evidence.approval', (e as Error).message);
  }
  // aaps-verify's transcript.authority and transcript.outcome: the envelopes belong in this
  // incident's evidence, and the predicate says what quality assurance's signed report says.
  try {
    checkTranscriptAuthority(transcript, predicate, input.roster, input.roles);
  } catch (e) {
    return refuse('evidence.transcript', (e as Error).message);
  }
  try {
    checkTranscriptOutcome(transcript, predicate);
    checkTranscriptEnding(transcript, predicate, input.roster);
  } catch (e) {
    return refuse('evidence.outcome', (e as Error).message);
  }
  // aaps-verify's aggregation: the signed record digest is the one the approved proposal cites
  // (or there is none), and this party confirmed that very aggregation itself.
  let cited: CitedAggregation | undefined;
  try {
    cited = citedAggregation(transcript, predicate, input.roster);
    checkSignedAggregation(predicate, cited);
  } catch (e) {
    return refuse('evidence.aggregation', (e as Error).message);
  }
  // A record is signed (a proposal nothing acted on may go without one): this party confirmed it.
  if (cited !== undefined && predicate.aggregation !== null && input.aggregationConfirmed !== undefined) {
    let confirmed = false;
    try {
      confirmed = input.aggregationConfirmed(cited.ref, cited.proposal) === true;
    } catch {
      confirmed = false;
    }
    if (!confirmed) {
      return refuse(
        'evidence.aggregation',
        `this party did not confirm aggregation ${cited.ref.session_id} with digest ${cited.ref.output_digest} and value ${cited.ref.value} for this proposal`,
      );
    }
  }
  return {
    ok: true,
    message: evidenceSigningMessage(input.payload),
    subject: statement.subject[0]!.name,
    transcriptSha256: canonical.digestHex,
    signers: predicate.signers,
  };
}
