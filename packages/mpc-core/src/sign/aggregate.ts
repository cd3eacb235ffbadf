/**
 * Coordinator side (RFC 9591 §5.3-5.4): verify signature shares, aggregate them, verify the
 * result. A bad share makes `aggregate` throw a `ProtocolError` naming every culprit.
 */
import { displayValue } from '../codec.js';
import { ProtocolError, ValidationError } from '../errors.js';
import { assertObject, assertSuite } from '../guards.js';
import { type Identifier, type PreparedPublic, type PublicKeyPackage, preparePublic } from '../keys.js';
import type { AnyCiphersuite, Ciphersuite } from '../suite/types.js';
import {
  commitmentShare,
  computeContext,
  lagrangeCoefficient,
  type SignerEntry,
  type SigningContext,
  type SigningPackage,
} from './context.js';
import type { SignatureShare } from './round2.js';

function shareMap(
  shares: readonly SignatureShare[] | Readonly<Record<Identifier, Uint8Array>>,
): Map<Identifier, Uint8Array> {
  const m = new Map<Identifier, Uint8Array>();
  if (Array.isArray(shares)) {
    for (const [i, s] of shares.entries()) {
      if (!s || typeof s.identifier !== 'string' || !(s.share instanceof Uint8Array)) {
        throw new ValidationError('INVALID_ARGUMENT', `shares[${i}]: expected {identifier, share}`, [
          `shares[${i}]`,
        ]);
      }
      if (m.has(s.identifier)) {
        throw new ValidationError('DUPLICATE_IDENTIFIER', `shares[${i}]: second share from ${s.identifier}`, [
          `shares[${i}]`,
        ]);
      }
      m.set(s.identifier, s.share);
    }
  } else {
    assertObject(shares, 'shares');
    for (const [id, share] of Object.entries(shares)) {
      // A caller's wrong-typed entry blames nobody, as in the array form.
      if (!(share instanceof Uint8Array)) {
        throw new ValidationError('INVALID_ARGUMENT', `shares.${id}: expected a Uint8Array`, [
          `shares.${id}`,
        ]);
      }
      m.set(id, share);
    }
  }
  return m;
}

/** RFC 9591 §5.4: z_i * G == commShare_i + (c * lambda_i) * Y_i. */
function shareIsValid<E>(
  suite: Ciphersuite<E>,
  prep: PreparedPublic<E>,
  ctx: SigningContext<E>,
  signer: SignerEntry,
  bytes: Uint8Array,
): boolean {
  const { group, field } = suite;
  let z: bigint;
  try {
    z = field.fromBytes(bytes, `shares.${signer.identifier}`);
  } catch {
    return false;
  }
  const share = commitmentShare(suite, signer);
  const commShare = ctx.flipNonces ? group.neg(share) : share;
  const lambda = lagrangeCoefficient(
    suite,
    ctx.signers.map((s) => s.x),
    signer.x,
  );
  const Y = prep.shares.get(signer.identifier)!;
  const rhs = group.add(commShare, group.mul(Y, field.mul(ctx.challenge, lambda)));
  return group.equals(group.mulBase(z), rhs);
}

/** Which signers' shares fail the §5.4 check. */
function findCulprits<E>(
  suite: Ciphersuite<E>,
  prep: PreparedPublic<E>,
  ctx: SigningContext<E>,
  shares: ReadonlyMap<Identifier, Uint8Array>,
): Identifier[] {
  return ctx.signers
    .filter((signer) => !shareIsValid(suite, prep, ctx, signer, shares.get(signer.identifier)!))
    .map((s) => s.identifier);
}

function encodeSignature<E>(suite: Ciphersuite<E>, R: E, z: bigint): Uint8Array {
  if (suite.hooks) return suite.hooks.encodeSignature(R, z);
  const r = suite.group.serialize(R);
  const out = new Uint8Array(r.length + suite.field.BYTES);
  out.set(r);
  out.set(suite.field.toBytes(z), r.length);
  return out;
}

function checkShareSet(pkg: SigningPackage, shares: ReadonlyMap<Identifier, Uint8Array>): void {
  const ids = new Set((pkg?.commitments ?? []).map((c) => c?.identifier));
  for (const id of shares.keys()) {
    if (!ids.has(id)) {
      throw new ValidationError(
        'UNKNOWN_IDENTIFIER',
        `a share from ${id}, who has no commitment in the signing package`,
        [`shares.${id}`],
      );
    }
  }
  for (const id of ids) {
    if (!shares.has(id as Identifier)) {
      throw new ValidationError('TOO_FEW_SIGNERS', `no share from committed signer ${displayValue(id)}`, [
        `shares.${displayValue(id)}`,
      ]);
    }
  }
}

export function aggregate(
  suite: AnyCiphersuite,
  signingPackage: SigningPackage,
  shares: readonly SignatureShare[] | Readonly<Record<Identifier, Uint8Array>>,
  publicPackage: PublicKeyPackage,
): Uint8Array {
  assertSuite(suite);
  return aggregateTyped(suite, signingPackage, shares, publicPackage);
}

function aggregateTyped<E>(
  suite: Ciphersuite<E>,
  pkg: SigningPackage,
  rawShares: readonly SignatureShare[] | Readonly<Record<Identifier, Uint8Array>>,
  pub: PublicKeyPackage,
): Uint8Array {
  const { field } = suite;
  const prep = preparePublic(suite, pub);
  const shares = shareMap(rawShares);
  // The package first: a malformed entry is named as the package's field, as verifyShare names it.
  const ctx = computeContext(suite, prep, pkg);
  checkShareSet(pkg, shares);
  let z = 0n;
  let malformed = false;
  for (const s of ctx.signers) {
    try {
      z = field.add(z, field.fromBytes(shares.get(s.identifier)!, `shares.${s.identifier}`));
    } catch {
      malformed = true;
    }
  }
  if (!malformed) {
    const sig = encodeSignature(suite, ctx.groupCommitment, z);
    if (suite.verifySignature(pub.groupPublicKey, pkg.message, sig)) return sig;
  }
  const culprits = findCulprits(suite, prep, ctx, shares);
  throw new ProtocolError(
    'INVALID_SIGNATURE_SHARE',
    culprits.length
      ? `invalid signature share from ${culprits.join(', ')}`
      : 'the aggregate signature does not verify, and no single share is at fault',
    culprits,
  );
}

/**
 * Check one signature share (RFC 9591 §5.4). Throws `ProtocolError(INVALID_SIGNATURE_SHARE)` with
 * the signer as culprit when it is wrong.
 */
export function verifyShare(
  suite: AnyCiphersuite,
  signingPackage: SigningPackage,
  share: SignatureShare,
  publicPackage: PublicKeyPackage,
): void {
  const prep = preparePublic(suite, publicPackage);
  const ctx = computeContext(suite, prep, signingPackage);
  if (!ctx.byId.has(share?.identifier)) {
    throw new ValidationError(
      'UNKNOWN_IDENTIFIER',
      `share from ${displayValue(share?.identifier)}, who is not a committed signer`,
      ['share.identifier'],
    );
  }
  if (!shareIsValid(suite, prep, ctx, ctx.byId.get(share.identifier)!, share.share)) {
    throw new ProtocolError('INVALID_SIGNATURE_SHARE', `invalid signature share from ${share.identifier}`, [
      share.identifier,
    ]);
  }
}

/** Verify a final signature under an encoded group public key. */
export function verify(
  suite: AnyCiphersuite,
  groupPublicKey: Uint8Array,
  message: Uint8Array,
  signature: Uint8Array,
): boolean {
  assertSuite(suite);
  if (
    !(groupPublicKey instanceof Uint8Array) ||
    !(message instanceof Uint8Array) ||
    !(signature instanceof Uint8Array)
  ) {
    return false;
  }
  return suite.verifySignature(groupPublicKey, message, signature);
}
