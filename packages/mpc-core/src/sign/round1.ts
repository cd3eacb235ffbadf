/**
 * Signing round one (RFC 9591 §5.1): each signer draws a hiding and a binding nonce and publishes
 * their commitments. `preprocess` draws a batch ahead of time so that online signing is one round.
 */
import { randomBytes } from '@noble/hashes/utils.js';
import { concatBytes } from '../bytes.js';
import { ValidationError } from '../errors.js';
import { assertSuite } from '../guards.js';
import { checkKeyPackage, type Identifier, type KeyPackage, signingShareScalar } from '../keys.js';
import { SecretBytes } from '../secret.js';
import { randomBytesOf } from '../suite/rng.js';
import type { AnyCiphersuite, Rng } from '../suite/types.js';

/** A signer's public round-one output. */
export interface Round1Commitment {
  readonly identifier: Identifier;
  readonly hiding: Uint8Array;
  readonly binding: Uint8Array;
}

/** A signer's private round-one state: used once, then wiped. */
export interface SigningNonces {
  readonly hiding: SecretBytes;
  readonly binding: SecretBytes;
  readonly commitment: Round1Commitment;
}

/** RFC 9591 §4.1 nonce_generate: H3(random_bytes(32) || SerializeScalar(secret)). */
function generateNonce(suite: AnyCiphersuite, secretBytes: Uint8Array, rng: Rng): bigint {
  return suite.H3(concatBytes(randomBytesOf(rng, 32), secretBytes));
}

export function commit(suite: AnyCiphersuite, keyPackage: KeyPackage, rng: Rng = randomBytes): SigningNonces {
  assertSuite(suite);
  checkKeyPackage(suite, keyPackage);
  const s = signingShareScalar(suite, keyPackage);
  const sBytes = suite.field.toBytes(s);
  const hiding = generateNonce(suite, sBytes, rng);
  const binding = generateNonce(suite, sBytes, rng);
  const { group, field } = suite;
  return Object.freeze({
    hiding: new SecretBytes(field.toBytes(hiding)),
    binding: new SecretBytes(field.toBytes(binding)),
    commitment: Object.freeze({
      identifier: keyPackage.identifier,
      hiding: group.serialize(group.mulBase(hiding)),
      binding: group.serialize(group.mulBase(binding)),
    }),
  });
}

/** `count` independent round-one outputs, for a pool of preprocessed commitments. */
export function preprocess(
  suite: AnyCiphersuite,
  keyPackage: KeyPackage,
  count: number,
  rng: Rng = randomBytes,
): SigningNonces[] {
  assertSuite(suite);
  checkKeyPackage(suite, keyPackage);
  if (!Number.isSafeInteger(count) || count < 1 || count > 10_000) {
    throw new ValidationError('INVALID_ARGUMENT', `count: expected an integer in [1, 10000], got ${count}`, [
      'count',
    ]);
  }
  const out: SigningNonces[] = [];
  for (let i = 0; i < count; i++) out.push(commit(suite, keyPackage, rng));
  return out;
}
