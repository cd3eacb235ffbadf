/**
 * Authenticates every protocol request before any route runs: an identity-coded UTF-8 JSON body
 * (else 415) within the size limit, a
 * well-formed `ProtocolRequest` envelope addressed to this party, signed by the roster's
 * coordinator (the gateway; another roster party is refused, 403), within the timestamp window,
 * with an idempotency key never seen before. Anything else is refused
 * with 4xx, logged with the reason, and changes nothing.
 */
import {
  AapsError,
  type SignedEnvelope,
  ValidationError,
  validateEnvelope,
  verifyEnvelope,
} from '@aaps/mpc-core';
import { createMiddleware } from 'hono/factory';
import { type BodyBudget, bodyReadError, readBodyCapped } from '../http-body.js';
import { unsupportedMediaType } from '../media-type.js';
import { principalKey } from '../roster.js';
import type { RpcKind, RpcRequestPayload } from '../rpc.js';
import type { Env, PartyDeps, PartyMetrics } from './context.js';

/**
 * `maxBodyBytes`: this route's body limit (default: the config's `max_body_bytes`); `budget`: the
 * bytes all requests' bodies may hold at once (shared by the party's routes), past which a request
 * is refused as `UNAVAILABLE` (503) rather than read.
 */
export function authenticate(
  deps: PartyDeps,
  metrics: PartyMetrics,
  kind: RpcKind,
  maxBodyBytes = deps.config.maxBodyBytes,
  budget?: BodyBudget,
) {
  const windowMs = deps.config.timestampWindowSec * 1000;
  const now = deps.now ?? (() => new Date());
  return createMiddleware<Env>(async (c, next) => {
    const reject = (reason: string, e: AapsError): never => {
      metrics.rejected.inc({ reason });
      deps.logger.warn('request.rejected', { reason, kind, code: e.code });
      throw e;
    };
    const problem = unsupportedMediaType(
      c.req.header('content-type') ?? '',
      c.req.header('content-encoding'),
    );
    if (problem !== undefined) {
      // RFC 9110 §12.5.3: a 415 for a content coding says which codings are accepted.
      if (problem.label === 'coding') c.header('Accept-Encoding', 'identity');
      reject(`content_${problem.label}`, new AapsError('UNSUPPORTED_MEDIA_TYPE', problem.message));
    }
    const read = await readBodyCapped(c.req.raw, maxBodyBytes, budget);
    if (!read.ok) return reject(read.reason, bodyReadError(read.reason, maxBodyBytes));
    // The body's bytes count against the budget until the request is done.
    try {
      const raw = read.body;
      let json: unknown;
      try {
        json = JSON.parse(new TextDecoder().decode(raw));
      } catch {
        reject('bad_json', new ValidationError('DECODE_FAILED', 'body is not valid JSON', ['$']));
      }
      let env: SignedEnvelope<RpcRequestPayload>;
      try {
        env = validateEnvelope(json) as unknown as SignedEnvelope<RpcRequestPayload>;
      } catch (e) {
        return reject('bad_envelope', e as AapsError);
      }
      if (env.meta.message_type !== 'ProtocolRequest') {
        reject(
          'bad_type',
          new ValidationError('INVALID_ARGUMENT', 'expected a ProtocolRequest envelope', [
            'meta.message_type',
          ]),
        );
      }
      if (!env.meta.signature)
        reject('unsigned', new AapsError('UNAUTHENTICATED', 'request envelope is not signed'));
      const key = principalKey(deps.roster, env.meta.source_agent);
      if (!key)
        reject(
          'unknown_sender',
          new AapsError('UNAUTHENTICATED', `sender ${env.meta.source_agent} is not in the roster`),
        );
      try {
        verifyEnvelope(env, key!);
      } catch {
        reject('bad_signature', new AapsError('UNAUTHENTICATED', 'request signature does not verify'));
      }
      // Only the coordinator calls a party. Parties never call each other: what passes between
      // them travels sealed through the coordinator, and a party that could drive another's key
      // ceremonies (repair, DKG with replace) or signings would need no coordinator to attack it.
      if (env.meta.source_agent !== deps.roster.gateway.id) {
        reject(
          'not_coordinator',
          new AapsError(
            'FORBIDDEN',
            `only the coordinator (${deps.roster.gateway.id}) may call a party, not ${env.meta.source_agent}`,
          ),
        );
      }
      if (env.meta.target_agent !== deps.self.id) {
        reject(
          'wrong_target',
          new AapsError('FORBIDDEN', `request is addressed to ${env.meta.target_agent}, not ${deps.self.id}`),
        );
      }
      const at = Date.parse(env.meta.timestamp);
      const t = now().getTime();
      if (!Number.isFinite(at) || Math.abs(t - at) > windowMs) {
        reject(
          'stale',
          new AapsError(
            'STALE_REQUEST',
            `request timestamp is outside the ${deps.config.timestampWindowSec}s window`,
          ),
        );
      }
      const p = env.payload as Partial<RpcRequestPayload>;
      if (p?.kind !== kind || typeof p.session_id !== 'string' || !p.body || typeof p.body !== 'object') {
        reject(
          'bad_payload',
          new ValidationError('INVALID_ARGUMENT', `expected payload {kind: "${kind}", session_id, body}`, [
            'payload',
          ]),
        );
      }
      const fresh = await deps.store.rememberRequest(
        `${env.meta.source_agent}/${env.meta.idempotency_key}`,
        new Date(t),
        new Date(t + 2 * windowMs),
      );
      if (!fresh)
        reject(
          'replay',
          new AapsError('REPLAYED_REQUEST', 'this request (idempotency key) was already processed'),
        );
      c.set('request', env);
      await next();
    } finally {
      read.release();
    }
  });
}
