/**
 * Signing round two (RFC 9591 §5.2): a signer checks the signing package, computes its share and
 * wipes the nonces it used, so a second use of the same nonces fails.
 */
import { equalBytes } from '../bytes.js';
import { displayValue } from '../codec.js';
import { ProtocolError, ValidationError } from '../errors.js';
import { assertArray, assertObject, assertSecret, assertSuite } from '../guards.js';
import {
  checkKeyPackage,
  type Identifier,
  type KeyPackage,
  type PublicKeyPackage,
  preparePublic,
  signingShareScalar,
} from '../keys.js';
import type { AnyCiphersuite, Ciphersuite } from '../suite/types.js';
import { computeContext, lagrangeCoefficient, type SigningPackage, sameCommitment } from './context.js';
import type { SigningNonces } from './round1.js';

export interface SignatureShare {
  readonly identifier: Identifier;
  readonly share: Uint8Array;
}

export function signShare(
  suite: AnyCiphersuite,
  keyPackage: KeyPackage,
  nonces: SigningNonces,
  signingPackage: SigningPackage,
  publicPackage: PublicKeyPackage,
): SignatureShare {
  assertSuite(suite);
  return signShareTyped(suite, keyPackage, nonces, signingPackage, publicPackage);
}

function signShareTyped<E>(
  suite: Ciphersuite<E>,
  kp: KeyPackage,
  nonces: SigningNonces,
  pkg: SigningPackage,
  pub: PublicKeyPackage,
): SignatureShare {
  const { field, group } = suite;
  checkKeyPackage(suite as AnyCiphersuite, kp);
  const prep = preparePublic(suite, pub);
  if (
    !(kp.groupPublicKey instanceof Uint8Array) ||
    Buffer.compare(kp.groupPublicKey, pub.groupPublicKey) !== 0
  ) {
    throw new ValidationError('INVALID_ARGUMENT', 'keyPackage and publicPackage have different group keys', [
      'keyPackage.groupPublicKey',
    ]);
  }
  assertObject(nonces, 'nonces');
  assertSecret(nonces.hiding, 'nonces.hiding', false);
  assertSecret(nonces.binding, 'nonces.binding', false);
  assertObject(nonces.commitment, 'nonces.commitment');
  // The signing package's shape is the caller's to get right: checked before any protocol rule.
  assertObject(pkg, 'signingPackage');
  assertArray(pkg.commitments, 'signingPackage.commitments');
  if (nonces.hiding.wiped || nonces.binding.wiped) {
    throw new ProtocolError('NONCE_REUSE', 'these signing nonces were already used; a nonce signs once');
  }
  const own = pkg.commitments.filter((c) => c?.identifier === kp.identifier);
  if (own.length === 0) {
    throw new ProtocolError(
      'MISSING_OWN_COMMITMENT',
      `signingPackage has no commitment for signer ${displayValue(kp.identifier)}`,
    );
  }
  if (own.length > 1 || !sameCommitment(own[0]!, nonces.commitment)) {
    throw new ProtocolError(
      'COMMITMENT_MISMATCH',
      `signingPackage's commitment for signer ${displayValue(kp.identifier)} is not the one these nonces made`,
    );
  }
  const d = field.fromBytes(nonces.hiding.expose(), 'nonces.hiding');
  const e = field.fromBytes(nonces.binding.expose(), 'nonces.binding');
  // Zero nonces (bytes wiped in place) would make the share lambda*c*s: the signing share itself.
  if (d === 0n || e === 0n) {
    throw new ProtocolError('NONCE_REUSE', 'these signing nonces are zero (wiped): a nonce signs once');
  }
  // The nonces must be the ones behind the commitment they carry: nonces paired with another
  // round's commitment would sign under that commitment and again under their own.
  if (
    !equalBytes(group.serialize(group.mulBase(d)), nonces.commitment.hiding) ||
    !equalBytes(group.serialize(group.mulBase(e)), nonces.commitment.binding)
  ) {
    throw new ProtocolError(
      'COMMITMENT_MISMATCH',
      `the signing nonces of signer ${displayValue(kp.identifier)} do not make the commitment they carry`,
    );
  }
  const ctx = computeContext(suite, prep, pkg, {
    identifier: kp.identifier,
    // Own commitment share D + rho*E = (d + rho*e)G: one base multiplication, nothing to decode.
    share: (rho) => group.mulBase(field.add(d, field.mul(rho, e))),
  });
  const me = ctx.byId.get(kp.identifier)!;
  let s = signingShareScalar(suite, kp);
  if (prep.negated) s = field.neg(s);
  const lambda = lagrangeCoefficient(
    suite,
    ctx.signers.map((x) => x.x),
    me.x,
  );
  let dd = d;
  let ee = e;
  if (ctx.flipNonces) {
    dd = field.neg(d);
    ee = field.neg(e);
  }
  // z_i = d_i + e_i * rho_i + lambda_i * s_i * c
  const z = field.add(
    field.add(dd, field.mul(ee, me.bindingFactor)),
    field.mul(field.mul(lambda, s), ctx.challenge),
  );
  nonces.hiding.wipe();
  nonces.binding.wipe();
  return Object.freeze({ identifier: kp.identifier, share: field.toBytes(z) });
}
