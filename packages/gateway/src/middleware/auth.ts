/**
 * Bearer-token authentication with scopes. Tokens are compared as SHA-256 digests in constant
 * time; `admin` implies every scope. 401 without a valid token, 403 outside its scopes.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { AapsError, ValidationError } from '@aaps/mpc-core';
import type { MiddlewareHandler } from 'hono';
import { type Caller, type GatewayEnv, SCOPES, type Scope } from '../http-env.js';

export interface TokenGrant {
  /** A name for logs; the token itself is never logged. */
  name: string;
  token: string;
  scopes: readonly Scope[];
}

const digest = (s: string) => createHash('sha256').update(s, 'utf8').digest();

/** Checks the grants once, at startup, and returns the authenticator. */
export function createTokenAuth(grants: readonly TokenGrant[]): (header: string | undefined) => Caller {
  const bad = grants.flatMap((g, i) => [
    ...(g.token.length < 16 ? [`tokens[${i}].token`] : []),
    ...(g.scopes.length === 0 || g.scopes.some((s) => !SCOPES.includes(s)) ? [`tokens[${i}].scopes`] : []),
    // One token, two grants: which name and scopes a caller gets would depend on the table's order.
    ...(grants.findIndex((o) => o.token === g.token) !== i ? [`tokens[${i}].token`] : []),
    ...(grants.findIndex((o) => o.name === g.name) !== i ? [`tokens[${i}].name`] : []),
  ]);
  if (bad.length > 0) {
    throw new ValidationError('INVALID_ARGUMENT', `bad token configuration: ${bad.join(', ')}`, bad);
  }
  const table = grants.map((g) => ({ name: g.name, scopes: g.scopes, digest: digest(g.token) }));
  return (header) => {
    const m = header === undefined ? null : /^Bearer ([\x21-\x7e]{1,512})$/i.exec(header);
    if (m === null) throw new AapsError('UNAUTHENTICATED', 'a bearer token is required');
    const given = digest(m[1] ?? '');
    let found: (typeof table)[number] | undefined;
    for (const row of table) if (timingSafeEqual(row.digest, given)) found = row;
    if (found === undefined) throw new AapsError('UNAUTHENTICATED', 'the bearer token is not valid');
    return { name: found.name, scopes: found.scopes };
  };
}

/**
 * Requires a valid token holding `scope` (or `admin`). The caller (the token's name, never the
 * token) is set before the scope check, so a 403 is logged and counted under the token's name.
 */
export function requireScope(
  authenticate: (header: string | undefined) => Caller,
  scope: Scope,
): MiddlewareHandler<GatewayEnv> {
  return async (c, next) => {
    const caller = authenticate(c.req.header('authorization'));
    c.set('caller', caller);
    if (!caller.scopes.includes(scope) && !caller.scopes.includes('admin')) {
      throw new AapsError('FORBIDDEN', `this token lacks the ${scope} scope`);
    }
    await next();
  };
}
