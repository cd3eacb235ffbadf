/**
 * One mapping from `AapsError` codes to HTTP statuses and the `{error:{code,message}}` body, with
 * what the error names beside: `fields`, `culprits`, `rule`, and a failed verification's
 * `details.check`.
 */
import { AapsError, type ErrorCode, ProtocolError, ValidationError, VerificationError } from '@aaps/mpc-core';

const STATUS: Partial<Record<ErrorCode, number>> = {
  UNAUTHENTICATED: 401,
  INVALID_SIGNATURE: 401,
  STALE_REQUEST: 401,
  FORBIDDEN: 403,
  INPUT_UNAUTHENTICATED: 403,
  POLICY_REFUSED: 403,
  NOT_FOUND: 404,
  REQUEST_TIMEOUT: 408,
  NO_KEY: 409,
  REPLAYED_REQUEST: 409,
  CONFLICT: 409,
  KEY_EXISTS: 409,
  NONCE_REUSE: 409,
  UNKNOWN_NONCE: 409,
  BODY_ABORTED: 400,
  PAYLOAD_TOO_LARGE: 413,
  UNSUPPORTED_MEDIA_TYPE: 415,
  UNAVAILABLE: 503,
  TIMEOUT: 504,
  QUORUM_UNREACHABLE: 503,
  INTERNAL: 500,
};

export interface ErrorBody {
  error: {
    code: ErrorCode;
    message: string;
    fields?: readonly string[];
    culprits?: readonly string[];
    rule?: string;
    /**
     * For a failed verification: the check that failed (`aggregation.format`). For an aggregation
     * receiver whose share boxes did not open: its signed reveal requests, by dealer.
     */
    details?: { check?: string; reveal_requests?: Record<string, string> };
  };
}

/**
 * The fields an error names: a `ValidationError`'s, or those it carries in `details.fields` (a
 * `VerificationError` from the malformed input that failed it, e.g. `record.threshold`; a party's
 * error as the coordinator's client read it).
 */
export function namedFields(e: unknown): readonly string[] {
  if (e instanceof ValidationError) return e.fields;
  const fields = e instanceof AapsError ? e.details['fields'] : undefined;
  return Array.isArray(fields) ? fields.filter((f): f is string => typeof f === 'string') : [];
}

/** The fields an error body names: a `ValidationError`'s or a `VerificationError`'s. */
function fieldsOf(e: AapsError): readonly string[] {
  return e instanceof ValidationError || e instanceof VerificationError ? namedFields(e) : [];
}

export function errorStatus(e: AapsError): number {
  const s = STATUS[e.code];
  if (s) return s;
  if (e instanceof ProtocolError) return 422;
  if (e instanceof ValidationError) return 400;
  return 400;
}

export function errorBody(e: unknown): { status: number; body: ErrorBody } {
  if (e instanceof AapsError) {
    const body: ErrorBody = { error: { code: e.code, message: e.message } };
    const fields = fieldsOf(e);
    if (fields.length) body.error.fields = fields;
    if (e instanceof VerificationError) body.error.details = { check: e.check };
    if (e instanceof ProtocolError && e.culprits.length) body.error.culprits = e.culprits;
    const requests = e.details['reveal_requests'];
    if (e instanceof ProtocolError && requests !== null && typeof requests === 'object') {
      body.error.details = { ...body.error.details, reveal_requests: requests as Record<string, string> };
    }
    if ('rule' in e && typeof e.rule === 'string') body.error.rule = e.rule;
    return { status: errorStatus(e), body };
  }
  return { status: 500, body: { error: { code: 'INTERNAL', message: 'internal error' } } };
}
