/**
 * The closed set of errors that cross module lines in AAPS Quorum.
 *
 * Every error has a `code` from {@link ErrorCode}; callers branch on `code` (and on `culprits`,
 * `fields` or `check`), never on message text. Blaming errors carry the identifiers of the parties
 * at fault, as frost-core's `culprits()` does: an empty list means nobody can be blamed.
 */

export type ErrorCode =
  // input validation
  | 'INVALID_ARGUMENT'
  | 'INVALID_LENGTH'
  | 'INVALID_SCALAR'
  | 'INVALID_POINT'
  | 'INVALID_IDENTIFIER'
  | 'DUPLICATE_IDENTIFIER'
  | 'UNKNOWN_IDENTIFIER'
  | 'INVALID_THRESHOLD'
  | 'TOO_FEW_SIGNERS'
  | 'TOO_MANY_SIGNERS'
  | 'UNKNOWN_CIPHERSUITE'
  | 'CIPHERSUITE_MISMATCH'
  | 'DECODE_FAILED'
  | 'UNSUPPORTED_VERSION'
  // protocol failures (may blame)
  | 'MISSING_OWN_COMMITMENT'
  | 'COMMITMENT_MISMATCH'
  | 'INVALID_SIGNATURE_SHARE'
  | 'INVALID_PROOF_OF_KNOWLEDGE'
  | 'INVALID_SECRET_SHARE'
  | 'INVALID_DEALING'
  | 'INVALID_RANGE_PROOF'
  | 'INVALID_OPENING'
  | 'INCONSISTENT_TRANSCRIPT'
  | 'NONCE_REUSE'
  | 'UNKNOWN_NONCE'
  | 'QUORUM_UNREACHABLE'
  | 'TIMEOUT'
  | 'REQUEST_TIMEOUT'
  | 'ROUND_ORDER'
  // verification
  | 'INVALID_SIGNATURE'
  | 'VERIFICATION_FAILED'
  // policy
  | 'POLICY_REFUSED'
  | 'CIRCUIT_INVALID'
  // service (party node, gateway)
  | 'UNAUTHENTICATED'
  /** An aggregation input not signed by a key the party's policy lists (`aggregation.input_signers`). */
  | 'INPUT_UNAUTHENTICATED'
  | 'FORBIDDEN'
  | 'STALE_REQUEST'
  | 'REPLAYED_REQUEST'
  | 'NOT_FOUND'
  | 'CONFLICT'
  | 'KEY_EXISTS'
  | 'NO_KEY'
  | 'PAYLOAD_TOO_LARGE'
  /** A request line and headers over what the HTTP server reads (HTTP 431). */
  | 'HEADERS_TOO_LARGE'
  | 'BODY_ABORTED'
  | 'UNSUPPORTED_MEDIA_TYPE'
  /** `Accept` ranks none of the media types a route answers with above q=0 (HTTP 406). */
  | 'NOT_ACCEPTABLE'
  | 'METHOD_NOT_ALLOWED'
  /** An `Expect` the HTTP server cannot meet (anything but `100-continue`; HTTP 417). */
  | 'EXPECTATION_FAILED'
  | 'TOO_MANY_REQUESTS'
  | 'UNAVAILABLE'
  | 'INTERNAL';

/** Participant identifier as it appears in errors: the canonical hex of the identifier scalar. */
export type Culprit = string;

export interface AapsErrorOptions {
  details?: Record<string, unknown>;
  cause?: unknown;
}

export class AapsError extends Error {
  readonly code: ErrorCode;
  readonly details: Readonly<Record<string, unknown>>;

  constructor(code: ErrorCode, message: string, opts: AapsErrorOptions = {}) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = new.target.name;
    this.code = code;
    this.details = Object.freeze({ ...(opts.details ?? {}) });
  }

  toJSON(): { name: string; code: ErrorCode; message: string; details: Record<string, unknown> } {
    return { name: this.name, code: this.code, message: this.message, details: { ...this.details } };
  }
}

/** Bad input: wrong lengths, non-canonical encodings, unknown ids. `fields` are dot paths. */
export class ValidationError extends AapsError {
  readonly fields: readonly string[];
  constructor(code: ErrorCode, message: string, fields: readonly string[] = [], opts: AapsErrorOptions = {}) {
    super(code, message, opts);
    this.fields = Object.freeze([...fields]);
  }
}

/** A protocol run failed. `culprits` names every party proven to have misbehaved (may be empty). */
export class ProtocolError extends AapsError {
  readonly culprits: readonly Culprit[];
  constructor(
    code: ErrorCode,
    message: string,
    culprits: readonly Culprit[] = [],
    opts: AapsErrorOptions = {},
  ) {
    super(code, message, opts);
    this.culprits = Object.freeze([...culprits]);
  }
}

/** A signature, proof, log or bundle check failed. `check` names which one (e.g. `dsse.signature`). */
export class VerificationError extends AapsError {
  readonly check: string;
  constructor(check: string, message: string, opts: AapsErrorOptions & { code?: ErrorCode } = {}) {
    super(opts.code ?? 'VERIFICATION_FAILED', message, opts);
    this.check = check;
  }
}

/** A party refused by its own policy. `rule` names the rule that refused. */
export class PolicyRefusal extends AapsError {
  readonly rule: string;
  constructor(rule: string, message: string, opts: AapsErrorOptions = {}) {
    super('POLICY_REFUSED', message, opts);
    this.rule = rule;
  }
}

export function isAapsError(e: unknown): e is AapsError {
  return e instanceof AapsError;
}

/**
 * The innermost error of `error`'s `cause` chain: what a wrapped error says more than its wrapper
 * (LevelDB's "Database failed to open" wraps the I/O error naming ENOSPC, EACCES or a lock).
 * Undefined when `error` has no cause, or the chain ends in something other than an `Error`.
 */
export function innermostCause(error: unknown): Error | undefined {
  const seen = new Set<unknown>();
  let at = error;
  while (nextCause(at) !== undefined && !seen.has(at)) {
    seen.add(at);
    at = nextCause(at);
  }
  return at !== error && at instanceof Error ? at : undefined;
}

/** The first line of what `error` says: an `Error`'s message, else its string form. */
export function firstMessageLine(error: unknown): string {
  return (error instanceof Error ? error.message : String(error)).split('\n')[0]!;
}

function nextCause(error: unknown): unknown {
  return error !== null && typeof error === 'object' ? (error as { cause?: unknown }).cause : undefined;
}
