/**
 * Envelope identity signatures: `meta.signature = "ed25519:" + base64(sig)` where `sig` is the
 * sender's Ed25519 identity key over the RFC 8785 canonical JSON of the envelope with
 * `meta.signature` removed (DESIGN.md "Message envelope").
 */
import { createPrivateKey, createPublicKey, type KeyObject, sign as nodeSign } from 'node:crypto';
import { randomBytes } from '@noble/hashes/utils.js';
import { assertBytes, base64Decode, base64Encode, concatBytes } from '../bytes.js';
import { displayValue } from '../display.js';
import { ValidationError, VerificationError } from '../errors.js';
import { assertSecret } from '../guards.js';
import { SecretBytes } from '../secret.js';
import { verifyEd25519 } from '../suite/ed25519.js';
import { randomBytesOf } from '../suite/rng.js';
import type { Rng } from '../suite/types.js';
import { envelopeSigningBytes } from './signing-bytes.js';
import type { Envelope, SignedEnvelope } from './types.js';

export { envelopeSigningBytes };

const PKCS8_PREFIX = Uint8Array.from([
  0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20,
]);
const SIG_PREFIX = 'ed25519:';

export interface IdentityKey {
  /** The 32-byte Ed25519 seed (RFC 8032 private key). */
  readonly secretKey: SecretBytes;
  readonly publicKey: Uint8Array;
}

function privateKeyObject(seed: Uint8Array) {
  if (seed.length !== 32)
    throw new ValidationError('INVALID_LENGTH', 'identity secret key: expected 32 bytes', ['secretKey']);
  return createPrivateKey({
    key: Buffer.from(concatBytes(PKCS8_PREFIX, seed)),
    format: 'der',
    type: 'pkcs8',
  });
}

/** Decoding a private key costs more than signing: keep one KeyObject per live SecretBytes. */
const keyObjects = new WeakMap<SecretBytes, KeyObject>();
function cachedKeyObject(secretKey: SecretBytes): KeyObject {
  let k = keyObjects.get(secretKey);
  if (!k) {
    k = privateKeyObject(secretKey.expose());
    keyObjects.set(secretKey, k);
  }
  return k;
}

/** The seed of an identity secret key given as `SecretBytes` (not wiped) or raw bytes. */
function seedOf(secretKey: SecretBytes | Uint8Array): Uint8Array {
  if (secretKey instanceof SecretBytes) {
    assertSecret(secretKey, 'secretKey');
    return secretKey.expose();
  }
  if (!(secretKey instanceof Uint8Array)) {
    throw new ValidationError('INVALID_ARGUMENT', 'secretKey: expected SecretBytes or Uint8Array', [
      'secretKey',
    ]);
  }
  return secretKey;
}

/** The raw 32-byte public key of an Ed25519 seed. */
export function identityPublicKey(secretKey: SecretBytes | Uint8Array): Uint8Array {
  const seed = seedOf(secretKey);
  const spki = createPublicKey(privateKeyObject(seed)).export({ format: 'der', type: 'spki' });
  return new Uint8Array(spki.subarray(spki.length - 32));
}

export function generateIdentityKey(rng: Rng = randomBytes): IdentityKey {
  const seed = randomBytesOf(rng, 32);
  const secretKey = new SecretBytes(seed);
  seed.fill(0);
  return Object.freeze({ secretKey, publicKey: identityPublicKey(secretKey) });
}

/** Plain Ed25519 signature with an identity key (for records that are not envelopes). */
export function signBytes(secretKey: SecretBytes | Uint8Array, message: Uint8Array): Uint8Array {
  // A raw Uint8Array may be mutated by its owner: decode it each time. SecretBytes are immutable.
  const seed = seedOf(secretKey);
  assertBytes(message, 'message');
  const key = secretKey instanceof SecretBytes ? cachedKeyObject(secretKey) : privateKeyObject(seed);
  return new Uint8Array(nodeSign(null, message, key));
}

export function signEnvelope<P>(
  envelope: Envelope<P>,
  secretKey: SecretBytes | Uint8Array,
): SignedEnvelope<P> {
  const sig = signBytes(secretKey, envelopeSigningBytes(envelope as Envelope));
  return { ...envelope, meta: { ...envelope.meta, signature: SIG_PREFIX + base64Encode(sig) } };
}

/**
 * Throws `VerificationError` (check `envelope.signature`) unless the envelope is signed by
 * `publicKey`. An envelope that holds what canonical JSON cannot carry (a Symbol, a Date, nesting
 * deeper than the canonicalizer's bound) cannot have been signed: it fails the same way, with the
 * canonicalizer's `ValidationError` as `cause`. So does a `publicKey` that is no Ed25519 key.
 */
export function verifyEnvelope(envelope: Envelope, publicKey: Uint8Array): void {
  const sig = envelope?.meta?.signature;
  if (typeof sig !== 'string' || !sig.startsWith(SIG_PREFIX)) {
    throw new VerificationError('envelope.signature', 'envelope has no ed25519: signature', {
      code: 'INVALID_SIGNATURE',
    });
  }
  let raw: Uint8Array;
  try {
    raw = base64Decode(sig.slice(SIG_PREFIX.length), 'meta.signature');
  } catch (cause) {
    throw new VerificationError('envelope.signature', 'envelope signature is not base64', {
      code: 'INVALID_SIGNATURE',
      cause,
    });
  }
  let signed: Uint8Array;
  try {
    signed = envelopeSigningBytes(envelope);
  } catch (cause) {
    if (!(cause instanceof ValidationError)) throw cause;
    throw new VerificationError(
      'envelope.signature',
      `envelope from ${displayValue(envelope.meta.source_agent)} is not JSON a signature can cover (${cause.message})`,
      { code: 'INVALID_SIGNATURE', cause },
    );
  }
  if (!verifyEd25519(publicKey, signed, raw)) {
    throw new VerificationError(
      'envelope.signature',
      `envelope from ${displayValue(envelope.meta.source_agent)} does not verify`,
      { code: 'INVALID_SIGNATURE' },
    );
  }
}
