/**
 * Proactive share refresh: every party adds a share of zero to its signing share, so the group key
 * stays the same while every signing and verifying share changes; shares from before a refresh are
 * useless together with shares from after it. As frost-rs `keys::refresh`:
 *
 * - {@link refreshDealer}: a trusted dealer deals the zero-sharing (frost-rs
 *   `compute_refreshing_shares`), and each party applies its share with {@link applyRefresh}.
 * - {@link refreshRound1} .. {@link refreshRound3}: each participant deals a sharing of zero, as in
 *   the DKG but with the constant-term commitment fixed to the identity (so it is not sent and
 *   needs no proof of knowledge); round 3 yields the same {@link RefreshShare} a dealer would give.
 *
 * A refresh may also drop parties: the refreshed key holds only the participating identifiers
 * (at least `min` of them), and the dropped parties' old shares no longer combine with anyone's.
 */
import { randomBytes } from '@noble/hashes/utils.js';
import { equalBytes } from '../bytes.js';
import { displayValue } from '../codec.js';
import { ProtocolError, ValidationError } from '../errors.js';
import { assertSuite } from '../guards.js';
import {
  type Identifier,
  identifierToScalar,
  type KeyPackage,
  makeKeyPackage,
  type PublicKeyPackage,
  signingShareScalar,
  type Threshold,
  validateThreshold,
} from '../keys.js';
import { SecretBytes } from '../secret.js';
import { rngOrDefault } from '../suite/rng.js';
import type { AnyCiphersuite, Ciphersuite, CiphersuiteId, Rng } from '../suite/types.js';
import { evaluatePolynomial } from './polynomial.js';
import {
  byScalar,
  checkRound3,
  checkSuite,
  decodeCommitment,
  keepPolynomial,
  PolynomialSecret,
  participantsInOrder,
  type SecretKind,
  SharesSecret,
  shareRound2,
} from './sharing.js';

// ---------------------------------------------------------------------------------------------
// Types
// ---------------------------------------------------------------------------------------------

/** What one party needs to refresh its key package: its share of zero and the public commitment. */
export interface RefreshShare {
  readonly suite: CiphersuiteId;
  readonly identifier: Identifier;
  /** This party's share of zero, added to its signing share. */
  readonly zeroShare: SecretBytes;
  /** Commitments to coefficients 1..min-1 of the zero polynomial (its constant term is 0). */
  readonly commitment: readonly Uint8Array[];
  /** The parties in the refreshed key, in identifier order. */
  readonly identifiers: readonly Identifier[];
}

export interface RefreshDealerOutput {
  /** The refreshed public package (each party can recompute it in {@link applyRefresh}). */
  readonly publicPackage: PublicKeyPackage;
  /** One share per identifier (in the order given), for that party only. */
  readonly shares: readonly RefreshShare[];
}

export interface RefreshOutput {
  readonly keyPackage: KeyPackage;
  readonly publicPackage: PublicKeyPackage;
}

/** Distributed refresh round 1, broadcast: commitments to coefficients 1..min-1 of a zero polynomial. */
export interface RefreshRound1Package {
  readonly identifier: Identifier;
  readonly commitment: readonly Uint8Array[];
}

/** Distributed refresh round 2, private to `receiver`: the sender's zero polynomial at the receiver. */
export interface RefreshRound2Package {
  readonly sender: Identifier;
  readonly receiver: Identifier;
  readonly zeroShare: SecretBytes;
}

export interface RefreshRound1Options {
  identifier: Identifier;
  /** The threshold of the key being refreshed. */
  threshold: Threshold;
  rng?: Rng;
}

/** Private state of distributed refresh round 1 (the zero polynomial). Never prints. */
export class RefreshRound1Secret extends PolynomialSecret {}

/** Private state between distributed refresh rounds 2 and 3. Never prints. */
export class RefreshRound2Secret extends SharesSecret {}

const ROUND1: SecretKind<RefreshRound1Secret> = {
  type: RefreshRound1Secret,
  expected: 'the RefreshRound1Secret from refreshRound1',
  what: 'refresh round-1 secret',
};
const ROUND2: SecretKind<RefreshRound2Secret> = {
  type: RefreshRound2Secret,
  expected: 'the RefreshRound2Secret from refreshRound2',
  what: 'refresh round-2 secret',
};

// ---------------------------------------------------------------------------------------------
// Shared
// ---------------------------------------------------------------------------------------------

/** Check a participant list against the public package; returns their scalars in identifier order. */
function checkParticipants(
  suite: AnyCiphersuite,
  pub: PublicKeyPackage,
  identifiers: readonly Identifier[],
  field: string,
): { identifier: Identifier; x: bigint }[] {
  if (!Array.isArray(identifiers)) {
    throw new ValidationError('INVALID_ARGUMENT', `${field}: expected an array of identifiers`, [field]);
  }
  const t = validateThreshold(pub.threshold, 'publicPackage.threshold');
  if (identifiers.length < t.min || identifiers.length > t.max) {
    throw new ValidationError(
      'INVALID_ARGUMENT',
      `${field}: a refresh needs between ${t.min} and ${t.max} participants, got ${identifiers.length}`,
      [field],
    );
  }
  const seen = new Set<Identifier>();
  const xs = identifiers.map((id, i) => {
    const path = `${field}[${i}]`;
    const x = identifierToScalar(suite, id, path);
    if (seen.has(id))
      throw new ValidationError('DUPLICATE_IDENTIFIER', `${path}: ${id} appears twice`, [path]);
    seen.add(id);
    if (!Object.hasOwn(pub.verifyingShares ?? {}, id)) {
      throw new ValidationError('UNKNOWN_IDENTIFIER', `${path}: ${id} holds no share of this key`, [path]);
    }
    return x;
  });
  return byScalar(identifiers, xs).map(({ item, x }) => ({ identifier: item, x }));
}

/**
 * The refreshed public package: each participant's verifying share plus the zero polynomial's
 * evaluation at it; the key polynomial commitments (when known) gain the zero commitments.
 */
function refreshedPublic<E>(
  suite: Ciphersuite<E>,
  pub: PublicKeyPackage,
  participants: readonly { identifier: Identifier; x: bigint }[],
  full: readonly E[],
): { publicPackage: PublicKeyPackage; delta: Map<Identifier, E> } {
  const { group } = suite;
  const verifyingShares: Record<Identifier, Uint8Array> = {};
  const delta = new Map<Identifier, E>();
  for (const { identifier, x } of participants) {
    const old = group.deserialize(
      pub.verifyingShares[identifier]!,
      `publicPackage.verifyingShares.${identifier}`,
    );
    const d = group.evalCommitment(full, x);
    delta.set(identifier, d);
    verifyingShares[identifier] = group.serialize(group.add(old, d));
  }
  let commitments: Uint8Array[] | undefined;
  if (pub.commitments && pub.commitments.length === full.length) {
    commitments = pub.commitments.map((c, k) =>
      k === 0
        ? Uint8Array.from(c)
        : group.serialize(group.add(group.deserialize(c, `publicPackage.commitments[${k}]`), full[k]!)),
    );
  }
  const threshold = Object.freeze({ min: pub.threshold.min, max: participants.length });
  const publicPackage: PublicKeyPackage = Object.freeze({
    suite: suite.id,
    groupPublicKey: Uint8Array.from(pub.groupPublicKey),
    verifyingShares: Object.freeze(verifyingShares),
    threshold,
    ...(commitments ? { commitments: Object.freeze(commitments) } : {}),
  });
  return { publicPackage, delta };
}

function checkPublic(suite: AnyCiphersuite, pub: PublicKeyPackage): void {
  if (!pub || typeof pub !== 'object')
    throw new ValidationError('INVALID_ARGUMENT', 'publicPackage: expected object', ['publicPackage']);
  checkSuite(suite, pub.suite, 'publicPackage');
  suite.group.deserialize(pub.groupPublicKey, 'publicPackage.groupPublicKey');
}

// ---------------------------------------------------------------------------------------------
// Trusted-dealer refresh
// ---------------------------------------------------------------------------------------------

/**
 * A trusted dealer deals a fresh sharing of zero to `identifiers` (all or at least `min` of the
 * key's parties). Hand each party its {@link RefreshShare} privately; each applies it with
 * {@link applyRefresh}.
 */
export function refreshDealer(
  suite: AnyCiphersuite,
  publicPackage: PublicKeyPackage,
  identifiers: readonly Identifier[],
  rng: Rng = randomBytes,
): RefreshDealerOutput {
  assertSuite(suite);
  return dealerTyped(suite, publicPackage, identifiers, rng);
}

function dealerTyped<E>(
  suite: Ciphersuite<E>,
  pub: PublicKeyPackage,
  identifiers: readonly Identifier[],
  rng: Rng,
): RefreshDealerOutput {
  const anySuite = suite as AnyCiphersuite;
  checkPublic(anySuite, pub);
  const participants = checkParticipants(anySuite, pub, identifiers, 'identifiers');
  const { group, field } = suite;
  const coefficients = [0n];
  for (let k = 1; k < pub.threshold.min; k++) coefficients.push(field.random(rng));
  const full = coefficients.map((a) => (a === 0n ? group.zero : group.mulBase(a)));
  const commitment = full.slice(1).map((c) => group.serialize(c));
  const { publicPackage } = refreshedPublic(suite, pub, participants, full);
  const ids = Object.freeze(participants.map((p) => p.identifier));
  const xOf = new Map(participants.map((p) => [p.identifier, p.x]));
  // Shares come back in the caller's identifier order.
  const shares = identifiers.map((identifier) =>
    Object.freeze({
      suite: suite.id,
      identifier,
      zeroShare: new SecretBytes(
        field.toBytes(evaluatePolynomial(suite, coefficients, xOf.get(identifier)!)),
      ),
      commitment: Object.freeze([...commitment]),
      identifiers: ids,
    }),
  );
  coefficients.fill(0n);
  return Object.freeze({ publicPackage, shares: Object.freeze(shares) });
}

// ---------------------------------------------------------------------------------------------
// Applying a refresh
// ---------------------------------------------------------------------------------------------

/**
 * Apply a share of zero (from {@link refreshDealer} or {@link refreshRound3}) to a key package.
 * Checks the share against its commitment (`ProtocolError(INVALID_SECRET_SHARE)` when it does
 * not match) and returns the new key package and the new public package; the group key is
 * unchanged. The old key package should be wiped once the new one is stored.
 */
export function applyRefresh(
  suite: AnyCiphersuite,
  keyPackage: KeyPackage,
  publicPackage: PublicKeyPackage,
  share: RefreshShare,
): RefreshOutput {
  assertSuite(suite);
  return applyTyped(suite, keyPackage, publicPackage, share);
}

function applyTyped<E>(
  suite: Ciphersuite<E>,
  kp: KeyPackage,
  pub: PublicKeyPackage,
  share: RefreshShare,
): RefreshOutput {
  const anySuite = suite as AnyCiphersuite;
  const { group, field } = suite;
  checkPublic(anySuite, pub);
  checkSuite(anySuite, kp?.suite, 'keyPackage');
  if (!share || typeof share !== 'object')
    throw new ValidationError('INVALID_ARGUMENT', 'share: expected a RefreshShare', ['share']);
  checkSuite(anySuite, share.suite, 'share');
  if (share.identifier !== kp.identifier) {
    throw new ValidationError(
      'INVALID_ARGUMENT',
      `share is for ${displayValue(share.identifier)}, not ${displayValue(kp.identifier)}`,
      ['share.identifier'],
    );
  }
  if (!equalBytes(kp.groupPublicKey, pub.groupPublicKey)) {
    throw new ValidationError('INVALID_ARGUMENT', 'keyPackage and publicPackage have different group keys', [
      'keyPackage.groupPublicKey',
    ]);
  }
  const ownVerifying = pub.verifyingShares?.[kp.identifier];
  if (!ownVerifying || !equalBytes(ownVerifying, kp.verifyingShare)) {
    throw new ValidationError(
      'INVALID_ARGUMENT',
      'keyPackage.verifyingShare is not the one in publicPackage',
      ['keyPackage.verifyingShare'],
    );
  }
  const participants = checkParticipants(anySuite, pub, share.identifiers, 'share.identifiers');
  const me = participants.find((p) => p.identifier === kp.identifier);
  if (!me)
    throw new ValidationError(
      'INVALID_ARGUMENT',
      `share.identifiers does not include ${displayValue(kp.identifier)}`,
      ['share.identifiers'],
    );
  const min = pub.threshold.min;
  const full = [group.zero, ...decodeCommitment(suite, share.commitment, min - 1, 'share.commitment')];
  if (!(share.zeroShare instanceof SecretBytes) || share.zeroShare.wiped) {
    throw new ValidationError('INVALID_ARGUMENT', 'share.zeroShare: expected a live SecretBytes', [
      'share.zeroShare',
    ]);
  }
  const z = field.fromBytes(share.zeroShare.expose(), 'share.zeroShare');
  const { publicPackage, delta } = refreshedPublic(suite, pub, participants, full);
  if (!group.equals(group.mulBase(z), delta.get(kp.identifier)!)) {
    throw new ProtocolError('INVALID_SECRET_SHARE', 'the share of zero does not match its commitment');
  }
  const s = field.add(signingShareScalar(anySuite, kp), z);
  const keyPackage = makeKeyPackage(
    anySuite,
    kp.identifier,
    s,
    publicPackage.verifyingShares[kp.identifier]!,
    publicPackage.groupPublicKey,
    publicPackage.threshold,
  );
  return Object.freeze({ keyPackage, publicPackage });
}

// ---------------------------------------------------------------------------------------------
// Distributed refresh
// ---------------------------------------------------------------------------------------------

/** Distributed refresh round 1: draw a zero polynomial of degree min-1 and commit to it. */
export function refreshRound1(
  suite: AnyCiphersuite,
  options: RefreshRound1Options,
): { readonly package: RefreshRound1Package; readonly secret: RefreshRound1Secret } {
  assertSuite(suite);
  return r1Typed(suite, options);
}

function r1Typed<E>(suite: Ciphersuite<E>, options: RefreshRound1Options) {
  if (!options || typeof options !== 'object') {
    throw new ValidationError('INVALID_ARGUMENT', 'options: expected {identifier, threshold, rng}', [
      'options',
    ]);
  }
  const anySuite = suite as AnyCiphersuite;
  const threshold = validateThreshold(options.threshold, 'options.threshold');
  const x = identifierToScalar(anySuite, options.identifier, 'options.identifier');
  const rng = rngOrDefault(options.rng, 'options.rng');
  const { group, field } = suite;
  const coefficients = [0n];
  for (let k = 1; k < threshold.min; k++) coefficients.push(field.random(rng));
  const elements = coefficients.slice(1).map((a) => group.mulBase(a));
  const commitment = elements.map((c) => group.serialize(c));
  const pkg: RefreshRound1Package = Object.freeze({
    identifier: options.identifier,
    commitment: Object.freeze(commitment),
  });
  const secret = new RefreshRound1Secret(suite.id, options.identifier, threshold, commitment);
  keepPolynomial(secret, {
    suite: anySuite,
    x,
    coefficients,
    commitment: [group.zero, ...elements],
    consumed: false,
  });
  return Object.freeze({ package: pkg, secret });
}

/**
 * Distributed refresh round 2: check the other participants' commitments (`ProtocolError
 * (INVALID_DEALING)` naming every culprit) and compute one private share of zero per participant.
 * Between min-1 and max-1 other participants may take part.
 */
export function refreshRound2(
  suite: AnyCiphersuite,
  secret: RefreshRound1Secret,
  round1Packages: readonly RefreshRound1Package[],
): { readonly packages: readonly RefreshRound2Package[]; readonly secret: RefreshRound2Secret } {
  assertSuite(suite);
  return r2Typed(suite, secret, round1Packages);
}

function r2Typed<E>(
  suite: Ciphersuite<E>,
  secret: RefreshRound1Secret,
  round1Packages: readonly RefreshRound1Package[],
) {
  const { group, field } = suite;
  const out = shareRound2(
    suite,
    secret,
    ROUND1,
    round1Packages,
    ({ min, max }) => ({
      count: { min: min - 1, max: max - 1 },
      changed: 'refresh round 2 already ran on other round-1 packages',
      decode: (bytes, at) => [group.zero, ...decodeCommitment(suite, bytes, min - 1, at)],
      refusal: {
        code: 'INVALID_DEALING',
        message: (culprits) => `invalid refresh commitment from ${culprits.join(', ')}`,
      },
    }),
    () => new RefreshRound2Secret(suite.id, secret.identifier, secret.threshold),
  );
  const packages: RefreshRound2Package[] = out.shares.map(({ peer, share }) =>
    Object.freeze({
      sender: secret.identifier,
      receiver: peer.identifier,
      zeroShare: new SecretBytes(field.toBytes(share)),
    }),
  );
  return Object.freeze({ packages: Object.freeze(packages), secret: out.secret });
}

/**
 * Distributed refresh round 3: check the received shares of zero against their senders'
 * commitments (batched; `ProtocolError(INVALID_SECRET_SHARE)` naming culprits) and return this
 * party's {@link RefreshShare}, to pass to {@link applyRefresh}.
 */
export function refreshRound3(
  suite: AnyCiphersuite,
  secret: RefreshRound2Secret,
  round1Packages: readonly RefreshRound1Package[],
  round2Packages: readonly RefreshRound2Package[],
): RefreshShare {
  assertSuite(suite);
  return r3Typed(suite, secret, round1Packages, round2Packages);
}

function r3Typed<E>(
  suite: Ciphersuite<E>,
  secret: RefreshRound2Secret,
  round1Packages: readonly RefreshRound1Package[],
  round2Packages: readonly RefreshRound2Package[],
): RefreshShare {
  const { group, field } = suite;
  const checked = checkRound3(suite, secret, ROUND2, round1Packages, round2Packages, ({ min, max }) => ({
    count: { min: min - 1, max: max - 1 },
    changed: 'round1Packages differ from the ones refresh round 2 checked',
    shareOf: (p) => p.zeroShare,
    decode: (bytes, field) => [group.zero, ...decodeCommitment(suite, bytes, min - 1, field)],
  }));
  const { st } = checked;
  const { summed } = checked;
  let { total } = checked;
  if (summed.slice(1).some((c) => group.isZero(c))) {
    throw new ProtocolError('INVALID_DEALING', 'the summed refresh commitment has an identity coefficient');
  }
  const identifiers = participantsInOrder(secret.identifier, st.x, st.peers).map((p) => p.identifier);
  const share: RefreshShare = Object.freeze({
    suite: suite.id,
    identifier: secret.identifier,
    zeroShare: new SecretBytes(field.toBytes(total)),
    commitment: Object.freeze(summed.slice(1).map((c) => group.serialize(c))),
    identifiers: Object.freeze(identifiers),
  });
  total = 0n;
  secret.wipe();
  return share;
}
