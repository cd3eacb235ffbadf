/**
 * Public-key sealing to one recipient: ephemeral X25519 key agreement, HKDF-SHA256, then
 * XChaCha20-Poly1305 with caller-supplied associated data (e.g. session, sender, receiver, field
 * path). Recipients hold an X25519 key derived from their Ed25519 identity key (RFC 7748 /
 * libsodium's ed25519-to-curve25519 map), so the roster's identity keys are enough to seal to a
 * party. Used for DKG round-2 shares in transit, sealed incident fields and key-share releases.
 * The X25519 agreements run on libsodium once `loadFastBackends()` has loaded it, else on
 * `node:crypto` (`x25519.ts`: byte-identical, both refuse low-order points as noble does, and
 * both far cheaper than JavaScript); the Ed25519-to-X25519 key maps are noble's.
 */
import { xchacha20poly1305 } from '@noble/ciphers/chacha.js';
import { ed25519 } from '@noble/curves/ed25519.js';
import { hkdf } from '@noble/hashes/hkdf.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { randomBytes } from '@noble/hashes/utils.js';
import { assertBytes, concatBytes, utf8 } from './bytes.js';
import { ValidationError, VerificationError } from './errors.js';
import { assertObject, assertSecret } from './guards.js';
import { SecretBytes } from './secret.js';
import { randomBytesOf } from './suite/rng.js';
import type { Rng } from './suite/types.js';
import { x25519Backend } from './x25519.js';

const INFO = utf8('AAPS-QUORUM-v1 seal x25519-hkdf-sha256-xchacha20poly1305');

/** A sealed box: the sender's ephemeral public key, the nonce and the ciphertext (with tag). */
export interface SealedBox {
  readonly ephemeralPublicKey: Uint8Array;
  readonly nonce: Uint8Array;
  readonly ciphertext: Uint8Array;
}

/** The X25519 public key matching an Ed25519 identity public key. */
export function x25519FromIdentityPublicKey(identityPublicKey: Uint8Array): Uint8Array {
  try {
    return ed25519.utils.toMontgomery(identityPublicKey);
  } catch (cause) {
    throw new ValidationError(
      'INVALID_POINT',
      'identity public key is not a valid Ed25519 point',
      ['identityPublicKey'],
      { cause },
    );
  }
}

/**
 * A live 32-byte secret: an X25519 secret key or an Ed25519 identity seed. Checked before noble or
 * OpenSSL sees it, so that a wrong length is `ValidationError('INVALID_LENGTH')` naming `field`
 * rather than a bare `RangeError` from inside the curve library. (Internal: not in the index.)
 */
export function assertSecret32(value: unknown, field: string): asserts value is SecretBytes {
  assertSecret(value, field);
  if (value.length !== 32) {
    throw new ValidationError('INVALID_LENGTH', `${field}: expected 32 bytes, got ${value.length}`, [field]);
  }
}

/** The X25519 secret key matching an Ed25519 identity seed. */
export function x25519FromIdentitySecretKey(identitySecretKey: SecretBytes): SecretBytes {
  assertSecret32(identitySecretKey, 'identitySecretKey');
  return new SecretBytes(ed25519.utils.toMontgomerySecret(identitySecretKey.expose()));
}

function deriveKey(shared: Uint8Array, ephemeral: Uint8Array, recipient: Uint8Array): Uint8Array {
  return hkdf(sha256, shared, concatBytes(ephemeral, recipient), INFO, 32);
}

export function seal(
  recipientX25519PublicKey: Uint8Array,
  plaintext: Uint8Array,
  associatedData: Uint8Array,
  rng: Rng = randomBytes,
): SealedBox {
  assertBytes(plaintext, 'plaintext');
  assertBytes(associatedData, 'associatedData');
  const eph = randomBytesOf(rng, 32);
  let ephemeralPublicKey: Uint8Array;
  let shared: Uint8Array;
  try {
    ({ publicKey: ephemeralPublicKey, shared } = x25519Backend().agree(eph, recipientX25519PublicKey));
  } catch (cause) {
    throw new ValidationError(
      'INVALID_POINT',
      'recipient X25519 key is invalid or low-order',
      ['recipient'],
      { cause },
    );
  } finally {
    eph.fill(0);
  }
  const key = deriveKey(shared, ephemeralPublicKey, recipientX25519PublicKey);
  shared.fill(0);
  const nonce = randomBytesOf(rng, 24);
  const ciphertext = xchacha20poly1305(key, nonce, associatedData).encrypt(plaintext);
  key.fill(0);
  return Object.freeze({ ephemeralPublicKey, nonce, ciphertext });
}

/** Opens a sealed box; throws `VerificationError` (check `seal.open`) on any tampering or wrong key/AAD. */
export function open(
  recipientX25519SecretKey: SecretBytes,
  box: SealedBox,
  associatedData: Uint8Array,
): Uint8Array {
  assertSecret(recipientX25519SecretKey, 'recipientX25519SecretKey');
  assertObject(box, 'box');
  assertBytes(associatedData, 'associatedData');
  const sk = recipientX25519SecretKey.expose();
  try {
    const { publicKey: recipient, shared } = x25519Backend().agree(sk, box.ephemeralPublicKey);
    const key = deriveKey(shared, box.ephemeralPublicKey, recipient);
    shared.fill(0);
    const out = xchacha20poly1305(key, box.nonce, associatedData).decrypt(box.ciphertext);
    key.fill(0);
    return out;
  } catch (cause) {
    throw new VerificationError(
      'seal.open',
      'sealed box does not open: wrong key, wrong context or tampered',
      { cause },
    );
  }
}

/** Symmetric AEAD under a 32-byte key (key packages at rest). Output: nonce(24) || ciphertext. */
export function encryptAtRest(
  key: SecretBytes,
  plaintext: Uint8Array,
  associatedData: Uint8Array,
  rng: Rng = randomBytes,
) {
  assertSecret(key, 'key');
  assertBytes(plaintext, 'plaintext');
  assertBytes(associatedData, 'associatedData');
  if (key.length !== 32)
    throw new ValidationError('INVALID_LENGTH', 'encryption key: expected 32 bytes', ['key']);
  const nonce = randomBytesOf(rng, 24);
  return concatBytes(nonce, xchacha20poly1305(key.expose(), nonce, associatedData).encrypt(plaintext));
}

export function decryptAtRest(key: SecretBytes, sealed: Uint8Array, associatedData: Uint8Array): Uint8Array {
  assertSecret(key, 'key');
  assertBytes(sealed, 'sealed');
  assertBytes(associatedData, 'associatedData');
  if (key.length !== 32)
    throw new ValidationError('INVALID_LENGTH', 'encryption key: expected 32 bytes', ['key']);
  try {
    return xchacha20poly1305(key.expose(), sealed.subarray(0, 24), associatedData).decrypt(
      sealed.subarray(24),
    );
  } catch (cause) {
    throw new VerificationError(
      'seal.at-rest',
      'stored secret does not decrypt: wrong key or tampered record',
      { cause },
    );
  }
}
