/**
 * The X25519 public keys of roster identity keys, cached: an aggregation round seals an input box
 * and share boxes to every party, and the Ed25519-to-X25519 map is the costly part of addressing
 * one. Sealing itself is `@aaps/mpc-core`'s `seal` / `open`.
 */
import { hexToBytes, x25519FromIdentityPublicKey } from '@aaps/mpc-core';

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
