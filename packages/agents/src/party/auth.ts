/**
 * Authenticates every protocol request before any route runs. First, from its headers alone,
 * before a byte of the body is read: an `AAPS-Call` header signed by the roster's coordinator for
 * this party and path, within the timestamp window, declaring a body length within the route's
 * limit (`call-auth.ts`; else 401, or 413 for a length over the limit). So a stranger holds none of
 * the body budget and has nothing parsed. Then: an identity-coded UTF-8 JSON body (else 415) of
 * exactly the declared length, with no key given twice in one object (400 `DECODE_FAILED`), a
 * well-formed `ProtocolRequest` envelope addressed to this party, signed by the roster's
 * coordinator (the gateway; another roster party is refused, 403), within the timestamp window,
 * with an idempotency key never seen before. Anything else is refused
 * with 4xx, counted by reason, logged (coalesced per reason: `rejection-log.ts`), and changes
 * nothing.
 */
import { parseJsonRefusingRepeats } from '@aaps/evidence';
import {
  AapsError,
  type SignedEnvelope,
  ValidationError,
  validateEnvelope,
  verifyEnvelope,
} from '@aaps/mpc-core';
import { createMiddleware } from 'hono/factory';
import { CALL_HEADER, callKey, checkCall } from '../call-auth.js';
import { type BodyBudget, bodyReadError, readBodyCapped } from '../http-body.js';
import { unsupportedMediaType } from '../media-type.js';
import { principalKey } from '../roster.js';
import type { RpcKind, RpcRequestPayload } from '../rpc.js';
import type { Env, PartyDeps, PartyMetrics } from './context.js';
import { type RejectionLog, rejectionLog } from './rejection-log.js';

const callKeys = new WeakMap<PartyDeps, Uint8Array>();

/** This party's call key with its coordinator (one Diffie-Hellman per party, not per route). */
function partyCallKey(deps: PartyDeps): Uint8Array {
  let key = callKeys.get(deps);
  if (key === undefined) {
    key = callKey(deps.identity, deps.roster.gateway.identity_key, {
      coordinator: deps.roster.gateway.id,
      party: deps.self.id,
    });
    callKeys.set(deps, key);
  }
  return key;
}

/**
 * `maxBodyBytes`: this route's body limit (default: the config's `max_body_bytes`); `budget`: the
 * bytes all requests' bodies may hold at once (shared by the party's routes), past which a request
 * is refused as `UNAVAILABLE` (503) rather than read; `rejections`: where refusals are logged
 * (shared by the party's routes, so its coalescing is per party).
 */
export function authenticate(
  deps: PartyDeps,
  metrics: PartyMetrics,
  kind: RpcKind,
  maxBodyBytes = deps.config.maxBodyBytes,
  budget?: BodyBudget,
  rejections: RejectionLog = rejectionLog(deps.logger),
) {
  const windowMs = deps.config.timestampWindowSec * 1000;
  const now = deps.now ?? (() => new Date());
  const key = partyCallKey(deps);
  return createMiddleware<Env>(async (c, next) => {
    const reject = (reason: string, e: AapsError): never => {
      metrics.rejected.inc({ reason });
      rejections.rejected(reason, { kind, code: e.code });
      throw e;
    };
    // Who is calling, from the headers alone: nothing of the body is read for a stranger.
    const call = checkCall(c.req.header(CALL_HEADER), {
      party: deps.self.id,
      method: c.req.method,
      path: c.req.path,
      key,
      now: now().getTime(),
      windowMs,
    });
    if (!call.ok) return reject(call.reason, new AapsError('UNAUTHENTICATED', call.message));
    if (call.length > maxBodyBytes)
      reject('too_large', new AapsError('PAYLOAD_TOO_LARGE', `the body is over ${maxBodyBytes} bytes`));
    const sent = c.req.header('content-length');
    if (sent !== undefined && sent !== String(call.length))
      reject(
        'call_length',
        new AapsError(
          'UNAUTHENTICATED',
          `Content-Length ${sent} is not the body length the ${CALL_HEADER} header signs (${call.length})`,
        ),
      );
    const problem = unsupportedMediaType(
      c.req.header('content-type') ?? '',
      c.req.header('content-encoding'),
    );
    if (problem !== undefined) {
      // RFC 9110 §12.5.3: a 415 for a content coding says which codings are accepted.
      if (problem.label === 'coding') c.header('Accept-Encoding', 'identity');
      reject(`content_${problem.label}`, new AapsError('UNSUPPORTED_MEDIA_TYPE', problem.message));
    }
    // Exactly the signed length: more is refused as it arrives, less once the body ends.
    const read = await readBodyCapped(c.req.raw, call.length, budget);
    if (!read.ok) return reject(read.reason, bodyReadError(read.reason, call.length));
    if (read.body.length !== call.length) {
      read.release();
      reject(
        'call_length',
        new AapsError(
          'UNAUTHENTICATED',
          `the body is ${read.body.length} bytes, not the ${call.length} the ${CALL_HEADER} header signs`,
        ),
      );
    }
    // The body's bytes count against the budget until the request is done.
    try {
      const raw = read.body;
      const body = parseJsonRefusingRepeats(new TextDecoder().decode(raw));
      if ('notJson' in body)
        return reject('bad_json', new ValidationError('DECODE_FAILED', 'body is not valid JSON', ['$']));
      // A key given twice: JSON.parse kept the last, another reader of the same signed bytes
      // would keep the first. Refused before the signature is checked or the key remembered.
      if ('repeated' in body)
        return reject(
          'duplicate_key',
          new ValidationError('DECODE_FAILED', `body: ${body.repeated.problem}`, [body.repeated.shown]),
        );
      let env: SignedEnvelope<RpcRequestPayload>;
      try {
        env = validateEnvelope(body.value) as unknown as SignedEnvelope<RpcRequestPayload>;
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
