/**
 * The one error handler: every `AapsError` becomes its status and `{error: {code, message}}`
 * (plus the failing `fields` for validation errors). A 500 (`INTERNAL`, an unmapped code, or
 * anything not an `AapsError`) gets a generic message: it is a failure, and its text may hold
 * internals. A 503 or 504 keeps its message: it is a state the gateway reports on purpose (GitHub
 * webhooks with no secret, too many bodies being read, no party reachable), saying what to
 * configure or that a retry may work. Stack traces, causes and details never reach the client.
 */

import type { Logger } from '@aaps/agents';
import { AapsError, type ErrorCode, ValidationError, VerificationError } from '@aaps/mpc-core';
import type { Context, ErrorHandler, NotFoundHandler } from 'hono';
import type { ContentfulStatusCode } from 'hono/utils/http-status';

const STATUS: Partial<Record<ErrorCode, ContentfulStatusCode>> = {
  UNAUTHENTICATED: 401,
  INVALID_SIGNATURE: 401,
  FORBIDDEN: 403,
  NOT_FOUND: 404,
  CONFLICT: 409,
  KEY_EXISTS: 409,
  POLICY_REFUSED: 409,
  QUORUM_UNREACHABLE: 409,
  PAYLOAD_TOO_LARGE: 413,
  UNSUPPORTED_MEDIA_TYPE: 415,
  UNAVAILABLE: 503,
  NO_KEY: 503,
  TIMEOUT: 504,
  INTERNAL: 500,
};

/** The message of every 500: what failed stays in the gateway's log. */
const GENERIC = 'the gateway could not complete the request';

/**
 * A 503/504 message as a client gets it: one line of at most 300 characters. Some carry text a
 * party wrote (`<party>: <its message>`), so control characters go and the length is bounded.
 */
function reported(message: string): string {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what it removes
  const line = message.replace(/[\u0000-\u001f\u007f]+/g, ' ');
  return line.length > 300 ? `${line.slice(0, 299)}…` : line;
}

export function statusOf(e: AapsError): ContentfulStatusCode {
  const s = STATUS[e.code];
  if (s !== undefined) return s;
  if (e instanceof VerificationError) return 401;
  if (e instanceof ValidationError) return 400;
  if (e.code.startsWith('INVALID_') || e.code === 'DECODE_FAILED' || e.code === 'UNSUPPORTED_VERSION')
    return 400;
  return 500;
}

export function errorBody(code: string, message: string, fields?: readonly string[]) {
  return { error: { code, message, ...(fields && fields.length > 0 ? { fields: [...fields] } : {}) } };
}

export function createErrorHandler(logger: Logger): ErrorHandler {
  return (err, c: Context) => {
    const requestId = String(c.get('requestId') ?? '');
    if (err instanceof AapsError) {
      const status = statusOf(err);
      if (status >= 500) logger.error('http.error', { request_id: requestId, code: err.code });
      else logger.info('http.rejected', { request_id: requestId, code: err.code, status });
      if (status === 401) c.header('WWW-Authenticate', 'Bearer');
      const fields = err instanceof ValidationError ? err.fields : undefined;
      const message = status === 500 ? GENERIC : status >= 500 ? reported(err.message) : err.message;
      return c.json(errorBody(err.code, message, fields), status);
    }
    logger.error('http.error', { request_id: requestId, code: 'INTERNAL' });
    return c.json(errorBody('INTERNAL', GENERIC), 500);
  };
}

export const notFound: NotFoundHandler = (c) => c.json(errorBody('NOT_FOUND', 'no such endpoint'), 404);
