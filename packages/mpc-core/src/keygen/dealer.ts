/**
 * Trusted-dealer key generation (RFC 9591 Appendix C): one party draws the group secret, splits
 * it with Shamir over the scalar field and commits to the polynomial (VSS). For tests and
 * bootstrap; production keys come from the DKG, where nobody ever holds the whole secret.
 */
import { ValidationError } from '../errors.js';
import { assertArray, assertSuite, optionsOf } from '../guards.js';
import {
  type Identifier,
  identifierFromNumber,
  identifierToScalar,
  type KeyPackage,
  makeKeyPackage,
  type PublicKeyPackage,
  type Threshold,
  validateThreshold,
} from '../keys.js';
import { rngOrDefault } from '../suite/rng.js';
import type { AnyCiphersuite, Ciphersuite, Rng } from '../suite/types.js';
import { commitPolynomial, evaluatePolynomial, randomPolynomial } from './polynomial.js';

export interface DealerOptions {
  /** Participant identifiers (default: 1..max as RFC 9591 numbers them). */
  identifiers?: readonly Identifier[];
  /** The group secret (default: random). Only for test vectors and migrations. */
  secret?: Uint8Array;
  rng?: Rng;
}

export interface DealerOutput {
  readonly publicPackage: PublicKeyPackage;
  readonly keyPackages: readonly KeyPackage[];
}

export function trustedDealer(
  suite: AnyCiphersuite,
  threshold: Threshold,
  opts: DealerOptions = {},
): DealerOutput {
  assertSuite(suite);
  return dealTyped(suite, threshold, optionsOf(opts, 'opts'));
}

function dealTyped<E>(suite: Ciphersuite<E>, threshold: Threshold, opts: DealerOptions): DealerOutput {
  const t = validateThreshold(threshold);
  const rng = rngOrDefault(opts.rng, 'opts.rng');
  if (opts.identifiers !== undefined) assertArray(opts.identifiers, 'opts.identifiers');
  const ids =
    opts.identifiers ??
    Array.from({ length: t.max }, (_, i) => identifierFromNumber(suite as AnyCiphersuite, i + 1));
  if (ids.length !== t.max) {
    throw new ValidationError('INVALID_ARGUMENT', `identifiers: expected ${t.max}, got ${ids.length}`, [
      'identifiers',
    ]);
  }
  const xs = new Map<Identifier, bigint>();
  ids.forEach((id, i) => {
    const x = identifierToScalar(suite as AnyCiphersuite, id, `identifiers[${i}]`);
    if (xs.has(id))
      throw new ValidationError('DUPLICATE_IDENTIFIER', `identifiers[${i}]: ${id} appears twice`, [
        `identifiers[${i}]`,
      ]);
    xs.set(id, x);
  });
  const secret = opts.secret === undefined ? undefined : suite.field.fromBytes(opts.secret, 'secret');
  if (secret === 0n)
    throw new ValidationError('INVALID_SCALAR', 'secret: zero is not a valid group secret', ['secret']);
  const coefficients = randomPolynomial(suite, t.min, rng, secret);
  const { group } = suite;
  const commitments = commitPolynomial(suite, coefficients).map((c) => group.serialize(c));
  const groupPublicKey = commitments[0]!;
  const verifyingShares: Record<Identifier, Uint8Array> = {};
  const keyPackages: KeyPackage[] = [];
  for (const id of ids) {
    const s = evaluatePolynomial(suite, coefficients, xs.get(id)!);
    const Y = group.serialize(group.mulBase(s));
    verifyingShares[id] = Y;
    keyPackages.push(makeKeyPackage(suite as AnyCiphersuite, id, s, Y, groupPublicKey, t));
  }
  coefficients.fill(0n);
  const publicPackage: PublicKeyPackage = Object.freeze({
    suite: suite.id,
    groupPublicKey,
    verifyingShares: Object.freeze(verifyingShares),
    threshold: t,
    commitments: Object.freeze(commitments),
  });
  return Object.freeze({ publicPackage, keyPackages: Object.freeze(keyPackages) });
}
