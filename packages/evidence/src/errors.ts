/**
 * The closed set of checks an evidence verification can fail, each named by the `check` field of
 * the {@link VerificationError} it throws. Callers (and `aaps-verify`) branch on `check`, never on
 * message text.
 */
import { VerificationError } from '@aaps/mpc-core/verifier';

/** Checks in the order {@link verifyBundle} runs them. */
export const EVIDENCE_CHECKS = [
  /** Structure and encodings of the bundle: media type, field types, base64, hex. */
  'bundle.format',
  /** The signature's key id, and the bundle's group key, name the trusted group key. */
  'dsse.keyid',
  /** The DSSE signature over PAE verifies under the trusted group key. */
  'dsse.signature',
  /** The signed payload is an in-toto Statement v1 with the AAPS incident predicate. */
  'statement.format',
  /** The Statement's subject names the incident and carries the transcript's digest. */
  'statement.subject',
  /** Every transcript envelope is signed by its sender's roster identity key. */
  'transcript.signature',
  /**
   * Every `ExecutionOrder` in the transcript carries the parties' group signature, under the
   * trusted group key, over the proposal it executes, and that proposal is the one the decision
   * names. Skipped when the transcript has no `ExecutionOrder`.
   */
  'approval.signature',
  /**
   * The transcript holds workflow messages only, each signed by a key that may say it (a party its
   * role's outputs), and about this incident (transcript-authority.ts).
   */
  'transcript.authority',
  /**
   * The predicate's verification and action result are what the transcript's signed execution
   * results and quality assurance's report say; an executed change is followed by that report.
   */
  'transcript.outcome',
  /** Ciphersuite, threshold and signers agree between predicate, bundle and roster. */
  'signers.threshold',
  /**
   * The aggregation record is the one the approved proposal cites (`risk.aggregation_ref`: digest,
   * session, pooled value), on the pinned pooled-risk circuit and n distinct parties, matches
   * its signed digest, and re-checks. Skipped when nothing cites a record and there is none.
   */
  'aggregation',
  /** The checkpoint is a well-formed signed note under a trusted log key. */
  'log.checkpoint',
  /** The inclusion proof places the bundle's log leaf under the checkpoint's root. */
  'log.inclusion',
  /** The bundle's checkpoint is consistent with an earlier one the verifier knows. */
  'log.consistency',
] as const;

export type EvidenceCheck = (typeof EVIDENCE_CHECKS)[number];

/** Throw a {@link VerificationError} for `check`; `details` must not carry secrets. */
export function fail(
  check: EvidenceCheck,
  message: string,
  details?: Record<string, unknown>,
  cause?: unknown,
): never {
  const opts: { details?: Record<string, unknown>; cause?: unknown; code?: 'INVALID_SIGNATURE' } = {};
  if (details !== undefined) opts.details = details;
  if (cause !== undefined) opts.cause = cause;
  if (check === 'dsse.signature' || check === 'transcript.signature' || check === 'approval.signature')
    opts.code = 'INVALID_SIGNATURE';
  throw new VerificationError(check, message, opts);
}

export function isEvidenceCheck(value: unknown): value is EvidenceCheck {
  return typeof value === 'string' && (EVIDENCE_CHECKS as readonly string[]).includes(value);
}
