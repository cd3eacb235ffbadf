/**
 * The shared per-signing computation (RFC 9591 §4.3-4.6): sorted commitment list, binding
 * factors, per-signer commitment shares, the group commitment R, the challenge and Lagrange
 * coefficients. Signers, the coordinator and share verification all derive it the same way.
 */
import { concatBytes, equalBytes } from '../bytes.js';
import { ValidationError } from '../errors.js';
import { type Identifier, identifierToScalar, type PreparedPublic } from '../keys.js';
import type { Ciphersuite } from '../suite/types.js';
import type { Round1Commitment } from './round1.js';

/** What round two signs: the commitments of the chosen signers and the message. */
export interface SigningPackage {
  readonly commitments: readonly Round1Commitment[];
  readonly message: Uint8Array;
}

export interface SignerEntry {
  readonly identifier: Identifier;
  readonly x: bigint;
  readonly commitment: Round1Commitment;
  readonly bindingFactor: bigint;
  /** Index in the caller's `signingPackage.commitments`, for error paths. */
  readonly index: number;
}

export interface SigningContext<E> {
  readonly signers: readonly SignerEntry[];
  readonly byId: ReadonlyMap<Identifier, SignerEntry>;
  readonly groupCommitment: E;
  readonly challenge: bigint;
  /** BIP-340 suites: R has odd y, so nonces and commitment shares are negated. */
  readonly flipNonces: boolean;
}

/** Structural checks on a signing package against the key set; throws ValidationError. */
export function checkSigningPackage<E>(
  suite: Ciphersuite<E>,
  prep: PreparedPublic<E>,
  pkg: SigningPackage,
): { identifier: Identifier; x: bigint; commitment: Round1Commitment; index: number }[] {
  if (!pkg || typeof pkg !== 'object' || !Array.isArray(pkg.commitments)) {
    throw new ValidationError('INVALID_ARGUMENT', 'signingPackage.commitments: expected an array', [
      'signingPackage.commitments',
    ]);
  }
  if (!(pkg.message instanceof Uint8Array)) {
    throw new ValidationError('INVALID_ARGUMENT', 'signingPackage.message: expected Uint8Array', [
      'signingPackage.message',
    ]);
  }
  const n = pkg.commitments.length;
  if (n < prep.threshold.min) {
    throw new ValidationError(
      'TOO_FEW_SIGNERS',
      `${n} signers given, at least ${prep.threshold.min} needed`,
      ['signingPackage.commitments'],
    );
  }
  if (n > prep.threshold.max) {
    throw new ValidationError(
      'TOO_MANY_SIGNERS',
      `${n} signers given, at most ${prep.threshold.max} allowed`,
      ['signingPackage.commitments'],
    );
  }
  const seen = new Set<Identifier>();
  const out = pkg.commitments.map((c, i) => {
    const path = `signingPackage.commitments[${i}]`;
    if (!c || typeof c !== 'object')
      throw new ValidationError('INVALID_ARGUMENT', `${path}: expected object`, [path]);
    const x = identifierToScalar(suite as never, c.identifier, `${path}.identifier`);
    if (seen.has(c.identifier)) {
      throw new ValidationError('DUPLICATE_IDENTIFIER', `${path}.identifier: ${c.identifier} appears twice`, [
        `${path}.identifier`,
      ]);
    }
    seen.add(c.identifier);
    if (!prep.shares.has(c.identifier)) {
      throw new ValidationError(
        'UNKNOWN_IDENTIFIER',
        `${path}.identifier: ${c.identifier} is not in the key set`,
        [`${path}.identifier`],
      );
    }
    const len = suite.group.elementLength;
    for (const k of ['hiding', 'binding'] as const) {
      if (!(c[k] instanceof Uint8Array) || c[k].length !== len) {
        throw new ValidationError('INVALID_LENGTH', `${path}.${k}: expected ${len} bytes`, [`${path}.${k}`]);
      }
    }
    return { identifier: c.identifier, x, commitment: c, index: i };
  });
  out.sort((a, b) => (a.x < b.x ? -1 : a.x > b.x ? 1 : 0));
  return out;
}

/**
 * Compute binding factors and the group commitment.
 * @param own when a signer computes it: its own identifier and the scalar d + rho*e is not known
 *   yet, so instead it passes a function giving its commitment share from its nonces (one base
 *   multiplication instead of decoding and validating its own two points).
 */
export function computeContext<E>(
  suite: Ciphersuite<E>,
  prep: PreparedPublic<E>,
  pkg: SigningPackage,
  own?: { identifier: Identifier; share: (bindingFactor: bigint) => E },
): SigningContext<E> {
  const { group, field } = suite;
  const sorted = checkSigningPackage(suite, prep, pkg);
  const encoded: Uint8Array[] = [];
  for (const s of sorted) encoded.push(field.toBytes(s.x), s.commitment.hiding, s.commitment.binding);
  const rhoPrefix = concatBytes(prep.groupKeyBytes, suite.H4(pkg.message), suite.H5(concatBytes(...encoded)));
  const signers: SignerEntry[] = [];
  // R = sum_i D_i + sum_i rho_i * E_i. Foreign commitments are validated as they are used; the
  // binding terms go through one MSM (or fused validate-and-multiply on libsodium).
  let R = group.zero;
  const eBytes: Uint8Array[] = [];
  const eScalars: bigint[] = [];
  const eFields: string[] = [];
  for (const s of sorted) {
    const bindingFactor = suite.H1(concatBytes(rhoPrefix, field.toBytes(s.x)));
    signers.push({
      identifier: s.identifier,
      x: s.x,
      commitment: s.commitment,
      bindingFactor,
      index: s.index,
    });
    if (own && own.identifier === s.identifier) {
      R = group.add(R, own.share(bindingFactor));
      continue;
    }
    R = group.add(R, group.deserialize(s.commitment.hiding, `signingPackage.commitments[${s.index}].hiding`));
    eBytes.push(s.commitment.binding);
    eScalars.push(bindingFactor);
    eFields.push(`signingPackage.commitments[${s.index}].binding`);
  }
  R = group.add(R, group.msmEncoded(eBytes, eScalars, eFields));
  const challenge = suite.challenge(R, prep.groupKey, pkg.message);
  const flipNonces = suite.hooks ? suite.hooks.commitmentNeedsNegation(R) : false;
  return {
    signers,
    byId: new Map(signers.map((s) => [s.identifier, s])),
    groupCommitment: R,
    challenge,
    flipNonces,
  };
}

/** D_i + rho_i * E_i for one signer (culprit search; the happy path never needs it). */
export function commitmentShare<E>(suite: Ciphersuite<E>, signer: SignerEntry): E {
  const { group } = suite;
  const path = `signingPackage.commitments[${signer.index}]`;
  return group.add(
    group.deserialize(signer.commitment.hiding, `${path}.hiding`),
    group.deserializeMul(signer.commitment.binding, signer.bindingFactor, `${path}.binding`),
  );
}

/** RFC 9591 §4.2 derive_interpolating_value for x_i over the signer set. */
export function lagrangeCoefficient<E>(suite: Ciphersuite<E>, xs: readonly bigint[], xi: bigint): bigint {
  const F = suite.field;
  let num = 1n;
  let den = 1n;
  let found = false;
  for (const x of xs) {
    if (x === xi) {
      found = true;
      continue;
    }
    num = F.mul(num, x);
    den = F.mul(den, F.sub(x, xi));
  }
  if (!found) throw new ValidationError('UNKNOWN_IDENTIFIER', 'identifier is not among the signers');
  return F.mul(num, F.inv(den));
}

export function sameCommitment(a: Round1Commitment, b: Round1Commitment): boolean {
  return a.identifier === b.identifier && equalBytes(a.hiding, b.hiding) && equalBytes(a.binding, b.binding);
}
