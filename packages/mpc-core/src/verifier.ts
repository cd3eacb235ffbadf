/**
 * `@aaps/mpc-core/verifier`: what a verifier of AAPS signatures and envelopes needs, and nothing of
 * the protocols that make them: errors, bytes, RFC 8785 canonical JSON, the bytes an envelope's
 * identity signature covers, plain-CBOR scanning, and Ed25519 (`node:crypto`) and BIP-340
 * verification. The evidence verifier (`aaps-verify` and its worker threads) imports this rather
 * than the package root, which also loads FROST, key generation, aggregation, sealing and their
 * dependencies (cbor-x, `@noble/ciphers`, libsodium's loader, shamir-secret-sharing): 93 modules
 * against this entry's 31 (about 135 ms to load against 65 ms here).
 * Every name here is the package root's too, the same function.
 */
export { base64Encode, bytesToHex, concatBytes, equalBytes, utf8 } from './bytes.js';
export { displayValue } from './display.js';
export {
  canonicalBytes,
  canonicalize,
  canonicalizeEnvelope,
  inCanonicalOrder,
  type JsonValue,
} from './envelope/canonical.js';
export { envelopeSigningBytes } from './envelope/signing-bytes.js';
export type { Envelope, EnvelopeMeta, SignedEnvelope } from './envelope/types.js';
export {
  AapsError,
  type ErrorCode,
  firstMessageLine,
  innermostCause,
  isAapsError,
  ValidationError,
  VerificationError,
} from './errors.js';
export { type CborScan, decodePlainCbor, scanCbor } from './plain-cbor.js';
export { verifyBip340 } from './suite/bip340.js';
export { verifyEd25519 } from './suite/ed25519.js';
