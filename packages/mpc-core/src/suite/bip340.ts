/**
 * BIP-340 Schnorr verification (a FROST(secp256k1, SHA-256)-TR group signature is one) over
 * `@noble/curves`' secp256k1, in a module of its own: a verifier loads it without the suite.
 */
import { schnorr } from '@noble/curves/secp256k1.js';

/** BIP-340 verification; the key may be x-only (32 bytes) or compressed (33 bytes). Never throws. */
export function verifyBip340(publicKey: Uint8Array, msg: Uint8Array, sig: Uint8Array): boolean {
  if (!(publicKey instanceof Uint8Array) || !(msg instanceof Uint8Array) || !(sig instanceof Uint8Array))
    return false;
  if (sig.length !== 64) return false;
  // A 33-byte key is a compressed point (SEC1 prefix 0x02 or 0x03, as noble's schnorr_FROST
  // reads it); BIP-340 verification uses its x only. Any other prefix is not a key.
  if (publicKey.length === 33 && publicKey[0] !== 0x02 && publicKey[0] !== 0x03) return false;
  const x = publicKey.length === 33 ? publicKey.subarray(1) : publicKey;
  if (x.length !== 32) return false;
  try {
    return schnorr.verify(sig, msg, x);
  } catch {
    return false;
  }
}
