/**
 * Distributed key generation: the three-round Pedersen DKG with proofs of knowledge, as frost-rs
 * `keys::dkg` and noble's `DKG` run it, as pure functions over one message type per round.
 *
 * Round 1 (broadcast): each party draws a secret polynomial, commits to its coefficients and
 * proves knowledge of the constant term. Round 2 (one private message per peer): after checking
 * every peer's proof and commitment, each party sends peer j its polynomial evaluated at x_j.
 * Round 3 (local): each party checks the shares it received against the senders' commitments and
 * derives its key package and the public package. Nobody ever holds the group secret.
 *
 * Outputs are byte-identical to noble's `ed25519_FROST` / `secp256k1_FROST` / `schnorr_FROST`
 * `DKG` for the same rng stream (the TR suite applies the same BIP-341 tweak with the empty
 * merkle root as `schnorr_FROST` and frost-rs `frost-secp256k1-tr` do).
 */
import { concatBytes, equalBytes } from '../bytes.js';
import { displayValue } from '../codec.js';
import { ValidationError } from '../errors.js';
import { assertObject, assertSuite } from '../guards.js';
import {
  type Identifier,
  identifierToScalar,
  type KeyPackage,
  makeKeyPackage,
  type PublicKeyPackage,
  type Threshold,
  validateThreshold,
} from '../keys.js';
import { SecretBytes } from '../secret.js';
import { rngOrDefault } from '../suite/rng.js';
import type { AnyCiphersuite, Ciphersuite, Rng } from '../suite/types.js';
import { commitPolynomial, randomPolynomial } from './polynomial.js';
import {
  checkRound3,
  decodeCommitment,
  keepPolynomial,
  PolynomialSecret,
  participantsInOrder,
  type SecretKind,
  SharesSecret,
  shareRound2,
} from './sharing.js';

// ---------------------------------------------------------------------------------------------
// Message and state types
// ---------------------------------------------------------------------------------------------

/** Round 1, broadcast to every other party: coefficient commitments and the proof of knowledge. */
export interface DkgRound1Package {
  readonly identifier: Identifier;
  /** SerializeElement(a_k * G) for k = 0..min-1. */
  readonly commitment: readonly Uint8Array[];
  /** Schnorr proof of knowledge of a_0: SerializeElement(R) || SerializeScalar(mu) (x-only R for TR). */
  readonly proofOfKnowledge: Uint8Array;
}

/** Round 2, sent privately to `receiver` only: the sender's polynomial evaluated at the receiver. */
export interface DkgRound2Package {
  readonly sender: Identifier;
  readonly receiver: Identifier;
  readonly signingShare: SecretBytes;
}

export interface DkgRound1Options {
  identifier: Identifier;
  threshold: Threshold;
  rng?: Rng;
}

export interface DkgRound1Output {
  readonly package: DkgRound1Package;
  readonly secret: DkgRound1Secret;
}

export interface DkgRound2Output {
  /** One package per peer, addressed to it. */
  readonly packages: readonly DkgRound2Package[];
  readonly secret: DkgRound2Secret;
}

export interface DkgOutput {
  readonly keyPackage: KeyPackage;
  readonly publicPackage: PublicKeyPackage;
}

/**
 * A party's private round-1 state (its polynomial). Keep it until round 3; it never prints.
 * The coefficients live outside the object's fields, so no encoder or logger can reach them.
 */
export class DkgRound1Secret extends PolynomialSecret {}

/** A party's private state between rounds 2 and 3 (its own share and the checked transcript). */
export class DkgRound2Secret extends SharesSecret {}

const ROUND1: SecretKind<DkgRound1Secret> = {
  type: DkgRound1Secret,
  expected: 'the DkgRound1Secret from dkgRound1',
  what: 'round-1 secret',
};
const ROUND2: SecretKind<DkgRound2Secret> = {
  type: DkgRound2Secret,
  expected: 'the DkgRound2Secret from dkgRound2',
  what: 'round-2 secret',
};

/** Encode a Schnorr proof (R, mu) as the suite's signatures are (x-only R for BIP-340). */
function encodeProof<E>(suite: Ciphersuite<E>, R: E, mu: bigint): Uint8Array {
  if (suite.hooks) return suite.hooks.encodeSignature(R, mu);
  return concatBytes(suite.group.serialize(R), suite.field.toBytes(mu));
}

/** frost-rs / noble PoK challenge: HDKG(SerializeScalar(id) || SerializeElement(C_0) || SerializeElement(R)). */
function pokChallenge<E>(suite: Ciphersuite<E>, x: bigint, c0: Uint8Array, R: Uint8Array): bigint {
  return suite.HDKG(concatBytes(suite.field.toBytes(x), c0, R));
}

/**
 * Check a proof of knowledge of the discrete log of `c0`. Returns false for any malformed or
 * wrong proof. R is never decoded: z*G - c*C_0 is computed and its encoding compared with R's.
 */
function checkProof<E>(
  suite: Ciphersuite<E>,
  x: bigint,
  c0: E,
  c0Bytes: Uint8Array,
  proof: Uint8Array,
): boolean {
  const { group, field } = suite;
  const rLen = suite.hooks ? suite.hooks.signatureRLength : group.elementLength;
  if (!(proof instanceof Uint8Array) || proof.length !== rLen + field.BYTES) return false;
  let z: bigint;
  try {
    z = field.fromBytes(proof.subarray(rLen), 'proofOfKnowledge.z');
  } catch {
    return false;
  }
  // BIP-340: R is x-only with even y, i.e. the compressed encoding 0x02 || x.
  const rBytes = suite.hooks
    ? concatBytes(Uint8Array.of(0x02), proof.subarray(0, rLen))
    : proof.subarray(0, rLen);
  const c = pokChallenge(suite, x, c0Bytes, rBytes);
  const expectedR = group.sub(group.mulBase(z), group.mul(c0, c));
  if (group.isZero(expectedR)) return false;
  return equalBytes(group.serialize(expectedR), rBytes);
}

// ---------------------------------------------------------------------------------------------
// Round 1
// ---------------------------------------------------------------------------------------------

/**
 * Round 1: draw the secret polynomial (degree min-1), commit to it and prove knowledge of its
 * constant term. Broadcast `package`; keep `secret`. Consumes `rng` exactly as noble's `DKG.round1`.
 */
export function dkgRound1(suite: AnyCiphersuite, options: DkgRound1Options): DkgRound1Output {
  assertSuite(suite);
  return round1Typed(suite, options);
}

function round1Typed<E>(suite: Ciphersuite<E>, options: DkgRound1Options): DkgRound1Output {
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
  const coefficients = randomPolynomial(suite, threshold.min, rng);
  const commitmentElements = commitPolynomial(suite, coefficients);
  const commitment = commitmentElements.map((c) => group.serialize(c));
  // Proof of knowledge of a_0: nonce k (even-y normalised for BIP-340), R = kG, mu = k + a_0 * c.
  let k = field.random(rng);
  if (suite.hooks) k = suite.hooks.adjustScalar(k);
  const R = group.mulBase(k);
  const c = pokChallenge(suite, x, commitment[0]!, group.serialize(R));
  const proofOfKnowledge = encodeProof(suite, R, field.add(k, field.mul(coefficients[0]!, c)));
  k = 0n;
  const pkg: DkgRound1Package = Object.freeze({
    identifier: options.identifier,
    commitment: Object.freeze(commitment),
    proofOfKnowledge,
  });
  const secret = new DkgRound1Secret(suite.id, options.identifier, threshold, commitment);
  keepPolynomial(secret, {
    suite: anySuite,
    x,
    coefficients,
    commitment: commitmentElements,
    consumed: false,
  });
  return Object.freeze({ package: pkg, secret });
}

// ---------------------------------------------------------------------------------------------
// Round 2
// ---------------------------------------------------------------------------------------------

/**
 * Round 2: check every peer's round-1 package (commitment length, valid points, proof of
 * knowledge) and compute one private share per peer. A bad package throws
 * `ProtocolError(INVALID_PROOF_OF_KNOWLEDGE)` naming every culprit. Calling round 2 again is only
 * allowed with the same transcript (it then returns the same shares).
 */
export function dkgRound2(
  suite: AnyCiphersuite,
  secret: DkgRound1Secret,
  round1Packages: readonly DkgRound1Package[],
): DkgRound2Output {
  assertSuite(suite);
  return round2Typed(suite, secret, round1Packages);
}

function round2Typed<E>(
  suite: Ciphersuite<E>,
  secret: DkgRound1Secret,
  round1Packages: readonly DkgRound1Package[],
): DkgRound2Output {
  const { field } = suite;
  const out = shareRound2(
    suite,
    secret,
    ROUND1,
    round1Packages,
    ({ min, max }) => ({
      count: { min: max - 1, max: max - 1 },
      changed: 'round 2 already ran on a different set of round-1 packages; refusing to share again',
      decode: (bytes, at) => decodeCommitment(suite, bytes, min, at),
      check: (p, x, commitment) =>
        checkProof(suite, x, commitment[0]!, p.commitment[0]!, p.proofOfKnowledge)
          ? undefined
          : 'INVALID_PROOF',
      refusal: {
        code: 'INVALID_PROOF_OF_KNOWLEDGE',
        message: (culprits) =>
          `invalid round-1 package (commitment or proof of knowledge) from ${culprits.join(', ')}`,
      },
    }),
    () => new DkgRound2Secret(suite.id, secret.identifier, secret.threshold),
  );
  const packages: DkgRound2Package[] = out.shares.map(({ peer, share }) =>
    Object.freeze({
      sender: secret.identifier,
      receiver: peer.identifier,
      signingShare: new SecretBytes(field.toBytes(share)),
    }),
  );
  return Object.freeze({ packages: Object.freeze(packages), secret: out.secret });
}

// ---------------------------------------------------------------------------------------------
// Round 3
// ---------------------------------------------------------------------------------------------

/**
 * Round 3: check the received shares against the senders' commitments (one batched check;
 * per-sender checks only to name culprits: `ProtocolError(INVALID_SECRET_SHARE)`), then derive this
 * party's key package and the public package (every party's verifying share). The round-1 packages
 * must be the ones round 2 checked. Wipes the secrets.
 */
export function dkgRound3(
  suite: AnyCiphersuite,
  secret: DkgRound2Secret,
  round1Packages: readonly DkgRound1Package[],
  round2Packages: readonly DkgRound2Package[],
): DkgOutput {
  assertSuite(suite);
  return round3Typed(suite, secret, round1Packages, round2Packages);
}

function round3Typed<E>(
  suite: Ciphersuite<E>,
  secret: DkgRound2Secret,
  round1Packages: readonly DkgRound1Package[],
  round2Packages: readonly DkgRound2Package[],
): DkgOutput {
  const anySuite = suite as AnyCiphersuite;
  const { group, field } = suite;
  const checked = checkRound3(suite, secret, ROUND2, round1Packages, round2Packages, ({ min, max }) => ({
    count: { min: max - 1, max: max - 1 },
    changed: 'round1Packages differ from the ones round 2 checked',
    shareOf: (p) => p.signingShare,
    decode: (bytes, field) => decodeCommitment(suite, bytes, min, field),
  }));
  const { st } = checked;
  const { min, max } = secret.threshold;
  let { total, summed } = checked;

  // Every party's verifying share, in identifier order (own one is already known).
  const ids = participantsInOrder(secret.identifier, st.x, st.peers);
  let verifying = ids.map(({ identifier, x }) =>
    identifier === secret.identifier ? checked.ownVerifying : group.evalCommitment(summed, x),
  );

  // BIP-340/341 (TR suite): make the key even-y and apply the TapTweak with the empty merkle
  // root, as frost-rs frost-secp256k1-tr and noble's schnorr_FROST do for DKG output.
  if (suite.hooks) {
    const hooks = suite.hooks;
    if (hooks.keyNeedsNegation(summed[0]!)) {
      summed = summed.map((c) => group.neg(c));
      verifying = verifying.map((v) => group.neg(v));
      total = field.neg(total);
    }
    const tweak = hooks.tapTweak(summed[0]!, new Uint8Array(0));
    if (tweak !== 0n) {
      const T = group.mulBase(tweak);
      summed[0] = group.add(summed[0]!, T);
      verifying = verifying.map((v) => group.add(v, T));
      total = field.add(total, tweak);
    }
  }

  const commitments = summed.map((c) => group.serialize(c));
  const groupPublicKey = commitments[0]!;
  const verifyingShares: Record<Identifier, Uint8Array> = {};
  ids.forEach(({ identifier }, i) => {
    verifyingShares[identifier] = group.serialize(verifying[i]!);
  });
  const threshold = { min, max };
  const keyPackage = makeKeyPackage(
    anySuite,
    secret.identifier,
    total,
    verifyingShares[secret.identifier]!,
    groupPublicKey,
    threshold,
  );
  total = 0n;
  secret.wipe();
  const publicPackage: PublicKeyPackage = Object.freeze({
    suite: suite.id,
    groupPublicKey,
    verifyingShares: Object.freeze(verifyingShares),
    threshold: Object.freeze(threshold),
    commitments: Object.freeze(commitments),
  });
  return Object.freeze({ keyPackage, publicPackage });
}

// ---------------------------------------------------------------------------------------------
// All parties in one process
// ---------------------------------------------------------------------------------------------

export interface LocalDkgOptions {
  identifiers: readonly Identifier[];
  threshold: Threshold;
  rng?: Rng;
}

/**
 * Run the whole DKG for every party in this process (tests, benchmarks, demos). Parties draw from
 * `rng` in identifier-list order, as separate noble `DKG.round1` calls in that order would.
 */
export function runDkgLocally(
  suite: AnyCiphersuite,
  options: LocalDkgOptions,
): { readonly publicPackage: PublicKeyPackage; readonly keyPackages: readonly KeyPackage[] } {
  assertSuite(suite);
  assertObject(options, 'options');
  const { identifiers, threshold, rng } = options;
  if (!Array.isArray(identifiers) || identifiers.length !== threshold?.max) {
    throw new ValidationError(
      'INVALID_ARGUMENT',
      `identifiers: expected ${displayValue(threshold?.max)} identifiers`,
      ['identifiers'],
    );
  }
  const r1 = identifiers.map((identifier) =>
    dkgRound1(suite, { identifier, threshold, ...(rng ? { rng } : {}) }),
  );
  const broadcast = r1.map((r) => r.package);
  const othersOf = (i: number) => broadcast.filter((_, j) => j !== i);
  const r2 = r1.map((r, i) => dkgRound2(suite, r.secret, othersOf(i)));
  const inbox = new Map<Identifier, DkgRound2Package[]>(identifiers.map((id) => [id, []]));
  for (const out of r2) for (const p of out.packages) inbox.get(p.receiver)!.push(p);
  const results = r2.map((r, i) => dkgRound3(suite, r.secret, othersOf(i), inbox.get(identifiers[i]!)!));
  return Object.freeze({
    publicPackage: results[0]!.publicPackage,
    keyPackages: Object.freeze(results.map((r) => r.keyPackage)),
  });
}
