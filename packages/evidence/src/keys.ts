/**
 * Group keys, key ids and signature verification for the ciphersuites evidence is signed with.
 *
 * A FROST(Ed25519, SHA-512) group signature is a plain RFC 8032 Ed25519 signature, so it is checked
 * with `node:crypto` (OpenSSL), several times faster than pure JS. A
 * FROST(secp256k1, SHA-256)-TR group signature is a BIP-340 Schnorr signature, checked with
 * `@noble/curves`.
 */
import { createPublicKey, type KeyObject, verify as nodeVerify } from 'node:crypto';
import { schnorr } from '@noble/curves/secp256k1.js';
import { concat, sha256, toHex } from './encoding.js';

export const ED25519_SUITE = 'FROST-ED25519-SHA512-v1';
export const SECP256K1_TR_SUITE = 'FROST-secp256k1-SHA256-TR-v1';
export const SUPPORTED_CIPHERSUITES = [ED25519_SUITE, SECP256K1_TR_SUITE] as const;
export type EvidenceCiphersuite = (typeof SUPPORTED_CIPHERSUITES)[number];

export function isSupportedCiphersuite(value: unknown): value is EvidenceCiphersuite {
  return typeof value === 'string' && (SUPPORTED_CIPHERSUITES as readonly string[]).includes(value);
}

/** Lengths a group public key may have per suite (secp256k1: SEC1 compressed, or BIP-340 x-only). */
export function isValidPublicKeyLength(suite: EvidenceCiphersuite, publicKey: Uint8Array): boolean {
  return suite === ED25519_SUITE
    ? publicKey.length === 32
    : publicKey.length === 33 || publicKey.length === 32;
}

/** The DSSE key id of a group key: lower-case hex of SHA-256 over its encoded bytes. */
export function keyIdOf(publicKey: Uint8Array): string {
  return toHex(sha256(publicKey));
}

/** DER prefix of an Ed25519 SubjectPublicKeyInfo (RFC 8410): SEQUENCE{SEQUENCE{OID 1.3.101.112}, BIT STRING}. */
const ED25519_SPKI_PREFIX = new Uint8Array([
  0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00,
]);

/** The DER SubjectPublicKeyInfo of a raw 32-byte Ed25519 public key. */
export function ed25519Spki(publicKey: Uint8Array): Uint8Array {
  return concat(ED25519_SPKI_PREFIX, publicKey);
}

/** The PEM (`-----BEGIN PUBLIC KEY-----`) of a raw 32-byte Ed25519 public key, as OpenSSL reads it. */
export function ed25519Pem(publicKey: Uint8Array): string {
  const b64 = Buffer.from(ed25519Spki(publicKey)).toString('base64');
  return `-----BEGIN PUBLIC KEY-----\n${b64}\n-----END PUBLIC KEY-----\n`;
}

/** The raw 32-byte key inside an Ed25519 SPKI DER, or `undefined` if `der` is not one. */
export function ed25519FromSpki(der: Uint8Array): Uint8Array | undefined {
  if (der.length !== 44) return undefined;
  for (let i = 0; i < ED25519_SPKI_PREFIX.length; i++)
    if (der[i] !== ED25519_SPKI_PREFIX[i]) return undefined;
  return der.slice(12);
}

const KEY_CACHE_LIMIT = 4096;
const keyObjects = new Map<string, KeyObject | null>();

/** A cached `node:crypto` KeyObject for a raw Ed25519 key; `null` if OpenSSL refuses the bytes. */
export function ed25519KeyObject(publicKey: Uint8Array): KeyObject | null {
  const id = toHex(publicKey);
  const hit = keyObjects.get(id);
  if (hit !== undefined) return hit;
  let key: KeyObject | null = null;
  if (publicKey.length === 32) {
    try {
      key = createPublicKey({ key: Buffer.from(ed25519Spki(publicKey)), format: 'der', type: 'spki' });
    } catch {
      key = null;
    }
  }
  if (keyObjects.size >= KEY_CACHE_LIMIT) keyObjects.delete(keyObjects.keys().next().value as string);
  keyObjects.set(id, key);
  return key;
}

/** RFC 8032 Ed25519 verification through OpenSSL. Never throws: bad keys and signatures are `false`. */
export function verifyEd25519(publicKey: Uint8Array, message: Uint8Array, signature: Uint8Array): boolean {
  if (signature.length !== 64) return false;
  const key = ed25519KeyObject(publicKey);
  if (key === null) return false;
  try {
    return nodeVerify(null, message, key, signature);
  } catch {
    return false;
  }
}

/** BIP-340 verification; a 33-byte SEC1 key is taken by its x coordinate. Never throws. */
export function verifyBip340(publicKey: Uint8Array, message: Uint8Array, signature: Uint8Array): boolean {
  if (signature.length !== 64) return false;
  const x = publicKey.length === 33 ? publicKey.subarray(1) : publicKey;
  if (x.length !== 32) return false;
  try {
    return schnorr.verify(signature, message, x);
  } catch {
    return false;
  }
}

/** Verify a group signature under the suite's single-signer verification equation. Never throws. */
export function verifyGroupSignature(
  suite: EvidenceCiphersuite,
  publicKey: Uint8Array,
  message: Uint8Array,
  signature: Uint8Array,
): boolean {
  return suite === ED25519_SUITE
    ? verifyEd25519(publicKey, message, signature)
    : verifyBip340(publicKey, message, signature);
}
