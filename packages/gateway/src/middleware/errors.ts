/**
 * The one error handler: every `AapsError` becomes its status and `{error: {code, message}}`
 * (plus the failing `fields` for validation errors). A 500 (`INTERNAL`, an unmapped code, or
 * anything not an `AapsError`) gets a generic message: it is a failure, and its text may hold
 * internals. A 503 or 504 keeps its message: it is a state the gateway reports on purpose (GitHub
 * webhooks with no secret, too many bodies being read, no party reachable), saying what to
 * configure or that a retry may work. Stack traces, causes and details never reach the client.
 *
 * Every error answer, including an unknown path, is reported to `onRejected` (the gateway counts
 * them in `aaps_rejected_requests_total`) with its method, its route pattern (never the raw path),
 * status and code.
 */

import { coalescedLog, type LogFields, type Logger } from '@aaps/agents';
import { AapsError, type ErrorCode, ValidationError, VerificationError } from '@aaps/mpc-core';
import type { Context, ErrorHandler, NotFoundHandler } from 'hono';
import { matchedRoutes } from 'hono/route';
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import { MAX_ERROR_FIELDS } from '../schema/check.js';

const STATUS: Partial<Record<ErrorCode, ContentfulStatusCode>> = {
  UNAUTHENTICATED: 401,
  INVALID_SIGNATURE: 401,
  FORBIDDEN: 403,
  NOT_FOUND: 404,
  CONFLICT: 409,
  KEY_EXISTS: 409,
  POLICY_REFUSED: 409,
  QUORUM_UNREACHABLE: 409,
  REQUEST_TIMEOUT: 408,
  BODY_ABORTED: 400,
  PAYLOAD_TOO_LARGE: 413,
  HEADERS_TOO_LARGE: 431,
  UNSUPPORTED_MEDIA_TYPE: 415,
  NOT_ACCEPTABLE: 406,
  METHOD_NOT_ALLOWED: 405,
  EXPECTATION_FAILED: 417,
  TOO_MANY_REQUESTS: 429,
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

/** The error shape; `fields` holds at most {@link MAX_ERROR_FIELDS} paths, as the Error schema says. */
export function errorBody(code: string, message: string, fields?: readonly string[]) {
  const listed = fields?.slice(0, MAX_ERROR_FIELDS) ?? [];
  return { error: { code, message, ...(listed.length > 0 ? { fields: listed } : {}) } };
}

/** An error answer, as metrics see it: bounded label values only. */
export interface Rejection {
  /** The request method, or `OTHER` for one the gateway never serves. */
  method: string;
  /** The route pattern in OpenAPI form (`/v1/incidents/{id}`), or `unmatched`. */
  route: string;
  status: number;
  code: string;
}

const METHODS = new Set(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS']);

/** A request method as a label: anything unusual is `OTHER` (a client picks the method). */
export function methodOf(method: string): string {
  const m = method.toUpperCase();
  return METHODS.has(m) ? m : 'OTHER';
}

/** The request's method as a label ({@link methodOf}). */
export function methodLabel(c: Context): string {
  return methodOf(c.req.method);
}

/** The pattern of the route that matched (`/v1/incidents/{id}`), or `unmatched`. */
export function routeLabel(c: Context): string {
  const routes = matchedRoutes(c).filter((r) => r.method !== 'ALL');
  const path = routes.at(-1)?.path;
  return path === undefined ? 'unmatched' : openApiPath(path);
}

const openApiPath = (path: string) => path.replace(/:([A-Za-z0-9_]+)/g, '{$1}');

/**
 * The fields of an error answer's log line. `route` is the matched route pattern or `unmatched`
 * (what the server refused before the app): bounded, so it can key the coalescing.
 */
export type RejectionLine = LogFields & { route: string; status: number; code: string; token?: string };

/** Where the gateway logs its error answers (the app's, and what its server refused before the app). */
export type RejectionLog = (line: RejectionLine) => void;

/**
 * The log of error answers, coalesced as `coalescedLog` says: per key, the first at once, then at
 * most one line a minute carrying `suppressed`, how many went unlogged since. Anyone who reaches
 * the port can send requests the gateway refuses (and some it answers 5xx: a GitHub delivery
 * while GitHub webhooks are off, or while the GitHub body budget is full), so one line each would
 * let them grow the log at the rate they send; `aaps_rejected_requests_total` still counts every
 * one. The key is status, code and route pattern (`unmatched` before the app), and the token name
 * for an authenticated caller's: a stranger's flood, before the app or on another route, hides no
 * client's line and no signed GitHub delivery's. All bounded: codes, route patterns and token
 * names are finite. A 4xx (a refused request) is `http.rejected` at info; a 5xx (the gateway's own
 * failure or a state it reports) is `http.error` at error.
 */
export function rejectionLog(
  logger: Logger,
  now: () => number = Date.now,
  everyMs = 60_000,
): RejectionLog & { flush(): void } {
  const refused = coalescedLog(logger, 'http.rejected', now, everyMs, 'info');
  const failed = coalescedLog(logger, 'http.error', now, everyMs, 'error');
  const log: RejectionLog = (line) => {
    const key = `${line.status} ${line.code} ${line.route}${line.token === undefined ? '' : ` token=${line.token}`}`;
    (line.status >= 500 ? failed : refused).note(key, line);
  };
  // A stopping gateway writes the counts not yet logged before its log closes.
  return Object.assign(log, {
    flush: () => {
      refused.flush();
      failed.flush();
    },
  });
}

function callerName(c: Context): string | undefined {
  const caller = c.get('caller') as { name?: unknown } | undefined;
  return typeof caller?.name === 'string' ? caller.name : undefined;
}

/**
 * The app's `onError`. `log`: where its answers are logged (default: a {@link rejectionLog} of
 * `logger`; the served gateway shares one with its server's refusals).
 */
export function createErrorHandler(
  logger: Logger,
  onRejected: (r: Rejection) => void = () => undefined,
  log: RejectionLog = rejectionLog(logger),
): ErrorHandler {
  return (err, c: Context) => {
    const requestId = String(c.get('requestId') ?? '');
    const route = routeLabel(c);
    const token = callerName(c);
    const where = { request_id: requestId, route, ...(token === undefined ? {} : { token }) };
    if (err instanceof AapsError) {
      const status = statusOf(err);
      log({ ...where, code: err.code, status });
      // A bearer challenge where the token failed: not where a valid token came with a signature
      // that did not verify (a new token would not help), nor on GitHub's route (its credential is
      // an HMAC, not a token).
      if (status === 401 && token === undefined && route !== '/v1/webhooks/github')
        c.header('WWW-Authenticate', 'Bearer');
      onRejected({ method: methodLabel(c), route, status, code: err.code });
      const fields = err instanceof ValidationError ? err.fields : undefined;
      const message = status === 500 ? GENERIC : status >= 500 ? reported(err.message) : err.message;
      return c.json(errorBody(err.code, message, fields), status);
    }
    log({ ...where, code: 'INTERNAL', status: 500 });
    onRejected({ method: methodLabel(c), route, status: 500, code: 'INTERNAL' });
    return c.json(errorBody('INTERNAL', GENERIC), 500);
  };
}

/** A route pattern (`/v1/incidents/:id`) as a matcher of request paths. */
function pathMatcher(path: string): RegExp {
  const parts = path
    .split('/')
    .map((p) => (p.startsWith(':') ? '[^/]+' : p.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')));
  return new RegExp(`^${parts.join('/')}$`);
}

/**
 * The 404 of the gateway. `routes` (the app's, `app.routes`) let it say which methods a known path
 * allows: a wrong method on a real endpoint is `405 METHOD_NOT_ALLOWED` with an `Allow` header
 * and a message naming the methods (RFC 9110 §15.5.6); an unknown path is `404 NOT_FOUND`.
 */
export function createNotFound(
  routes: readonly { method: string; path: string }[] = [],
  onRejected: (r: Rejection) => void = () => undefined,
): NotFoundHandler {
  const table = new Map<string, { matcher: RegExp; methods: Set<string> }>();
  for (const r of routes) {
    if (r.method === 'ALL') continue;
    const row = table.get(r.path) ?? { matcher: pathMatcher(r.path), methods: new Set<string>() };
    row.methods.add(r.method.toUpperCase());
    if (r.method.toUpperCase() === 'GET') row.methods.add('HEAD');
    table.set(r.path, row);
  }
  return (c) => {
    const allowed = new Set<string>();
    let route = 'unmatched';
    for (const [path, row] of table) {
      if (!row.matcher.test(c.req.path)) continue;
      if (route === 'unmatched') route = openApiPath(path);
      for (const m of row.methods) allowed.add(m);
    }
    if (allowed.size === 0) {
      onRejected({ method: methodLabel(c), route, status: 404, code: 'NOT_FOUND' });
      return c.json(errorBody('NOT_FOUND', 'no such endpoint'), 404);
    }
    // A known path, another method: 405 with the methods it allows (RFC 9110 §15.5.6).
    onRejected({ method: methodLabel(c), route, status: 405, code: 'METHOD_NOT_ALLOWED' });
    const list = [...allowed].sort().join(', ');
    c.header('Allow', list);
    return c.json(
      errorBody('METHOD_NOT_ALLOWED', `no ${methodLabel(c)} on this endpoint: it allows ${list}`),
      405,
    );
  };
}

export const notFound: NotFoundHandler = createNotFound();
