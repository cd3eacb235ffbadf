/**
 * The request a human approver signs to have sealed fields opened (`POST /v1/evidence/:id/unseal`,
 * `aaps unseal`). Each party checks it (signature under the approver's roster key, time window,
 * the fields belong to the incident) and then applies its own policy before it releases its share,
 * re-sealed to the X25519 key derived from that same roster key, so whoever relays the request
 * cannot redirect the shares. Pure: keys and `now` come in as arguments.
 *
 * Signature: `ed25519:<base64>` over the RFC 8785 bytes of
 * `{"domain": "aaps.unseal-request.v1", "request": <the request without signature>}`.
 */
import { sha256 } from '@noble/hashes/sha2.js';
import { assertBytes, base64Decode, base64Encode, bytesToHex, concatBytes } from '../bytes.js';
import { displayValue } from '../codec.js';
import { canonicalBytes } from '../envelope/canonical.js';
import { signBytes } from '../envelope/sign.js';
import { ValidationError, VerificationError } from '../errors.js';
import { assertArray, assertObject, assertSecret, assertString } from '../guards.js';
import type { SealedBox } from '../seal.js';
import type { SecretBytes } from '../secret.js';
import { verifyEd25519 } from '../suite/ed25519.js';
import { checkBox, type SealedField } from './seal-field.js';

export const UNSEAL_REQUEST_DOMAIN = 'aaps.unseal-request.v1';
const SIG_PREFIX = 'ed25519:';
/** Longest validity a request may claim (`expires_at - issued_at`). */
export const MAX_UNSEAL_REQUEST_TTL_MS = 60 * 60 * 1000;
/** Most sealed fields one request may name (`fields`: 1 to this many, no repeats). */
export const MAX_UNSEAL_FIELDS = 1024;

export interface UnsealRequest {
  /** Random, unique: parties refuse a request id they have seen. */
  readonly request_id: string;
  readonly incident_id: string;
  readonly evidence_id: string;
  /** Sealed field ids (`{"$sealed": id}` markers) to open. */
  readonly fields: readonly string[];
  /** The approver's id in the roster's `approvers`. */
  readonly requester: string;
  /** Why: recorded with the request in the evidence log. */
  readonly reason: string;
  readonly issued_at: string;
  readonly expires_at: string;
  /** `ed25519:<base64>`. */
  readonly signature: string;
}

const ID = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$/;
const TIME = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d{1,9})?Z$/;
const KEYS = [
  'request_id',
  'incident_id',
  'evidence_id',
  'fields',
  'requester',
  'reason',
  'issued_at',
  'expires_at',
  'signature',
] as const;

export function unsealRequestSigningBytes(
  req: Omit<UnsealRequest, 'signature'> & { signature?: string },
): Uint8Array {
  assertObject(req, 'request');
  const { signature: _signature, ...unsigned } = req;
  return canonicalBytes({ domain: UNSEAL_REQUEST_DOMAIN, request: unsigned });
}

/** Sign a request with the approver's Ed25519 identity key. */
export function signUnsealRequest(
  req: Omit<UnsealRequest, 'signature'>,
  identitySecretKey: SecretBytes,
): UnsealRequest {
  assertObject(req, 'request');
  assertSecret(identitySecretKey, 'identitySecretKey');
  const unsigned = parseUnsealRequest({ ...req, signature: SIG_PREFIX });
  const { signature: _s, ...body } = unsigned;
  const sig = signBytes(identitySecretKey, unsealRequestSigningBytes(body));
  return Object.freeze({ ...body, signature: `${SIG_PREFIX}${base64Encode(sig)}` });
}

/** Strict shape check, every bad field named. */
export function parseUnsealRequest(json: unknown): UnsealRequest {
  const bad: string[] = [];
  if (typeof json !== 'object' || json === null || Array.isArray(json))
    throw new ValidationError('INVALID_ARGUMENT', 'unseal request: expected an object', ['$']);
  const o = json as Record<string, unknown>;
  for (const k of Object.keys(o)) if (!(KEYS as readonly string[]).includes(k)) bad.push(k);
  for (const k of ['request_id', 'incident_id', 'evidence_id', 'requester'] as const)
    if (typeof o[k] !== 'string' || !ID.test(o[k] as string)) bad.push(k);
  if (
    !Array.isArray(o.fields) ||
    o.fields.length === 0 ||
    o.fields.length > MAX_UNSEAL_FIELDS ||
    !o.fields.every((f) => typeof f === 'string' && ID.test(f)) ||
    new Set(o.fields).size !== o.fields.length
  )
    bad.push('fields');
  if (typeof o.reason !== 'string' || o.reason.trim() === '' || o.reason.length > 1024) bad.push('reason');
  for (const k of ['issued_at', 'expires_at'] as const)
    if (typeof o[k] !== 'string' || !TIME.test(o[k] as string) || Number.isNaN(Date.parse(o[k] as string)))
      bad.push(k);
  if (typeof o.signature !== 'string' || !o.signature.startsWith(SIG_PREFIX)) bad.push('signature');
  if (bad.length) throw new ValidationError('INVALID_ARGUMENT', `unseal request: bad ${bad.join(', ')}`, bad);
  return Object.freeze({
    ...(o as unknown as UnsealRequest),
    fields: Object.freeze([...(o.fields as string[])]),
  });
}

/**
 * Check a request against the requester's roster key at time `now`: `VerificationError` with
 * check `unseal-request.signature`, `unseal-request.expired` (outside [issued_at - skew,
 * expires_at], valid for longer than {@link MAX_UNSEAL_REQUEST_TTL_MS}, or an `issued_at` or
 * `expires_at` that does not parse to a time).
 */
export function verifyUnsealRequest(
  req: UnsealRequest,
  requesterIdentityKey: Uint8Array,
  now: Date,
  skewMs = 5 * 60 * 1000,
): void {
  assertObject(req, 'request');
  assertString(req.signature, 'request.signature');
  assertBytes(requesterIdentityKey, 'requesterIdentityKey');
  if (!(now instanceof Date) || Number.isNaN(now.getTime())) {
    throw new ValidationError('INVALID_ARGUMENT', 'now: expected a valid Date', ['now']);
  }
  if (typeof skewMs !== 'number' || !(skewMs >= 0)) {
    throw new ValidationError('INVALID_ARGUMENT', 'skewMs: expected a non-negative number', ['skewMs']);
  }
  // One spelling per signature: the exact prefix, then base64 (a respelled prefix over the same
  // bytes is not the signature the approver made). A request that holds what canonical JSON cannot
  // carry cannot have been signed either.
  let sig: Uint8Array | undefined;
  let signed: Uint8Array | undefined;
  try {
    if (req.signature.startsWith(SIG_PREFIX))
      sig = base64Decode(req.signature.slice(SIG_PREFIX.length), 'signature');
    signed = unsealRequestSigningBytes(req);
  } catch (cause) {
    if (!(cause instanceof ValidationError)) throw cause;
  }
  if (!sig || !signed || !verifyEd25519(requesterIdentityKey, signed, sig))
    throw new VerificationError(
      'unseal-request.signature',
      `unseal request ${displayValue(req.request_id)} is not signed by ${displayValue(req.requester)}'s roster key`,
      { code: 'INVALID_SIGNATURE' },
    );
  // A time that does not parse is NaN, and every comparison with NaN is false: without the
  // finiteness check a signed request with no usable window would be valid at any time.
  const issued = typeof req.issued_at === 'string' ? Date.parse(req.issued_at) : Number.NaN;
  const expires = typeof req.expires_at === 'string' ? Date.parse(req.expires_at) : Number.NaN;
  const t = now.getTime();
  if (
    !Number.isFinite(issued) ||
    !Number.isFinite(expires) ||
    expires <= issued ||
    expires - issued > MAX_UNSEAL_REQUEST_TTL_MS ||
    t < issued - skewMs ||
    t > expires
  )
    throw new VerificationError(
      'unseal-request.expired',
      `unseal request ${displayValue(req.request_id)} is not valid at ${now.toISOString()}`,
      { code: 'STALE_REQUEST' },
    );
}

/**
 * The fields sent with a request must be exactly fields it names, each of its incident, none
 * twice. `ValidationError` naming each bad `fields[i]`.
 */
export function checkUnsealFields(req: UnsealRequest, fields: readonly SealedField[]): void {
  assertObject(req, 'request');
  assertArray(req.fields, 'request.fields');
  assertArray(fields, 'fields');
  fields.forEach((f, i) => {
    assertObject(f, `fields[${i}]`);
  });
  const bad: string[] = [];
  const seen = new Set<string>();
  fields.forEach((f, i) => {
    if (f.incidentId !== req.incident_id || !req.fields.includes(f.id) || seen.has(f.id))
      bad.push(`fields[${i}]`);
    seen.add(f.id);
  });
  if (bad.length)
    throw new ValidationError(
      'INVALID_ARGUMENT',
      `sealed fields ${bad.join(', ')} are not fields of incident ${displayValue(req.incident_id)} named by request ${displayValue(req.request_id)}`,
      bad,
    );
}

/** Evidence-log record of an unseal request, appended before any party is asked. */
export interface UnsealRequestedRecord {
  readonly type: 'UnsealRequested';
  readonly request: UnsealRequest;
}

/** Evidence-log record of one party's answer for one field. No share, no box contents. */
export interface UnsealReleaseRecord {
  readonly type: 'UnsealRelease';
  readonly request_id: string;
  readonly incident_id: string;
  readonly party: string;
  readonly field: string;
  readonly decision: 'released' | 'refused' | 'unavailable';
  readonly rule?: string;
  /** SHA-256 of `ephemeralPublicKey || nonce || ciphertext` of the released box. */
  readonly box_sha256?: string;
  /**
   * The party's signature on the release (hex, 64 bytes; `releaseSignatureBytes` with this
   * `box_sha256` and the field's share commitment for this party, from the evidence bundle): the
   * log shows what each party itself released.
   */
  readonly release_signature?: string;
}

export function sealedBoxDigest(box: SealedBox): string {
  checkBox(box);
  return bytesToHex(sha256(concatBytes(box.ephemeralPublicKey, box.nonce, box.ciphertext)));
}

export function unsealReleaseRecord(args: {
  request: UnsealRequest;
  party: string;
  field: string;
  decision: UnsealReleaseRecord['decision'];
  rule?: string;
  box?: SealedBox;
  /** The party's signature on its release of `box`. */
  signature?: Uint8Array;
}): UnsealReleaseRecord {
  assertObject(args, 'args');
  assertObject(args.request, 'args.request');
  assertString(args.party, 'args.party');
  assertString(args.field, 'args.field');
  if (!['released', 'refused', 'unavailable'].includes(args.decision)) {
    throw new ValidationError(
      'INVALID_ARGUMENT',
      'args.decision: expected released, refused or unavailable',
      ['args.decision'],
    );
  }
  if (args.rule !== undefined) assertString(args.rule, 'args.rule');
  if (args.box !== undefined) checkBox(args.box, 'args.box');
  if (args.signature !== undefined && (args.box === undefined || args.signature.length !== 64))
    throw new ValidationError('INVALID_ARGUMENT', 'args.signature: 64 bytes, with the box it signs', [
      'args.signature',
    ]);
  return Object.freeze({
    type: 'UnsealRelease',
    request_id: args.request.request_id,
    incident_id: args.request.incident_id,
    party: args.party,
    field: args.field,
    decision: args.decision,
    ...(args.rule !== undefined ? { rule: args.rule } : {}),
    ...(args.box !== undefined ? { box_sha256: sealedBoxDigest(args.box) } : {}),
    ...(args.signature !== undefined ? { release_signature: bytesToHex(args.signature) } : {}),
  });
}
