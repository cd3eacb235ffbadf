/**
 * The call header: how a party knows a request comes from its coordinator before it reads a byte
 * of the body. Every protocol call carries `AAPS-Call: v1.<timestamp ms>.<id>.<length>.<sig>`,
 * where `sig` is the coordinator's Ed25519 identity signature (base64url) over
 * {@link callSigningBytes}: a domain tag, the party addressed, the method and path, the timestamp,
 * a random id and the body's length in bytes. The party checks it (signed by the roster's gateway,
 * within the timestamp window, its length within the route's cap) and only then reads exactly that
 * many bytes; a stranger's request is refused from its headers, so it never holds any of the
 * party's body budget nor has its body parsed. The header does not authenticate the body: the
 * signed `ProtocolRequest` envelope inside it still does, as before. The length is in the header
 * (not taken from `Content-Length`) because a transport may send the body chunked or in process;
 * a `Content-Length` that differs from it is refused.
 */
import { randomBytes } from 'node:crypto';
import { type IdentityKey, signBytes, verifyEd25519 } from '@aaps/mpc-core';

/** The header's name (HTTP header names are case-insensitive). */
export const CALL_HEADER = 'aaps-call';

const VERSION = 'v1';
const DOMAIN = 'aaps-call/v1';
const ID = /^[0-9a-f]{16,64}$/;
const DIGITS = /^(0|[1-9][0-9]{0,15})$/;
const SIG = /^[A-Za-z0-9_-]{86}$/;

/** What one call header signs. */
export interface CallFacts {
  /** The party the call is addressed to. */
  party: string;
  method: string;
  /** The request's path, e.g. `/v1/sign/commit`. */
  path: string;
  /** Milliseconds since the epoch (the caller's clock). */
  at: number;
  /** A random id, lower-case hex. */
  id: string;
  /** The body's length in bytes. */
  length: number;
}

/** The bytes a call header's signature covers: the domain tag and each fact on its own line. */
export function callSigningBytes(f: CallFacts): Uint8Array {
  return new TextEncoder().encode(
    `${DOMAIN}\n${f.party}\n${f.method.toUpperCase()} ${f.path}\n${f.at}\n${f.id}\n${f.length}`,
  );
}

/** The `AAPS-Call` header value for a call of `length` body bytes to `party` at `path`. */
export function signCall(
  key: IdentityKey,
  call: { party: string; method?: string; path: string; length: number },
  now: Date = new Date(),
): string {
  const facts: CallFacts = {
    party: call.party,
    method: call.method ?? 'POST',
    path: call.path,
    at: now.getTime(),
    id: randomBytes(16).toString('hex'),
    length: call.length,
  };
  const sig = Buffer.from(signBytes(key.secretKey, callSigningBytes(facts))).toString('base64url');
  return `${VERSION}.${facts.at}.${facts.id}.${facts.length}.${sig}`;
}

/** Headers for a JSON call with `body` to `party` at `path` (tests and tools posting by hand). */
export function callHeaders(
  key: IdentityKey,
  party: string,
  path: string,
  body: string,
  now: Date = new Date(),
): Record<string, string> {
  return {
    'content-type': 'application/json',
    [CALL_HEADER]: signCall(key, { party, path, length: Buffer.byteLength(body) }, now),
  };
}

/** Why a call header was refused. */
export type CallRefusal = 'call_missing' | 'call_malformed' | 'call_stale' | 'call_signature';

export type CallCheck = { ok: true; length: number } | { ok: false; reason: CallRefusal; message: string };

/**
 * Check a call header: well formed, its timestamp within `windowMs` of `now`, and signed by
 * `signer` for this party, method and path. Cheap checks first (a stranger's garbage costs no
 * signature verification unless it is fresh and well formed). Returns the signed body length.
 */
export function checkCall(
  header: string | undefined,
  expect: { party: string; method: string; path: string; signer: Uint8Array; now: number; windowMs: number },
): CallCheck {
  if (header === undefined || header === '')
    return {
      ok: false,
      reason: 'call_missing',
      message: `no ${CALL_HEADER} header: only the coordinator calls a party, and it signs each call`,
    };
  const parts = header.split('.');
  const [version, at, id, length, sig] = parts;
  if (
    parts.length !== 5 ||
    version !== VERSION ||
    !DIGITS.test(at ?? '') ||
    !ID.test(id ?? '') ||
    !DIGITS.test(length ?? '') ||
    !SIG.test(sig ?? '')
  )
    return {
      ok: false,
      reason: 'call_malformed',
      message: `the ${CALL_HEADER} header is not ${VERSION}.<timestamp ms>.<hex id>.<length>.<base64url signature>`,
    };
  const facts: CallFacts = {
    party: expect.party,
    method: expect.method,
    path: expect.path,
    at: Number(at),
    id: id as string,
    length: Number(length),
  };
  if (!Number.isSafeInteger(facts.at) || Math.abs(expect.now - facts.at) > expect.windowMs)
    return {
      ok: false,
      reason: 'call_stale',
      message: `the ${CALL_HEADER} timestamp is outside the ${expect.windowMs / 1000}s window`,
    };
  const raw = new Uint8Array(Buffer.from(sig as string, 'base64url'));
  if (!verifyEd25519(expect.signer, callSigningBytes(facts), raw))
    return {
      ok: false,
      reason: 'call_signature',
      message: `the ${CALL_HEADER} signature does not verify (not the coordinator's, or for another party or path)`,
    };
  return { ok: true, length: facts.length };
}
