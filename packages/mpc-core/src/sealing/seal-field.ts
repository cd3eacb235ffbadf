/**
 * Sealed fields: a sensitive value moved out of an incident payload and encrypted so that only
 * k of the n parties together can open it.
 *
 * - The value's RFC 8785 bytes, prefixed by a fresh 32-byte salt, are encrypted with
 *   XChaCha20-Poly1305 under a fresh 32-byte data key (AAD: version, incident id, field id, path).
 * - The data key is split k-of-n with `shamir-secret-sharing`; each share is sealed (`seal()`:
 *   ephemeral X25519, HKDF-SHA256, XChaCha20-Poly1305) to one party's X25519 key with the
 *   incident id, field id, path and party id as AAD, and committed to by a hash so that a wrong
 *   share released later is named, not silently combined.
 * - `commitment = SHA-256(salt || value bytes)` stays in the clear: an evidence bundle verifies
 *   offline without the value, and whoever opens the field can check what they got.
 *
 * The redacted payload carries `{"$sealed": "<field id>"}` where each value was.
 */
import { xchacha20poly1305 } from '@noble/ciphers/chacha.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { split } from 'shamir-secret-sharing';
import { assertBytes, bytesToHex, concatBytes } from '../bytes.js';
import { canonicalBytes } from '../envelope/canonical.js';
import { ValidationError } from '../errors.js';
import { assertArray, assertObject, assertString } from '../guards.js';
import { type SealedBox, seal } from '../seal.js';
import { randomBytesOf, rngOrDefault } from '../suite/rng.js';
import type { Rng } from '../suite/types.js';
import {
  type Detection,
  type DetectionPolicy,
  detectSensitive,
  MAX_PAYLOAD_DEPTH,
  SEALED_MARKER,
  tooDeepError,
} from './detect.js';
import { getAtPointer, type JsonPointer, outermostPointers, parsePointer, setAtPointer } from './pointer.js';

export const SEALED_FIELD_VERSION = 1;
/** `shamir-secret-sharing` works over GF(2^8): at most 255 shares, at least 2 needed. */
export const MAX_SEALING_PARTIES = 255;

/** One party's share of a field's data key, sealed to that party. */
export interface SealedKeyShare {
  readonly party: string;
  /** SHA-256 over the share and its context (see {@link shareCommitment}). */
  readonly commitment: Uint8Array;
  readonly box: SealedBox;
}

export interface SealedField {
  readonly version: typeof SEALED_FIELD_VERSION;
  /** Random id; the redacted payload points here with `{"$sealed": id}`. */
  readonly id: string;
  readonly incidentId: string;
  readonly path: JsonPointer;
  /** k-of-n: `min` parties must release their shares; `max` = number of shares. */
  readonly threshold: { readonly min: number; readonly max: number };
  readonly nonce: Uint8Array;
  /** AEAD of `salt(32) || canonical JSON of the value` under the data key. */
  readonly ciphertext: Uint8Array;
  /** SHA-256(salt || canonical JSON of the value). */
  readonly commitment: Uint8Array;
  readonly shares: readonly SealedKeyShare[];
}

export interface SealingParty {
  readonly id: string;
  readonly x25519PublicKey: Uint8Array;
}

export interface SealOptions {
  readonly incidentId: string;
  readonly parties: readonly SealingParty[];
  /** How many parties must release their share (2 <= threshold <= parties.length). */
  readonly threshold: number;
  readonly rng?: Rng;
}

export interface SealedPayload {
  /** A deep copy of the payload with each sealed value replaced by `{"$sealed": id}`. */
  readonly payload: unknown;
  readonly fields: readonly SealedField[];
}

export const SALT_LENGTH = 32;
const ID = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$/;

// ---- associated data: canonical JSON, so no two contexts share bytes ----

type FieldHead = Pick<SealedField, 'version' | 'incidentId' | 'id' | 'path'>;

/** The fields of a sealed field that its associated data binds: present, and of their types. */
export function checkHead(f: FieldHead, field = 'field'): void {
  assertObject(f, field);
  if (typeof f.version !== 'number') {
    throw new ValidationError('INVALID_ARGUMENT', `${field}.version: expected a number`, [
      `${field}.version`,
    ]);
  }
  assertString(f.incidentId, `${field}.incidentId`);
  assertString(f.id, `${field}.id`);
  assertString(f.path, `${field}.path`);
}

/**
 * A sealed field's shape, as the functions that open or encode one read it (its contents are
 * checked by those functions, or by `SealedFieldCodec` when it comes off the wire).
 */
/** The share `field` holds for `party`, if any. */
export function shareOf(field: SealedField, party: string): SealedKeyShare | undefined {
  return field.shares.find((s) => s.party === party);
}

export function checkSealedField(f: SealedField, field = 'field'): void {
  checkHead(f, field);
  assertObject(f.threshold, `${field}.threshold`);
  if (!Number.isSafeInteger(f.threshold.min) || !Number.isSafeInteger(f.threshold.max)) {
    throw new ValidationError('INVALID_ARGUMENT', `${field}.threshold: expected integers min and max`, [
      `${field}.threshold`,
    ]);
  }
  for (const k of ['nonce', 'ciphertext', 'commitment'] as const) assertBytes(f[k], `${field}.${k}`);
  assertArray(f.shares, `${field}.shares`);
  f.shares.forEach((sh, i) => {
    const at = `${field}.shares[${i}]`;
    assertObject(sh, at);
    assertString(sh.party, `${at}.party`);
    assertBytes(sh.commitment, `${at}.commitment`);
    checkBox(sh.box, `${at}.box`);
  });
}

/** A sealed box's shape: three byte strings. */
export function checkBox(box: SealedBox, field = 'box'): void {
  assertObject(box, field);
  for (const k of ['ephemeralPublicKey', 'nonce', 'ciphertext'] as const)
    assertBytes(box[k], `${field}.${k}`);
}

export function fieldAad(f: FieldHead): Uint8Array {
  checkHead(f);
  return canonicalBytes({
    ctx: 'aaps.sealed-field.value',
    v: f.version,
    incident: f.incidentId,
    field: f.id,
    path: f.path,
  });
}

export function shareAad(f: FieldHead, party: string): Uint8Array {
  checkHead(f);
  assertString(party, 'party');
  return canonicalBytes({
    ctx: 'aaps.sealed-field.share',
    v: f.version,
    incident: f.incidentId,
    field: f.id,
    path: f.path,
    party,
  });
}

/** Binds a share to its field and party: SHA-256(context || share). */
export function shareCommitment(f: FieldHead, party: string, share: Uint8Array): Uint8Array {
  assertBytes(share, 'share');
  return sha256(concatBytes(shareAad(f, party), share));
}

export function valueCommitment(salt: Uint8Array, plaintext: Uint8Array): Uint8Array {
  assertBytes(salt, 'salt');
  assertBytes(plaintext, 'plaintext');
  return sha256(concatBytes(salt, plaintext));
}

function checkOptions(opts: SealOptions): void {
  assertObject(opts, 'opts');
  rngOrDefault(opts.rng, 'opts.rng');
  const bad: string[] = [];
  if (typeof opts.incidentId !== 'string' || !ID.test(opts.incidentId)) bad.push('incidentId');
  const ids = new Set<string>();
  if (!Array.isArray(opts.parties) || opts.parties.length < 2 || opts.parties.length > MAX_SEALING_PARTIES)
    bad.push('parties');
  else
    opts.parties.forEach((p, i) => {
      if (typeof p?.id !== 'string' || !ID.test(p.id) || ids.has(p.id)) bad.push(`parties[${i}].id`);
      ids.add(p?.id);
      if (!(p?.x25519PublicKey instanceof Uint8Array) || p.x25519PublicKey.length !== 32)
        bad.push(`parties[${i}].x25519PublicKey`);
    });
  const n = Array.isArray(opts.parties) ? opts.parties.length : 0;
  if (!Number.isSafeInteger(opts.threshold) || opts.threshold < 2 || opts.threshold > n)
    bad.push('threshold');
  if (bad.length)
    throw new ValidationError(
      bad.includes('threshold') && bad.length === 1 ? 'INVALID_THRESHOLD' : 'INVALID_ARGUMENT',
      `sealing options: bad ${bad.join(', ')} (ids: [A-Za-z0-9._:-], 2 <= threshold <= parties <= 255, 32-byte X25519 keys)`,
      bad,
    );
}

/** Seal one JSON value found at `path`. */
export async function sealValue(value: unknown, path: JsonPointer, opts: SealOptions): Promise<SealedField> {
  checkOptions(opts);
  parsePointer(path);
  const rng = rngOrDefault(opts.rng, 'opts.rng');
  const plaintext = canonicalBytes(value);
  const salt = randomBytesOf(rng, SALT_LENGTH);
  const dataKey = randomBytesOf(rng, 32);
  const head = {
    version: SEALED_FIELD_VERSION,
    incidentId: opts.incidentId,
    id: bytesToHex(randomBytesOf(rng, 16)),
    path,
  } as const;
  const nonce = randomBytesOf(rng, 24);
  const inner = concatBytes(salt, plaintext);
  const ciphertext = xchacha20poly1305(dataKey, nonce, fieldAad(head)).encrypt(inner);
  const commitment = valueCommitment(salt, plaintext);
  inner.fill(0);
  plaintext.fill(0);
  salt.fill(0);
  const raw = await split(dataKey, opts.parties.length, opts.threshold);
  dataKey.fill(0);
  const shares = opts.parties.map((p, i) => {
    const share = raw[i]!;
    const out: SealedKeyShare = {
      party: p.id,
      commitment: shareCommitment(head, p.id, share),
      box: seal(p.x25519PublicKey, share, shareAad(head, p.id), rng),
    };
    share.fill(0);
    return out;
  });
  return Object.freeze({
    ...head,
    threshold: { min: opts.threshold, max: opts.parties.length },
    nonce,
    ciphertext,
    commitment,
    shares: Object.freeze(shares),
  });
}

/**
 * Seal the values at `paths` (JSON pointers; an ancestor covers its descendants). Returns a
 * redacted deep copy of `payload` and one sealed field per outermost path. `payload` is not modified.
 */
export async function sealPayload(
  payload: unknown,
  paths: readonly JsonPointer[],
  opts: SealOptions,
): Promise<SealedPayload> {
  checkOptions(opts);
  assertArray(paths, 'paths');
  const missing: string[] = [];
  for (const p of paths) {
    if (parsePointer(p).length === 0) missing.push(p);
    else if (!getAtPointer(payload, p).found) missing.push(p);
  }
  if (missing.length)
    throw new ValidationError(
      'INVALID_ARGUMENT',
      `paths to seal: ${missing.map((p) => JSON.stringify(p)).join(', ')} name nothing (or the whole payload)`,
      missing,
    );
  const copy: unknown = JSON.parse(new TextDecoder().decode(canonicalBytes(payload)));
  const fields: SealedField[] = [];
  for (const path of outermostPointers(paths)) {
    const field = await sealValue(getAtPointer(copy, path).value, path, opts);
    setAtPointer(copy, path, { [SEALED_MARKER]: field.id });
    fields.push(field);
  }
  return Object.freeze({ payload: copy, fields: Object.freeze(fields) });
}

/**
 * Intake in one call: detect with `policy`, then seal what was found. `detections` (pointer and
 * detector per field, no values) is what may be logged.
 */
export async function detectAndSeal(
  payload: unknown,
  policy: DetectionPolicy,
  opts: SealOptions,
): Promise<SealedPayload & { readonly detections: readonly (Detection & { readonly id: string })[] }> {
  checkOptions(opts);
  const found = detectSensitive(payload, policy);
  if (found.length === 0) {
    const copy: unknown = JSON.parse(new TextDecoder().decode(canonicalBytes(payload)));
    return Object.freeze({ payload: copy, fields: Object.freeze([]), detections: Object.freeze([]) });
  }
  const sealed = await sealPayload(
    payload,
    found.map((d) => d.path),
    opts,
  );
  const idOf = new Map(sealed.fields.map((f) => [f.path, f.id]));
  return Object.freeze({
    ...sealed,
    detections: Object.freeze(found.map((d) => ({ ...d, id: idOf.get(d.path)! }))),
  });
}

/**
 * The field ids a redacted payload refers to, with where each marker sits. A payload nesting
 * deeper than `MAX_PAYLOAD_DEPTH` is refused (`ValidationError` naming the first pointer past it).
 */
export function sealedMarkers(payload: unknown): { id: string; path: JsonPointer }[] {
  const out: { id: string; path: JsonPointer }[] = [];
  const go = (node: unknown, path: string, depth: number) => {
    if (depth > MAX_PAYLOAD_DEPTH) throw tooDeepError(path);
    if (Array.isArray(node))
      node.forEach((x, i) => {
        go(x, `${path}/${i}`, depth + 1);
      });
    else if (typeof node === 'object' && node !== null) {
      const o = node as Record<string, unknown>;
      const keys = Object.keys(o);
      if (keys.length === 1 && typeof o[SEALED_MARKER] === 'string') out.push({ id: o[SEALED_MARKER], path });
      else for (const k of keys) go(o[k], `${path}/${k.replace(/~/g, '~0').replace(/\//g, '~1')}`, depth + 1);
    }
  };
  go(payload, '', 0);
  return out;
}
