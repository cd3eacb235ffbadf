/**
 * Group keys, key ids and signature verification for the ciphersuites evidence is signed with.
 *
 * A FROST(Ed25519, SHA-512) group signature is a plain RFC 8032 Ed25519 signature, so it is checked
 * with `node:crypto` (OpenSSL), several times faster than pure JS. A
 * FROST(secp256k1, SHA-256)-TR group signature is a BIP-340 Schnorr signature, checked with
 * mpc-core's secp256k1-TR ciphersuite.
 */
import {
  verifyBip340 as coreVerifyBip340,
  verifyEd25519 as coreVerifyEd25519,
} from '@aaps/mpc-core/verifier';
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

/**
 * RFC 8032 Ed25519 verification (mpc-core's: OpenSSL through `node:crypto`, each key decoded and
 * checked to be a prime-order point once). Never throws: bad keys and signatures are `false`.
 */
export const verifyEd25519 = coreVerifyEd25519;

/** BIP-340 verification (mpc-core's TR suite); a 33-byte SEC1 key is taken by its x. Never throws. */
export const verifyBip340 = coreVerifyBip340;

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
