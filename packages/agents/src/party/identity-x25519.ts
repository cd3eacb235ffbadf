/**
 * The X25519 public keys of roster identity keys, cached: an aggregation round seals an input box
 * and share boxes to every party, and the Ed25519-to-X25519 map is the costly part of addressing
 * one. Sealing itself is `@aaps/mpc-core`'s `seal` / `open`. And the key two roster principals
 * share from their identity keys alone ({@link staticPairKey}).
 */
import {
  hexToBytes,
  type IdentityKey,
  x25519FromIdentityPublicKey,
  x25519FromIdentitySecretKey,
} from '@aaps/mpc-core';
import { x25519 } from '@noble/curves/ed25519.js';
import { hkdf } from '@noble/hashes/hkdf.js';
import { sha256 } from '@noble/hashes/sha2.js';

const recipients = new Map<string, Uint8Array>();

/** The X25519 public key of an Ed25519 identity key (hex), cached. */
export function x25519OfIdentityHex(identityKeyHex: string): Uint8Array {
  let k = recipients.get(identityKeyHex);
  if (!k) {
    k = x25519FromIdentityPublicKey(hexToBytes(identityKeyHex, 'identity_key'));
    if (recipients.size > 4096) recipients.clear();
    recipients.set(identityKeyHex, k);
  }
  return k;
}

/**
 * A key only two roster principals can derive: HKDF-SHA256 (`salt`, `info`) of static X25519
 * between `mine` (one's identity key) and `theirs` (the other's identity key, hex), both mapped to
 * X25519. Both sides get the same key; callers cache it (one Diffie-Hellman per pair). Used for the
 * aggregation share boxes' channel keys and the party call header's MAC key.
 */
export function staticPairKey(
  mine: IdentityKey,
  theirs: string,
  salt: Uint8Array,
  info: Uint8Array,
): Uint8Array {
  const secret = x25519FromIdentitySecretKey(mine.secretKey);
  try {
    const shared = x25519.getSharedSecret(secret.expose(), x25519OfIdentityHex(theirs));
    const key = hkdf(sha256, shared, salt, info, 32);
    shared.fill(0);
    return key;
  } finally {
    secret.wipe();
  }
}
