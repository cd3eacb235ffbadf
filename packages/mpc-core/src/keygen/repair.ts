/**
 * Share repair (Enrollment Repair, the Repairable Threshold Scheme of Laing and Stinson, as
 * frost-rs `keys::repairable`): t or more helpers rebuild the signing share a party lost, without
 * any of them learning it and without the group secret ever being assembled.
 *
 * 1. {@link repairStep1}: helper i computes zeta_i * s_i, where zeta_i is its Lagrange coefficient
 *    at the lost identifier over the helper set, splits it into one random summand per helper and
 *    sends each helper its {@link RepairDelta} privately.
 * 2. {@link repairStep2}: helper j adds the deltas it received into one {@link RepairSigma} and sends
 *    it privately to the party being repaired.
 * 3. {@link repairStep3}: the party adds the sigmas, which is exactly its old share, and checks it
 *    against its public verifying share before returning its key package.
 *
 * Works for dealer- and DKG-made keys (and refreshed ones): only the shares' polynomial matters.
 *
 * Every delta and sigma names the helper set it was made for ({@link RepairDelta.helpers}), and
 * steps 2 and 3 take only parts made for their own set. Each helper weights its share by its
 * Lagrange coefficient over the set it is given: helpers given different sets (a coordinator
 * naming each helper a set of its neighbours) would make sigmas summing not to the lost share but
 * to another combination of the helpers' shares, which the repaired party and t - 2 helpers turn
 * into the group secret. The names say only what the senders were told; the sealing that carries
 * the parts must still keep them private and authentic.
 */
import { randomBytes } from '@noble/hashes/utils.js';
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
import type { AnyCiphersuite, Ciphersuite, Rng } from '../suite/types.js';
import { byScalar, checkSuite } from './sharing.js';

/** Step 1 output, sent privately from helper `sender` to helper `receiver`. */
export interface RepairDelta {
  readonly sender: Identifier;
  readonly receiver: Identifier;
  /** The party whose share is being rebuilt. */
  readonly lost: Identifier;
  /** The helper set `sender` weighted its share over, in identifier (scalar) order. */
  readonly helpers: readonly Identifier[];
  readonly delta: SecretBytes;
}

/** Step 2 output, sent privately from helper `sender` to the party being repaired. */
export interface RepairSigma {
  readonly sender: Identifier;
  readonly lost: Identifier;
  /** The helper set of every delta summed, in identifier (scalar) order. */
  readonly helpers: readonly Identifier[];
  readonly sigma: SecretBytes;
}

/** `claimed` (a delta's or sigma's helper set) is `helpers`, the set this step was given. */
function checkSameHelpers(claimed: unknown, helpers: readonly Helper[], path: string, sender: unknown): void {
  const same =
    Array.isArray(claimed) &&
    claimed.length === helpers.length &&
    helpers.every((h, i) => claimed[i] === h.identifier);
  if (!same) {
    throw new ValidationError(
      'INVALID_ARGUMENT',
      `${path}.helpers: ${displayValue(sender)} was given another helper set (${displayValue(claimed)}) than this step (${displayValue(helpers.map((h) => h.identifier))}): parts weighted over different sets do not sum to the lost share`,
      [`${path}.helpers`],
    );
  }
}

interface Helper {
  readonly identifier: Identifier;
  readonly x: bigint;
}

/** Check the helper set: canonical, distinct, between min and max-1 of them, without the lost party. */
function checkHelpers(
  suite: AnyCiphersuite,
  helpers: readonly Identifier[],
  lost: Identifier,
  threshold: Threshold,
): { helpers: Helper[]; lostX: bigint } {
  const t = validateThreshold(threshold);
  const lostX = identifierToScalar(suite, lost, 'lostIdentifier');
  if (!Array.isArray(helpers)) {
    throw new ValidationError('INVALID_ARGUMENT', 'helpers: expected an array of identifiers', ['helpers']);
  }
  if (helpers.length < t.min || helpers.length > t.max - 1) {
    throw new ValidationError(
      'INVALID_ARGUMENT',
      `helpers: a repair needs between ${t.min} and ${t.max - 1} helpers, got ${helpers.length}`,
      ['helpers'],
    );
  }
  const seen = new Set<Identifier>();
  const xs = helpers.map((id, i) => {
    const path = `helpers[${i}]`;
    const x = identifierToScalar(suite, id, path);
    if (seen.has(id) || id === lost) {
      throw new ValidationError(
        'DUPLICATE_IDENTIFIER',
        `${path}: ${id} ${id === lost ? 'is the party being repaired' : 'appears twice'}`,
        [path],
      );
    }
    seen.add(id);
    return x;
  });
  return { helpers: byScalar(helpers, xs).map(({ item, x }) => ({ identifier: item, x })), lostX };
}

function liveSecret(s: unknown, path: string): SecretBytes {
  if (!(s instanceof SecretBytes) || s.wiped) {
    throw new ValidationError('INVALID_ARGUMENT', `${path}: expected a live SecretBytes`, [path]);
  }
  return s;
}

// ---------------------------------------------------------------------------------------------
// Step 1
// ---------------------------------------------------------------------------------------------

/**
 * Step 1 (run by each helper): split zeta_i * s_i into one random delta per helper (its own
 * included). Send each {@link RepairDelta} privately to its `receiver`.
 */
export function repairStep1(
  suite: AnyCiphersuite,
  helpers: readonly Identifier[],
  helperKeyPackage: KeyPackage,
  lostIdentifier: Identifier,
  rng: Rng = randomBytes,
): readonly RepairDelta[] {
  assertSuite(suite);
  return step1Typed(suite, helpers, helperKeyPackage, lostIdentifier, rng);
}

function step1Typed<E>(
  suite: Ciphersuite<E>,
  helperIds: readonly Identifier[],
  kp: KeyPackage,
  lost: Identifier,
  rng: Rng,
): readonly RepairDelta[] {
  const anySuite = suite as AnyCiphersuite;
  const { field } = suite;
  if (!kp || typeof kp !== 'object') {
    throw new ValidationError('INVALID_ARGUMENT', 'helperKeyPackage: expected a KeyPackage', [
      'helperKeyPackage',
    ]);
  }
  checkSuite(anySuite, kp.suite, 'helperKeyPackage');
  const { helpers, lostX } = checkHelpers(anySuite, helperIds, lost, kp.threshold);
  const me = helpers.find((h) => h.identifier === kp.identifier);
  if (!me) {
    throw new ValidationError(
      'INVALID_ARGUMENT',
      `helpers does not include this helper (${displayValue(kp.identifier)})`,
      ['helpers'],
    );
  }
  // zeta_i = prod_{j != i} (x_lost - x_j) / (x_i - x_j): Lagrange basis at x_lost.
  let num = 1n;
  let den = 1n;
  for (const h of helpers) {
    if (h.x === me.x) continue;
    num = field.mul(num, field.sub(lostX, h.x));
    den = field.mul(den, field.sub(me.x, h.x));
  }
  let remainder = field.mul(field.mul(num, field.inv(den)), signingShareScalar(anySuite, kp));
  const deltas: RepairDelta[] = [];
  const set = Object.freeze(helpers.map((h) => h.identifier));
  helpers.forEach((h, i) => {
    let d: bigint;
    if (i < helpers.length - 1) {
      d = field.random(rng);
      remainder = field.sub(remainder, d);
    } else {
      d = remainder;
    }
    deltas.push(
      Object.freeze({
        sender: kp.identifier,
        receiver: h.identifier,
        lost,
        helpers: set,
        delta: new SecretBytes(field.toBytes(d)),
      }),
    );
  });
  remainder = 0n;
  return Object.freeze(deltas);
}

// ---------------------------------------------------------------------------------------------
// Step 2
// ---------------------------------------------------------------------------------------------

/**
 * Step 2 (run by each helper): add the deltas received from every helper (its own included) into
 * one sigma for the party being repaired.
 */
export function repairStep2(
  suite: AnyCiphersuite,
  helpers: readonly Identifier[],
  helperKeyPackage: KeyPackage,
  deltas: readonly RepairDelta[],
): RepairSigma {
  assertSuite(suite);
  const { field } = suite;
  if (!helperKeyPackage || typeof helperKeyPackage !== 'object') {
    throw new ValidationError('INVALID_ARGUMENT', 'helperKeyPackage: expected a KeyPackage', [
      'helperKeyPackage',
    ]);
  }
  checkSuite(suite, helperKeyPackage.suite, 'helperKeyPackage');
  const self = helperKeyPackage.identifier;
  if (!Array.isArray(deltas) || deltas.length !== helpers?.length) {
    throw new ValidationError(
      'INVALID_ARGUMENT',
      `deltas: expected one delta from each of ${displayValue(helpers?.length)} helpers`,
      ['deltas'],
    );
  }
  const lost = deltas[0]?.lost;
  const { helpers: checked } = checkHelpers(suite, helpers, lost!, helperKeyPackage.threshold);
  if (!checked.some((h) => h.identifier === self)) {
    throw new ValidationError(
      'INVALID_ARGUMENT',
      `helpers does not include this helper (${displayValue(self)})`,
      ['helpers'],
    );
  }
  const members = new Set(checked.map((h) => h.identifier));
  const seen = new Set<Identifier>();
  let sigma = 0n;
  deltas.forEach((d, i) => {
    const path = `deltas[${i}]`;
    if (!d || typeof d !== 'object')
      throw new ValidationError('INVALID_ARGUMENT', `${path}: expected object`, [path]);
    if (d.receiver !== self) {
      throw new ValidationError(
        'INVALID_ARGUMENT',
        `${path}.receiver: addressed to ${displayValue(d.receiver)}, not ${displayValue(self)}`,
        [`${path}.receiver`],
      );
    }
    if (d.lost !== lost) {
      throw new ValidationError('INVALID_ARGUMENT', `${path}.lost: deltas repair different parties`, [
        `${path}.lost`,
      ]);
    }
    if (!members.has(d.sender)) {
      throw new ValidationError(
        'UNKNOWN_IDENTIFIER',
        `${path}.sender: ${displayValue(d.sender)} is not a helper`,
        [`${path}.sender`],
      );
    }
    if (seen.has(d.sender)) {
      throw new ValidationError(
        'DUPLICATE_IDENTIFIER',
        `${path}.sender: second delta from ${displayValue(d.sender)}`,
        [`${path}.sender`],
      );
    }
    checkSameHelpers(d.helpers, checked, path, d.sender);
    seen.add(d.sender);
    const bytes = liveSecret(d.delta, `${path}.delta`).expose();
    let value: bigint;
    try {
      value = field.fromBytes(bytes, `${path}.delta`);
    } catch (cause) {
      throw new ProtocolError(
        'INVALID_SECRET_SHARE',
        `malformed delta from ${displayValue(d.sender)}`,
        [d.sender],
        {
          cause,
        },
      );
    }
    sigma = field.add(sigma, value);
  });
  const out: RepairSigma = Object.freeze({
    sender: self,
    lost: lost!,
    helpers: Object.freeze(checked.map((h) => h.identifier)),
    sigma: new SecretBytes(field.toBytes(sigma)),
  });
  sigma = 0n;
  return out;
}

// ---------------------------------------------------------------------------------------------
// Step 3
// ---------------------------------------------------------------------------------------------

/**
 * Step 3 (run by the party being repaired): add the helpers' sigmas into the lost signing share,
 * check it against the public verifying share (`ProtocolError(INVALID_SECRET_SHARE)` when it does
 * not match: some helper cheated or used a wrong share) and return the rebuilt key package.
 */
export function repairStep3(
  suite: AnyCiphersuite,
  helpers: readonly Identifier[],
  sigmas: readonly RepairSigma[],
  lostIdentifier: Identifier,
  publicPackage: PublicKeyPackage,
): KeyPackage {
  assertSuite(suite);
  return step3Typed(suite, helpers, sigmas, lostIdentifier, publicPackage);
}

function step3Typed<E>(
  suite: Ciphersuite<E>,
  helperIds: readonly Identifier[],
  sigmas: readonly RepairSigma[],
  lost: Identifier,
  pub: PublicKeyPackage,
): KeyPackage {
  const anySuite = suite as AnyCiphersuite;
  const { group, field } = suite;
  if (!pub || typeof pub !== 'object') {
    throw new ValidationError('INVALID_ARGUMENT', 'publicPackage: expected object', ['publicPackage']);
  }
  checkSuite(anySuite, pub.suite, 'publicPackage');
  const { helpers } = checkHelpers(anySuite, helperIds, lost, pub.threshold);
  for (const h of helpers) {
    if (!Object.hasOwn(pub.verifyingShares ?? {}, h.identifier)) {
      throw new ValidationError('UNKNOWN_IDENTIFIER', `helpers: ${h.identifier} holds no share of this key`, [
        'helpers',
      ]);
    }
  }
  const ownVerifying = Object.hasOwn(pub.verifyingShares ?? {}, lost) ? pub.verifyingShares[lost] : undefined;
  if (!ownVerifying) {
    throw new ValidationError('UNKNOWN_IDENTIFIER', `lostIdentifier: ${lost} holds no share of this key`, [
      'lostIdentifier',
    ]);
  }
  const Y = group.deserialize(ownVerifying, `publicPackage.verifyingShares.${lost}`);
  group.deserialize(pub.groupPublicKey, 'publicPackage.groupPublicKey');
  if (!Array.isArray(sigmas) || sigmas.length !== helpers.length) {
    throw new ValidationError(
      'INVALID_ARGUMENT',
      `sigmas: expected one sigma from each of ${helpers.length} helpers`,
      ['sigmas'],
    );
  }
  const members = new Set(helpers.map((h) => h.identifier));
  const seen = new Set<Identifier>();
  let s = 0n;
  sigmas.forEach((sg, i) => {
    const path = `sigmas[${i}]`;
    if (!sg || typeof sg !== 'object')
      throw new ValidationError('INVALID_ARGUMENT', `${path}: expected object`, [path]);
    if (sg.lost !== lost) {
      throw new ValidationError(
        'INVALID_ARGUMENT',
        `${path}.lost: for ${displayValue(sg.lost)}, not ${lost}`,
        [`${path}.lost`],
      );
    }
    if (!members.has(sg.sender)) {
      throw new ValidationError(
        'UNKNOWN_IDENTIFIER',
        `${path}.sender: ${displayValue(sg.sender)} is not a helper`,
        [`${path}.sender`],
      );
    }
    if (seen.has(sg.sender)) {
      throw new ValidationError(
        'DUPLICATE_IDENTIFIER',
        `${path}.sender: second sigma from ${displayValue(sg.sender)}`,
        [`${path}.sender`],
      );
    }
    checkSameHelpers(sg.helpers, helpers, path, sg.sender);
    seen.add(sg.sender);
    const bytes = liveSecret(sg.sigma, `${path}.sigma`).expose();
    let value: bigint;
    try {
      value = field.fromBytes(bytes, `${path}.sigma`);
    } catch (cause) {
      throw new ProtocolError(
        'INVALID_SECRET_SHARE',
        `malformed sigma from ${displayValue(sg.sender)}`,
        [sg.sender],
        {
          cause,
        },
      );
    }
    s = field.add(s, value);
  });
  if (!group.equals(group.mulBase(s), Y)) {
    s = 0n;
    throw new ProtocolError(
      'INVALID_SECRET_SHARE',
      `the rebuilt share does not match ${lost}'s verifying share (a helper sent a wrong value)`,
    );
  }
  const kp = makeKeyPackage(
    anySuite,
    lost,
    s,
    Uint8Array.from(ownVerifying),
    Uint8Array.from(pub.groupPublicKey),
    pub.threshold,
  );
  s = 0n;
  return kp;
}
