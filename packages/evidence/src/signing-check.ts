/**
 * What a party checks before it lends its share to an evidence signature. The coordinator sends
 * the Statement's bytes, their DSSE payload type and the transcript, never the message: the bytes
 * to sign (the DSSE PAE) are derived here, and only once what `aaps-verify` checks of the Statement
 * and transcript holds (the bundle's log entry comes later, from the log). The party node and the gateway's in-process coordinator both call
 * this, so both refuse the same evidence under the same rule.
 */

import { VerificationError } from '@aaps/mpc-core';
import { checkApprovals } from './approval.js';
import { checkSubject, openStatementPayload } from './bundle/verify.js';
import { IN_TOTO_PAYLOAD_TYPE, pae } from './dsse.js';
import { toHex } from './encoding.js';
import type { EvidenceCiphersuite } from './keys.js';
import type { Statement, VerifierRoster } from './statement.js';
import { type CanonicalTranscript, verifyTranscript } from './transcript.js';

/**
 * The rules a refusal names. They are checked cheapest first: the payload type, the Statement (its
 * group, threshold and signers), the transcript's shape, the subject's name and digest, the
 * transcript's signatures, and last the approval of any executed action (`approval.signature`).
 */
export const EVIDENCE_SIGNING_RULES = [
  'evidence.payload_type',
  'evidence.statement',
  'evidence.transcript',
  'evidence.subject',
  'evidence.signers',
  'evidence.approval',
] as const;
export type EvidenceSigningRule = (typeof EVIDENCE_SIGNING_RULES)[number];

export interface EvidenceSigningInput {
  /** The DSSE payload type to sign under: it must be the in-toto one, as verifiers require. */
  payloadType: string;
  /** The Statement's bytes (its RFC 8785 canonical JSON, as the bundle's payload carries them). */
  payload: Uint8Array;
  /** The incident's signed envelopes, in order (anything: it is checked here). */
  transcript: unknown;
  /** The roster the transcript's identity signatures are checked against. */
  roster: VerifierRoster;
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

/** The bytes a group signature over evidence signs: the DSSE PAE of the Statement as in-toto. */
export function evidenceSigningMessage(payload: Uint8Array): Uint8Array {
  return pae(IN_TOTO_PAYLOAD_TYPE, payload);
}

/**
 * Check evidence offered for signing; never throws. It holds when the payload type is in-toto's,
 * the payload is an AAPS incident Statement naming the signer's group key, ciphersuite and
 * threshold, exactly `threshold.min` distinct signers (the signer, when given, among them) and, as
 * its one subject, its incident with the transcript's digest, and every transcript envelope
 * carries its sender's identity signature under `roster`: what `aaps-verify` checks of the
 * Statement and transcript.
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
    checkApprovals(transcript, predicate, {
      suite: input.ciphersuite as EvidenceCiphersuite,
      publicKey: input.groupPublicKey,
      publicKeyHex: toHex(input.groupPublicKey),
    });
  } catch (e) {
    return refuse('evidence.approval', (e as Error).message);
  }
  return {
    ok: true,
    message: evidenceSigningMessage(input.payload),
    subject: statement.subject[0]!.name,
    transcriptSha256: canonical.digestHex,
    signers: predicate.signers,
  };
}
