/**
 * The call header: how a party knows a request comes from its coordinator before it reads a byte
 * of the body. Every protocol call carries `AAPS-Call: v2.<timestamp ms>.<id>.<length>.<tag>`,
 * where `tag` is HMAC-SHA256 (base64url) over {@link callSigningBytes} (a domain tag, the party
 * addressed, the method and path, the timestamp, a random id and the body's length in bytes) under
 * the pair's call key: HKDF-SHA256 of the static X25519 secret between the coordinator's and the
 * party's identity keys (their Ed25519 keys mapped to X25519, as sealing does), so only those two
 * can make a tag and a peer party cannot pass for the coordinator. The party checks it (the
 * coordinator's tag, within the timestamp window, its length within the route's cap) and only then
 * reads exactly that many bytes; a stranger's request is refused from its headers, so it never
 * holds any of the party's body budget nor has its body parsed. The header does not authenticate
 * the body: the signed `ProtocolRequest` envelope inside it still does, as before, so the header
 * needs no signature anyone else could check, and a MAC costs a few microseconds where an Ed25519
 * signature and its verification cost about 250. The length is in the header (not taken from
 * `Content-Length`) because a transport may send the body chunked or in process; a
 * `Content-Length` that differs from it is refused.
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { type IdentityKey, utf8 } from '@aaps/mpc-core';
import { staticPairKey } from './party/identity-x25519.js';

/** The header's name (HTTP header names are case-insensitive). */
export const CALL_HEADER = 'aaps-call';

const VERSION = 'v2';
const DOMAIN = 'aaps-call/v2';
const KEY_INFO = utf8('AAPS-QUORUM-v1 call-header x25519-hkdf-sha256 hmac-sha256');
const ID = /^[0-9a-f]{16,64}$/;
const DIGITS = /^(0|[1-9][0-9]{0,15})$/;
const TAG = /^[A-Za-z0-9_-]{43}$/;

/**
 * The call key of a coordinator and a party: HKDF-SHA256 (salt `<coordinator id>|<party id>`) of
 * X25519 between `mine` (either side's identity key) and `theirs` (the other's identity key, hex).
 * Both sides get the same key; callers cache it (one Diffie-Hellman per pair).
 */
export function callKey(
  mine: IdentityKey,
  theirs: string,
  pair: { coordinator: string; party: string },
): Uint8Array {
  return staticPairKey(mine, theirs, utf8(`${pair.coordinator}|${pair.party}`), KEY_INFO);
}

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

/** The tag of `facts` under `key` (HMAC-SHA256, base64url). */
function tagOf(key: Uint8Array, facts: CallFacts): Buffer {
  return createHmac('sha256', key).update(callSigningBytes(facts)).digest();
}

/** The `AAPS-Call` header value for a call of `length` body bytes to `party` at `path`, under the pair's {@link callKey}. */
export function signCall(
  key: Uint8Array,
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
  return `${VERSION}.${facts.at}.${facts.id}.${facts.length}.${tagOf(key, facts).toString('base64url')}`;
}

/** Headers for a JSON call with `body` to `party` at `path`, under the pair's {@link callKey}. */
export function callHeaders(
  key: Uint8Array,
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

/** The coordinator's side of the call header: headers for any party of `parties`, keys cached. */
export interface CallSigner {
  /** `AAPS-Call` (and the JSON content type) for a call with `body` to `party` at `path`. */
  headers(party: string, path: string, body: string, now?: Date): Record<string, string>;
  /** The header value alone, for a call of `length` body bytes. */
  sign(party: string, call: { method?: string; path: string; length: number }, now?: Date): string;
}

/** A {@link CallSigner} for `caller` (the roster's coordinator) calling roster parties. */
export function callSigner(
  caller: { id: string; key: IdentityKey },
  parties: readonly { id: string; identity_key: string }[],
): CallSigner {
  const keys = new Map<string, Uint8Array>();
  const keyOf = (party: string): Uint8Array => {
    let key = keys.get(party);
    if (key === undefined) {
      const p = parties.find((x) => x.id === party);
      if (p === undefined) throw new Error(`call header: ${party} is not a roster party`);
      key = callKey(caller.key, p.identity_key, { coordinator: caller.id, party });
      keys.set(party, key);
    }
    return key;
  };
  return {
    headers: (party, path, body, now) => callHeaders(keyOf(party), party, path, body, now),
    sign: (party, call, now) => signCall(keyOf(party), { party, ...call }, now),
  };
}

/** Why a call header was refused. */
export type CallRefusal = 'call_missing' | 'call_malformed' | 'call_stale' | 'call_tag';

export type CallCheck = { ok: true; length: number } | { ok: false; reason: CallRefusal; message: string };

/**
 * Check a call header: well formed, its timestamp within `windowMs` of `now`, and tagged under the
 * pair's call `key` for this party, method and path. Returns the length the tag covers.
 */
export function checkCall(
  header: string | undefined,
  expect: { party: string; method: string; path: string; key: Uint8Array; now: number; windowMs: number },
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
    !TAG.test(sig ?? '')
  )
    return {
      ok: false,
      reason: 'call_malformed',
      message: `the ${CALL_HEADER} header is not ${VERSION}.<timestamp ms>.<hex id>.<length>.<base64url HMAC-SHA256 tag>`,
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
  const given = Buffer.from(sig as string, 'base64url');
  if (given.length !== 32 || !timingSafeEqual(given, tagOf(expect.key, facts)))
    return {
      ok: false,
      reason: 'call_tag',
      message: `the ${CALL_HEADER} tag does not verify (not the coordinator's, or for another party or path)`,
    };
  return { ok: true, length: facts.length };
}
