/** FROST(Ed25519, SHA-512) — RFC 9591 §6.1 — over `@noble/curves`' ed25519. */
import { createPublicKey, type KeyObject, verify as nodeVerify } from 'node:crypto';
import type { EdwardsPoint } from '@noble/curves/abstract/edwards.js';
import { ed25519, ed25519_hasher } from '@noble/curves/ed25519.js';
import { sha512 } from '@noble/hashes/sha2.js';
import { concatBytes } from '../bytes.js';
import { prefixHashToScalar, suiteHashes } from './hashing.js';
import { nobleGroup } from './noble-group.js';
import { scalarFieldFrom } from './scalar-field.js';
import type { Ciphersuite, Group } from './types.js';

export const ED25519_ID = 'FROST-ED25519-SHA512-v1' as const;

export const ed25519Field = scalarFieldFrom(ed25519.Point.Fn);
export const ed25519Hashes = suiteHashes(ED25519_ID, sha512, prefixHashToScalar(sha512, ed25519Field), true);

const group: Group<EdwardsPoint> = nobleGroup<EdwardsPoint>({
  Point: ed25519.Point,
  elementLength: 32,
  checkTorsion: true,
  hasEvenY: () => true,
});

/** SPKI DER prefix for a raw 32-byte Ed25519 public key (RFC 8410). */
const ED25519_SPKI_PREFIX = Uint8Array.from([
  0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00,
]);
const keyObjects = new Map<string, KeyObject | null>();
const MAX_CACHED_KEYS = 1024;

/**
 * A cached `node:crypto` KeyObject for a raw Ed25519 public key, decoded and validated (canonical,
 * prime-order, not the identity) once rather than per call; `null` for an invalid key.
 */
export function ed25519KeyObject(publicKey: Uint8Array): KeyObject | null {
  const hex = Buffer.from(publicKey).toString('hex');
  let key = keyObjects.get(hex);
  if (key === undefined) {
    key = null;
    try {
      group.deserialize(publicKey, 'publicKey');
      key = createPublicKey({
        key: Buffer.from(concatBytes(ED25519_SPKI_PREFIX, publicKey)),
        format: 'der',
        type: 'spki',
      });
    } catch {
      key = null;
    }
    if (keyObjects.size >= MAX_CACHED_KEYS) keyObjects.delete(keyObjects.keys().next().value as string);
    keyObjects.set(hex, key);
  }
  return key;
}

/**
 * RFC 8032 Ed25519 verification through `node:crypto` (OpenSSL). A FROST(Ed25519) signature is a
 * plain Ed25519 signature under the group key, so this is both the fast path and an independent
 * verifier. With a prime-order public key (checked once per key) OpenSSL's cofactorless check
 * accepts exactly what RFC 9591's cofactored check accepts: it compares the canonical encoding of
 * zB - cA with R, which forces R into the prime-order subgroup. Never throws: returns false.
 */
export function verifyEd25519(publicKey: Uint8Array, msg: Uint8Array, sig: Uint8Array): boolean {
  if (!(publicKey instanceof Uint8Array) || publicKey.length !== 32) return false;
  if (!(msg instanceof Uint8Array) || !(sig instanceof Uint8Array) || sig.length !== 64) return false;
  const key = ed25519KeyObject(publicKey);
  if (!key) return false;
  try {
    return nodeVerify(null, msg, key, sig);
  } catch {
    return false;
  }
}

export function ed25519Challenge(R: Uint8Array, PK: Uint8Array, msg: Uint8Array): bigint {
  return ed25519Hashes.H2(concatBytes(R, PK, msg));
}

export const ed25519HashToGroupBytes = (m: Uint8Array, dst: Uint8Array): Uint8Array =>
  ed25519_hasher.hashToCurve(m, { DST: dst }).toBytes();

export const ed25519Noble: Ciphersuite<EdwardsPoint> = Object.freeze({
  id: ED25519_ID,
  backend: 'noble' as const,
  group,
  field: ed25519Field,
  ...ed25519Hashes,
  hashToGroup: (m: Uint8Array, dst: Uint8Array) =>
    ed25519_hasher.hashToCurve(m, { DST: dst }) as EdwardsPoint,
  challenge: (R: EdwardsPoint, PK: EdwardsPoint, msg: Uint8Array) =>
    ed25519Challenge(R.toBytes(), PK.toBytes(), msg),
  verifySignature: verifyEd25519,
  signatureLength: 64,
});
