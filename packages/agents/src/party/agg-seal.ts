/**
 * `@aaps/mpc-core`'s `seal` / `open` (ephemeral X25519, HKDF-SHA256, XChaCha20-Poly1305), byte for
 * byte, with the X25519 operations on `node:crypto` (OpenSSL) instead of JavaScript: about a
 * twentieth of the cost, which a coordinator sealing one input box per party each aggregation round
 * notices. Wire form and key derivation are mpc-core's (tested both ways in `agg-seal.test.ts`).
 * Identity-derived X25519 public keys are cached per identity key.
 */
import { createPrivateKey, createPublicKey, diffieHellman, type KeyObject } from 'node:crypto';
import {
  concatBytes,
  type Rng,
  type SealedBox,
  type SecretBytes,
  utf8,
  ValidationError,
  VerificationError,
  x25519FromIdentityPublicKey,
} from '@aaps/mpc-core';
import { xchacha20poly1305 } from '@noble/ciphers/chacha.js';
import { hkdf } from '@noble/hashes/hkdf.js';
import { sha256 } from '@noble/hashes/sha2.js';

/** mpc-core's `seal.ts` info string: the same key derivation, so the boxes are interchangeable. */
const INFO = utf8('AAPS-QUORUM-v1 seal x25519-hkdf-sha256-xchacha20poly1305');
const PKCS8 = Uint8Array.from(Buffer.from('302e020100300506032b656e04220420', 'hex'));
const SPKI = Uint8Array.from(Buffer.from('302a300506032b656e032100', 'hex'));

function privateKey(raw: Uint8Array): KeyObject {
  return createPrivateKey({ key: Buffer.from(concatBytes(PKCS8, raw)), format: 'der', type: 'pkcs8' });
}

function publicKey(raw: Uint8Array): KeyObject {
  return createPublicKey({ key: Buffer.from(concatBytes(SPKI, raw)), format: 'der', type: 'spki' });
}

function rawPublic(key: KeyObject): Uint8Array {
  const der = createPublicKey(key).export({ format: 'der', type: 'spki' });
  return Uint8Array.from(der.subarray(der.length - 32));
}

function shared(priv: KeyObject, pub: KeyObject, field: string): Uint8Array {
  try {
    return Uint8Array.from(diffieHellman({ privateKey: priv, publicKey: pub }));
  } catch (cause) {
    throw new ValidationError('INVALID_POINT', `${field}: invalid or low-order X25519 key`, [field], {
      cause,
    });
  }
}

function deriveKey(secret: Uint8Array, ephemeral: Uint8Array, recipient: Uint8Array): Uint8Array {
  return hkdf(sha256, secret, concatBytes(ephemeral, recipient), INFO, 32);
}

const recipients = new Map<string, Uint8Array>();

/** The X25519 public key of an Ed25519 identity key (hex), cached. */
export function x25519OfIdentityHex(identityKeyHex: string): Uint8Array {
  let k = recipients.get(identityKeyHex);
  if (!k) {
    k = x25519FromIdentityPublicKey(Uint8Array.from(Buffer.from(identityKeyHex, 'hex')));
    if (recipients.size > 4096) recipients.clear();
    recipients.set(identityKeyHex, k);
  }
  return k;
}

/** mpc-core's `seal`, with OpenSSL's X25519. */
export function sealFast(
  recipientX25519PublicKey: Uint8Array,
  plaintext: Uint8Array,
  associatedData: Uint8Array,
  rng: Rng,
): SealedBox {
  const eph = rng(32);
  const ephKey = privateKey(eph);
  eph.fill(0);
  const ephemeralPublicKey = rawPublic(ephKey);
  const secret = shared(ephKey, publicKey(recipientX25519PublicKey), 'recipient');
  const key = deriveKey(secret, ephemeralPublicKey, recipientX25519PublicKey);
  secret.fill(0);
  const nonce = rng(24);
  const ciphertext = xchacha20poly1305(key, nonce, associatedData).encrypt(plaintext);
  key.fill(0);
  return Object.freeze({ ephemeralPublicKey, nonce, ciphertext });
}

/** mpc-core's `open`, with OpenSSL's X25519; throws `VerificationError` (`seal.open`) likewise. */
export function openFast(recipientX25519SecretKey: SecretBytes, box: SealedBox, associatedData: Uint8Array) {
  try {
    const mine = privateKey(recipientX25519SecretKey.expose());
    const secret = shared(mine, publicKey(box.ephemeralPublicKey), 'ephemeralPublicKey');
    const key = deriveKey(secret, box.ephemeralPublicKey, rawPublic(mine));
    secret.fill(0);
    const out = xchacha20poly1305(key, box.nonce, associatedData).decrypt(box.ciphertext);
    key.fill(0);
    return out;
  } catch (cause) {
    throw new VerificationError(
      'seal.open',
      'sealed box does not open: wrong key, wrong context or tampered',
      {
        cause,
      },
    );
  }
}
