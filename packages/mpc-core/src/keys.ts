/**
 * Key material types shared by key generation and signing: identifiers, thresholds, the per-party
 * {@link KeyPackage} and the public {@link PublicKeyPackage}, plus their one-time decoding.
 */
import { assertBytes, bytesToHex, equalBytes, hexToBytes, utf8 } from './bytes.js';
import { displayValue } from './codec.js';
import { ValidationError } from './errors.js';
import {
  assertArray,
  assertBigint,
  assertObject,
  assertSecret,
  assertString,
  assertSuite,
  describeType,
} from './guards.js';
import { SecretBytes } from './secret.js';
import { lagrangeCoefficient } from './sign/context.js';
import type { AnyCiphersuite, Ciphersuite, CiphersuiteId } from './suite/types.js';

/** A participant identifier: the canonical hex serialization of a non-zero scalar (as noble and frost-rs). */
export type Identifier = string;

/** k-of-n: `min` signers are needed out of `max` key holders. */
export interface Threshold {
  readonly min: number;
  readonly max: number;
}

/** One party's key: its secret signing share plus the public data it needs to sign. */
export interface KeyPackage {
  readonly suite: CiphersuiteId;
  readonly identifier: Identifier;
  readonly signingShare: SecretBytes;
  readonly verifyingShare: Uint8Array;
  readonly groupPublicKey: Uint8Array;
  readonly threshold: Threshold;
}

/** What everyone may know: the group key, each party's verifying share, the threshold. */
export interface PublicKeyPackage {
  readonly suite: CiphersuiteId;
  readonly groupPublicKey: Uint8Array;
  readonly verifyingShares: Readonly<Record<Identifier, Uint8Array>>;
  readonly threshold: Threshold;
  /** The VSS commitment to the key polynomial (coefficient commitments), when known. */
  readonly commitments?: readonly Uint8Array[];
}

/**
 * The most parties (`threshold.max`) a key may have. The dealer, DKG, refresh, repair and the
 * Shamir sharings refuse more (`validateThreshold`), and the codecs cap every per-party list at it,
 * so the library never makes a key package its own codecs cannot write.
 */
export const MAX_PARTIES = 1024;

/**
 * `t` as a plain `{min, max}` with `2 <= min <= max <= MAX_PARTIES`, both safe integers; anything
 * else, of any type, is `ValidationError('INVALID_THRESHOLD')` naming `field`.
 */
export function validateThreshold(t: Threshold, field = 'threshold'): Threshold {
  const o = t as Partial<Threshold> | null | undefined;
  const min = o !== null && typeof o === 'object' ? o.min : undefined;
  const max = o !== null && typeof o === 'object' ? o.max : undefined;
  const ok =
    Number.isSafeInteger(min) &&
    Number.isSafeInteger(max) &&
    min! >= 2 &&
    max! >= min! &&
    max! <= MAX_PARTIES;
  if (!ok) {
    throw new ValidationError(
      'INVALID_THRESHOLD',
      `${field}: expected integers 2 <= min <= max <= ${MAX_PARTIES}, got min=${displayValue(min)} max=${displayValue(max)}`,
      [field],
    );
  }
  return { min: min!, max: max! };
}

export function identifierToScalar(suite: AnyCiphersuite, id: Identifier, field = 'identifier'): bigint {
  assertSuite(suite);
  if (typeof id !== 'string')
    throw new ValidationError('INVALID_IDENTIFIER', `${field}: expected hex string`, [field]);
  let n: bigint;
  try {
    n = suite.field.fromBytes(hexToBytes(id, field), field);
  } catch (cause) {
    throw new ValidationError(
      'INVALID_IDENTIFIER',
      `${field}: not a canonical identifier (${id.slice(0, 16)}…)`,
      [field],
      {
        cause,
      },
    );
  }
  if (n === 0n)
    throw new ValidationError('INVALID_IDENTIFIER', `${field}: identifier zero is not allowed`, [field]);
  return n;
}

/** The identifier whose scalar is `n` (non-zero, below the group order); `field` names `n` in errors. */
export function scalarToIdentifier(suite: AnyCiphersuite, n: bigint, field = 'n'): Identifier {
  assertBigint(n, field);
  if (n <= 0n || n >= suite.field.ORDER) {
    throw new ValidationError('INVALID_IDENTIFIER', `${field}: identifier must be a non-zero scalar`, [
      field,
    ]);
  }
  return bytesToHex(suite.field.toBytes(n));
}

/** Identifier for participant number `n` (1-based), as RFC 9591 Appendix C numbers them. */
export function identifierFromNumber(suite: AnyCiphersuite, n: number): Identifier {
  assertSuite(suite);
  if (typeof n !== 'number') {
    throw new ValidationError('INVALID_ARGUMENT', `n: expected a positive integer, got ${describeType(n)}`, [
      'n',
    ]);
  }
  if (!Number.isSafeInteger(n) || n < 1) {
    throw new ValidationError(
      'INVALID_IDENTIFIER',
      `n: identifier number must be a positive integer, got ${n}`,
      ['n'],
    );
  }
  return scalarToIdentifier(suite, BigInt(n));
}

/** Identifier derived from a name (frost-rs `Identifier::derive`: HID(name)). */
export function deriveIdentifier(suite: AnyCiphersuite, name: string): Identifier {
  assertSuite(suite);
  assertString(name, 'name');
  return scalarToIdentifier(suite, suite.HID(utf8(name)));
}

/** A public key package decoded and validated once; reused by every signing call. */
export interface PreparedPublic<E> {
  /** Group key as signing uses it (even-y for BIP-340 suites). */
  readonly groupKey: E;
  readonly groupKeyBytes: Uint8Array;
  /** Whether the stored key had to be negated (BIP-340): shares and verifying shares flip too. */
  readonly negated: boolean;
  readonly shares: ReadonlyMap<Identifier, E>;
  readonly ids: ReadonlyMap<Identifier, bigint>;
  readonly threshold: Threshold;
}

const preparedCache = new WeakMap<object, WeakMap<PublicKeyPackage, PreparedPublic<unknown>>>();

export function preparePublic<E>(suite: Ciphersuite<E>, pub: PublicKeyPackage): PreparedPublic<E> {
  assertSuite(suite);
  let bySuite = preparedCache.get(suite);
  if (!bySuite) {
    bySuite = new WeakMap();
    preparedCache.set(suite, bySuite);
  }
  const hit = bySuite.get(pub);
  if (hit) return hit as PreparedPublic<E>;
  if (!pub || typeof pub !== 'object')
    throw new ValidationError('INVALID_ARGUMENT', 'publicPackage: expected object', ['publicPackage']);
  if (pub.suite !== suite.id) {
    throw new ValidationError(
      'CIPHERSUITE_MISMATCH',
      `publicPackage is for ${displayValue(pub.suite)}, not ${suite.id}`,
      ['publicPackage.suite'],
    );
  }
  const threshold = validateThreshold(pub.threshold, 'publicPackage.threshold');
  const { group } = suite;
  const rawKey = group.deserialize(pub.groupPublicKey, 'publicPackage.groupPublicKey');
  const negated = suite.hooks ? suite.hooks.keyNeedsNegation(rawKey) : false;
  const groupKey = negated ? group.neg(rawKey) : rawKey;
  const shares = new Map<Identifier, E>();
  const ids = new Map<Identifier, bigint>();
  const entries = Object.entries(pub.verifyingShares ?? {});
  if (entries.length !== threshold.max) {
    throw new ValidationError(
      'INVALID_ARGUMENT',
      `publicPackage.verifyingShares: expected ${threshold.max} entries, got ${entries.length}`,
      ['publicPackage.verifyingShares'],
    );
  }
  for (const [id, bytes] of entries) {
    const path = `publicPackage.verifyingShares.${id}`;
    ids.set(id, identifierToScalar(suite as AnyCiphersuite, id, path));
    const p = group.deserialize(bytes, path);
    shares.set(id, negated ? group.neg(p) : p);
  }
  const prepared: PreparedPublic<E> = {
    groupKey,
    groupKeyBytes: group.serialize(groupKey),
    negated,
    shares,
    ids,
    threshold,
  };
  bySuite.set(pub, prepared as PreparedPublic<unknown>);
  return prepared;
}

/** Build a key package (helper for keygen modules). */
export function makeKeyPackage(
  suite: AnyCiphersuite,
  identifier: Identifier,
  signingShare: bigint,
  verifyingShare: Uint8Array,
  groupPublicKey: Uint8Array,
  threshold: Threshold,
): KeyPackage {
  return Object.freeze({
    suite: suite.id,
    identifier,
    signingShare: new SecretBytes(suite.field.toBytes(signingShare)),
    verifyingShare,
    groupPublicKey,
    threshold: { min: threshold.min, max: threshold.max },
  });
}

/**
 * A key package for `suite`: an object that names this suite (its other fields are checked where
 * they are used). `CIPHERSUITE_MISMATCH` for another suite's.
 */
export function checkKeyPackage(
  suite: AnyCiphersuite,
  kp: unknown,
  field = 'keyPackage',
): asserts kp is KeyPackage {
  assertObject(kp, field);
  if (kp.suite !== suite.id) {
    throw new ValidationError(
      'CIPHERSUITE_MISMATCH',
      `${field} is for ${typeof kp.suite === 'string' ? kp.suite : typeof kp.suite}, not ${suite.id}`,
      [`${field}.suite`],
    );
  }
}

/** Decode a key package's signing share (refusing a wiped one). */
export function signingShareScalar(suite: AnyCiphersuite, kp: KeyPackage): bigint {
  assertSecret(kp.signingShare, 'keyPackage.signingShare');
  return suite.field.fromBytes(kp.signingShare.expose(), 'keyPackage.signingShare');
}

/** What {@link keyPackageFromShare} takes. */
export interface KeyPackageFromShareArgs {
  identifier: Identifier;
  signingShare: Uint8Array;
  groupPublicKey: Uint8Array;
  threshold: Threshold;
  /**
   * The group's public package: the share must give its verifying share for `identifier`, and
   * `groupPublicKey`, the suite and the threshold must be the package's.
   */
  publicPackage?: PublicKeyPackage;
  /**
   * Or the group's VSS commitments (a public package's `commitments`: `threshold.min` coefficient
   * commitments): the share must lie on them at `identifier`, and the first must be `groupPublicKey`.
   */
  commitments?: readonly Uint8Array[];
}

/**
 * Import a raw signing share (e.g. from RFC test vectors or a restored backup) as a key package.
 *
 * Pass `publicPackage` (or the group's `commitments`) whenever you have it: the share is then
 * checked to be this group's share for `identifier`, and a share of another key, a share from
 * before a refresh or repair, another identifier's share, or a wrong `groupPublicKey` is refused
 * with a `ValidationError` naming the argument (`signingShare`, `groupPublicKey`, `threshold`,
 * `identifier` or `publicPackage.suite`).
 *
 * Without either, nothing ties the share to `groupPublicKey`: the verifying share is computed
 * from the share itself, so a wrong share or group key yields a key package that looks whole, and
 * the mismatch shows only when signing, as an invalid signature share blamed on this party, or an
 * aggregate that does not verify.
 */
export function keyPackageFromShare(suite: AnyCiphersuite, args: KeyPackageFromShareArgs): KeyPackage {
  assertSuite(suite);
  assertObject(args, 'args');
  const t = validateThreshold(args.threshold);
  const x = identifierToScalar(suite, args.identifier);
  const s = suite.field.fromBytes(args.signingShare, 'signingShare');
  suite.group.deserialize(args.groupPublicKey, 'groupPublicKey');
  const Y = suite.group.serialize(suite.group.mulBase(s));
  if (args.publicPackage !== undefined) checkAgainstPublicPackage(suite, args, t, Y);
  if (args.commitments !== undefined) checkAgainstCommitments(suite as Ciphersuite<unknown>, args, t, x, Y);
  return makeKeyPackage(suite, args.identifier, s, Y, Uint8Array.from(args.groupPublicKey), t);
}

/** Whether two encodings are one point (both already decode in `suite`). */
function samePoint(suite: AnyCiphersuite, a: Uint8Array, b: Uint8Array, bField: string): boolean {
  const g = (suite as Ciphersuite<unknown>).group;
  return g.equals(g.deserialize(a, 'groupPublicKey'), g.deserialize(b, bField));
}

/** `keyPackageFromShare`'s check against the group's public package (`Y`: the share's verifying share). */
function checkAgainstPublicPackage(
  suite: AnyCiphersuite,
  args: KeyPackageFromShareArgs,
  t: Threshold,
  Y: Uint8Array,
): void {
  const pub = args.publicPackage;
  assertObject(pub, 'publicPackage');
  if (pub.suite !== suite.id) {
    throw new ValidationError(
      'CIPHERSUITE_MISMATCH',
      `publicPackage is for ${displayValue(pub.suite)}, not ${suite.id}`,
      ['publicPackage.suite'],
    );
  }
  const pt = validateThreshold(pub.threshold, 'publicPackage.threshold');
  if (pt.min !== t.min || pt.max !== t.max) {
    throw new ValidationError(
      'INVALID_THRESHOLD',
      `threshold: ${t.min}-of-${t.max}, but publicPackage is ${pt.min}-of-${pt.max}`,
      ['threshold'],
    );
  }
  if (!samePoint(suite, args.groupPublicKey, pub.groupPublicKey, 'publicPackage.groupPublicKey')) {
    throw new ValidationError(
      'INVALID_ARGUMENT',
      'groupPublicKey: not publicPackage.groupPublicKey (a share of another group?)',
      ['groupPublicKey'],
    );
  }
  assertObject(pub.verifyingShares, 'publicPackage.verifyingShares');
  const entry = Object.hasOwn(pub.verifyingShares, args.identifier)
    ? pub.verifyingShares[args.identifier]
    : undefined;
  if (entry === undefined) {
    throw new ValidationError(
      'UNKNOWN_IDENTIFIER',
      `identifier: publicPackage.verifyingShares has no entry for ${args.identifier.slice(0, 16)}…`,
      ['identifier'],
    );
  }
  if (!samePoint(suite, Y, entry, `publicPackage.verifyingShares.${args.identifier}`)) {
    throw new ValidationError(
      'INVALID_ARGUMENT',
      `signingShare: its verifying share is not publicPackage.verifyingShares.${args.identifier.slice(0, 16)}… (another identifier's share, another key's, or one from before a refresh or repair?)`,
      ['signingShare'],
    );
  }
}

/** `keyPackageFromShare`'s check against the group's VSS commitments (`x`: the identifier's scalar). */
function checkAgainstCommitments<E>(
  suite: Ciphersuite<E>,
  args: KeyPackageFromShareArgs,
  t: Threshold,
  x: bigint,
  Y: Uint8Array,
): void {
  assertArray(args.commitments, 'commitments');
  const { group } = suite;
  if (args.commitments.length !== t.min) {
    throw new ValidationError(
      'INVALID_LENGTH',
      `commitments: expected ${t.min} coefficient commitments (threshold.min), got ${args.commitments.length}`,
      ['commitments'],
    );
  }
  const C = args.commitments.map((c, k) => group.deserialize(c, `commitments[${k}]`));
  if (!group.equals(group.deserialize(args.groupPublicKey, 'groupPublicKey'), C[0]!)) {
    throw new ValidationError(
      'INVALID_ARGUMENT',
      'groupPublicKey: not commitments[0] (a share of another group?)',
      ['groupPublicKey'],
    );
  }
  if (!group.equals(group.deserialize(Y, 'signingShare'), group.evalCommitment(C, x))) {
    throw new ValidationError(
      'INVALID_ARGUMENT',
      "signingShare: not on the commitments at identifier (another identifier's share, another key's, or one from before a refresh or repair?)",
      ['signingShare'],
    );
  }
}

/**
 * The verifying shares of `keyPackages` are one degree-`(min - 1)` sharing of their group key: the
 * first `min` interpolate to it at zero, and so does each other share with the first `min - 1`.
 * A key package from before a refresh or a repair (same group key, an older share) fails this,
 * named when it is not among the first `min`. Public data only (variable-time arithmetic is fine).
 */
function assertOneSharing(suite: AnyCiphersuite, keyPackages: readonly KeyPackage[], min: number): void {
  const s = suite as Ciphersuite<unknown>;
  const xs = keyPackages.map((kp, i) =>
    identifierToScalar(suite, kp.identifier, `keyPackages[${i}].identifier`),
  );
  const groupKey = s.group.deserialize(keyPackages[0]!.groupPublicKey, 'keyPackages[0].groupPublicKey');
  const interpolatesToKey = (indexes: readonly number[]): boolean => {
    const subset = indexes.map((i) => xs[i]!);
    const at = indexes.map((i) => `keyPackages[${i}].verifyingShare`);
    const sum = s.group.msmEncoded(
      indexes.map((i) => keyPackages[i]!.verifyingShare),
      subset.map((x) => lagrangeCoefficient(s, subset, x)),
      at,
    );
    return s.group.equals(sum, groupKey);
  };
  const base = Array.from({ length: min }, (_, i) => i);
  if (!interpolatesToKey(base)) {
    throw new ValidationError(
      'INVALID_ARGUMENT',
      `keyPackages: the verifying shares of keyPackages[0..${min - 1}] are not a sharing of the group key (a key package from before a refresh or repair?)`,
      ['keyPackages'],
    );
  }
  for (let j = min; j < keyPackages.length; j++) {
    if (!interpolatesToKey([...base.slice(0, min - 1), j])) {
      throw new ValidationError(
        'INVALID_ARGUMENT',
        `keyPackages[${j}].verifyingShare: not on the sharing of the others (a key package from before a refresh or repair?)`,
        [`keyPackages[${j}].verifyingShare`],
      );
    }
  }
}

/**
 * The public package that a set of key packages implies (all parties' verifying shares).
 *
 * The packages must be one whole deal: the same group key and threshold, distinct identifiers,
 * exactly `threshold.max` of them, and verifying shares that are one sharing of the group key (a
 * package from before a refresh or repair is not). Anything else is refused with a
 * `ValidationError` naming `keyPackages[i]...` where it can tell which, because a package mixed
 * from two deals (or a stale one) would later make `verifyShare` blame an honest signer whose
 * share does not match the foreign verifying share.
 */
export function publicPackageFromKeyPackages(
  suite: AnyCiphersuite,
  keyPackages: readonly KeyPackage[],
): PublicKeyPackage {
  assertSuite(suite);
  assertArray(keyPackages, 'keyPackages');
  if (keyPackages.length === 0)
    throw new ValidationError('INVALID_ARGUMENT', 'keyPackages: empty', ['keyPackages']);
  keyPackages.forEach((kp, i) => {
    checkKeyPackage(suite, kp, `keyPackages[${i}]`);
  });
  const first = keyPackages[0]!;
  const threshold = validateThreshold(first.threshold, 'keyPackages[0].threshold');
  assertBytes(first.groupPublicKey, 'keyPackages[0].groupPublicKey');
  const verifyingShares: Record<Identifier, Uint8Array> = {};
  const seen = new Map<Identifier, number>();
  keyPackages.forEach((kp, i) => {
    const at = `keyPackages[${i}]`;
    assertBytes(kp.groupPublicKey, `${at}.groupPublicKey`);
    if (!equalBytes(kp.groupPublicKey, first.groupPublicKey)) {
      throw new ValidationError(
        'INVALID_ARGUMENT',
        `${at}.groupPublicKey: another group key than keyPackages[0]'s (a key package of another deal?)`,
        [`${at}.groupPublicKey`],
      );
    }
    const t = validateThreshold(kp.threshold, `${at}.threshold`);
    if (t.min !== threshold.min || t.max !== threshold.max) {
      throw new ValidationError(
        'INVALID_THRESHOLD',
        `${at}.threshold: ${t.min}-of-${t.max}, but keyPackages[0] is ${threshold.min}-of-${threshold.max}`,
        [`${at}.threshold`],
      );
    }
    identifierToScalar(suite, kp.identifier, `${at}.identifier`);
    const earlier = seen.get(kp.identifier);
    if (earlier !== undefined) {
      throw new ValidationError(
        'DUPLICATE_IDENTIFIER',
        `${at}.identifier: repeats keyPackages[${earlier}].identifier (${kp.identifier.slice(0, 16)}…)`,
        [`${at}.identifier`],
      );
    }
    seen.set(kp.identifier, i);
    assertBytes(kp.verifyingShare, `${at}.verifyingShare`);
    verifyingShares[kp.identifier] = kp.verifyingShare;
  });
  if (keyPackages.length !== threshold.max) {
    throw new ValidationError(
      'INVALID_ARGUMENT',
      `keyPackages: ${keyPackages.length} given, but a ${threshold.min}-of-${threshold.max} package needs all ${threshold.max}`,
      ['keyPackages'],
    );
  }
  assertOneSharing(suite, keyPackages, threshold.min);
  return Object.freeze({
    suite: suite.id,
    groupPublicKey: first.groupPublicKey,
    verifyingShares: Object.freeze(verifyingShares),
    threshold,
  });
}
