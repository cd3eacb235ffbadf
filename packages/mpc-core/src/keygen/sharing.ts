/**
 * What the DKG (dkg.ts) and distributed refresh (refresh.ts) share. Both deal a polynomial to every
 * participant with commitments to its coefficients: round 1 broadcasts the commitments, round 2
 * checks the peers' broadcasts and sends each peer its evaluation, round 3 checks the received
 * shares against the summed commitments. They differ in the constant term (a secret with a proof
 * of knowledge; zero) and in what round 3 makes of the sum. Repair (repair.ts) uses a few helpers
 * too. Internal: not part of the package's public face.
 */
import { assertBytes, equalBytes } from '../bytes.js';
import { displayValue } from '../codec.js';
import { type ErrorCode, ProtocolError, ValidationError } from '../errors.js';
import { assertArray, assertString } from '../guards.js';
import { type Identifier, identifierToScalar, type Threshold, validateThreshold } from '../keys.js';
import { RedactedState, SecretBytes } from '../secret.js';
import { isCiphersuiteId } from '../suite/registry.js';
import type { AnyCiphersuite, Ciphersuite, CiphersuiteId } from '../suite/types.js';
import { evaluatePolynomial } from './polynomial.js';

// ---------------------------------------------------------------------------------------------
// Round state
// ---------------------------------------------------------------------------------------------

/** A round-1 broadcast: the DKG's carries a proof of knowledge of the constant term, refresh's does not. */
export interface Round1Broadcast {
  readonly identifier: Identifier;
  readonly commitment: readonly Uint8Array[];
  readonly proofOfKnowledge?: Uint8Array;
}

/** A peer's round-1 broadcast, checked and decoded once (in round 2). */
export interface DecodedPeer<E> {
  readonly identifier: Identifier;
  readonly x: bigint;
  readonly commitmentBytes: readonly Uint8Array[];
  /** All coefficient commitments, the constant term's first (the identity for refresh). */
  readonly commitment: readonly E[];
}

/** A party's private state from round 1 to round 2: its polynomial. */
export interface PolynomialState<P extends Round1Broadcast> {
  readonly suite: AnyCiphersuite;
  readonly x: bigint;
  readonly coefficients: bigint[];
  /** The own commitment as elements of `suite`'s group (never decoded again). */
  readonly commitment: readonly unknown[];
  /** Private copy of the round-1 transcript round 2 ran on (a second round 2 must match it). */
  transcript?: readonly P[];
  consumed: boolean;
}

/** A party's private state from round 2 to round 3: its own share and the checked transcript. */
export interface SharesState<P extends Round1Broadcast> {
  readonly suite: AnyCiphersuite;
  /** The round-1 secret: wiped with this state; its public commitment bytes. */
  readonly round1: { wipe(): void; readonly commitment: readonly Uint8Array[] };
  readonly x: bigint;
  readonly ownShare: bigint[];
  readonly ownCommitment: readonly unknown[];
  readonly transcript: readonly P[];
  readonly peers: ReadonlyMap<Identifier, DecodedPeer<unknown>>;
  consumed: boolean;
}

// ---------------------------------------------------------------------------------------------
// Round secrets
// ---------------------------------------------------------------------------------------------

/** Where each round-1 secret's polynomial lives: outside its fields, so no encoder or logger reaches it. */
const polynomialStates = new WeakMap<PolynomialSecret, PolynomialState<Round1Broadcast>>();
/** Where each round-2 secret's own share and checked transcript live. */
const sharesStates = new WeakMap<SharesSecret, SharesState<Round1Broadcast>>();

/**
 * A party's private round-1 state (its polynomial), the base of the DKG's and refresh's: keep it
 * until round 3; it never prints. Each protocol has its own subclass, and its rounds take only that.
 */
export abstract class PolynomialSecret extends RedactedState {
  readonly suite: CiphersuiteId;
  readonly identifier: Identifier;
  readonly threshold: Threshold;
  /** This party's own (public) coefficient commitments. */
  readonly commitment: readonly Uint8Array[];

  /** @internal built by the protocol's round 1 only. */
  constructor(
    suite: CiphersuiteId,
    identifier: Identifier,
    threshold: Threshold,
    commitment: readonly Uint8Array[],
  ) {
    super();
    checkSecretFields(suite, identifier, threshold, commitment);
    this.suite = suite;
    this.identifier = identifier;
    this.threshold = Object.freeze({ min: threshold.min, max: threshold.max });
    this.commitment = Object.freeze([...commitment]);
  }

  /** Zero the polynomial; the secret is refused afterwards. */
  wipe(): void {
    const st = polynomialStates.get(this);
    if (!st) return;
    st.coefficients.fill(0n);
    st.consumed = true;
  }
}

/** A party's private state between rounds 2 and 3 (its own share and the checked transcript). */
export abstract class SharesSecret extends RedactedState {
  readonly suite: CiphersuiteId;
  readonly identifier: Identifier;
  readonly threshold: Threshold;

  /** @internal built by the protocol's round 2 only. */
  constructor(suite: CiphersuiteId, identifier: Identifier, threshold: Threshold) {
    super();
    checkSecretFields(suite, identifier, threshold, []);
    this.suite = suite;
    this.identifier = identifier;
    this.threshold = Object.freeze({ min: threshold.min, max: threshold.max });
  }

  /** Zero the own share and the round-1 polynomial; the secret is refused afterwards. */
  wipe(): void {
    const st = sharesStates.get(this);
    if (!st) return;
    st.ownShare.fill(0n);
    st.consumed = true;
    st.round1.wipe();
  }
}

/** Bind a round-1 secret to its polynomial (round 1 only). */
export function keepPolynomial<P extends Round1Broadcast>(
  secret: PolynomialSecret,
  state: PolynomialState<P>,
): void {
  polynomialStates.set(secret, state as PolynomialState<Round1Broadcast>);
}

/** Bind a round-2 secret to its share and transcript (round 2 only). */
export function keepShares<P extends Round1Broadcast>(secret: SharesSecret, state: SharesState<P>): void {
  sharesStates.set(secret, state as SharesState<Round1Broadcast>);
}

/** How a round names the secret it takes, for its errors. */
export interface SecretKind<S> {
  /** The subclass the round takes (a refresh secret is no DKG secret, and the other way round). */
  readonly type: abstract new (
    ...args: never[]
  ) => S;
  /** e.g. `the DkgRound1Secret from dkgRound1`. */
  readonly expected: string;
  /** e.g. `round-1 secret`. */
  readonly what: string;
}

/**
 * The live state behind `secret`: `INVALID_ARGUMENT` for anything but a secret of `kind` made by
 * its round, `CIPHERSUITE_MISMATCH` for another suite's, `ROUND_ORDER` once used up or wiped.
 */
function liveState<S extends RedactedState & { suite: CiphersuiteId }, T extends { consumed: boolean }>(
  suite: AnyCiphersuite,
  secret: S,
  kind: SecretKind<S>,
  states: WeakMap<object, T>,
): T {
  const st = secret instanceof kind.type ? states.get(secret) : undefined;
  if (!st) throw new ValidationError('INVALID_ARGUMENT', `secret: expected ${kind.expected}`, ['secret']);
  checkSuite(suite, secret.suite, 'secret');
  if (st.consumed) throw new ProtocolError('ROUND_ORDER', `this ${kind.what} was already used up or wiped`);
  return st;
}

/** The polynomial behind a round-1 secret of `kind` (see {@link liveState}). */
export function polynomialOf<S extends PolynomialSecret, P extends Round1Broadcast>(
  suite: AnyCiphersuite,
  secret: S,
  kind: SecretKind<S>,
): PolynomialState<P> {
  return liveState(suite, secret, kind, polynomialStates) as PolynomialState<P>;
}

/** The share and transcript behind a round-2 secret of `kind` (see {@link liveState}). */
export function sharesOf<S extends SharesSecret, P extends Round1Broadcast>(
  suite: AnyCiphersuite,
  secret: S,
  kind: SecretKind<S>,
): SharesState<P> {
  return liveState(suite, secret, kind, sharesStates) as SharesState<P>;
}

/** How a protocol's round 2 reads the peers' round-1 packages (see {@link shareRound2}). */
export interface Round2Reading<E, P extends Round1Broadcast> {
  /** How many round-1 packages (one per other participant) it takes. */
  readonly count: { min: number; max: number };
  /** The `INCONSISTENT_TRANSCRIPT` message when round 2 runs again on other packages. */
  readonly changed: string;
  /** Decode a commitment (all coefficients, the constant term's first); throws `ValidationError`. */
  readonly decode: (bytes: readonly Uint8Array[], field: string) => E[];
  /** A further check of a decoded package (the DKG's proof of knowledge): a reason code if it fails. */
  readonly check?: (p: P, x: bigint, commitment: readonly E[]) => string | undefined;
  /** The `ProtocolError` code and message naming the senders of packages that fail. */
  readonly refusal: {
    readonly code: ErrorCode;
    readonly message: (culprits: readonly Identifier[]) => string;
  };
}

/**
 * Round 2's work, the same for the DKG and refresh: the round-1 secret is live and of `kind`, the
 * peers' round-1 packages are well formed and (on a second call) the ones the first call checked,
 * every package decodes and passes `check` (else one `ProtocolError` naming every culprit, with a
 * reason each). Then keeps the checked transcript, the own share and the decoded peers in the
 * round-2 secret `next()` makes, and returns it with each peer's evaluation of the polynomial.
 */
export function shareRound2<E, S extends PolynomialSecret, P extends Round1Broadcast, N extends SharesSecret>(
  suite: Ciphersuite<E>,
  secret: S,
  kind: SecretKind<S>,
  round1Packages: readonly P[],
  readingFor: (threshold: Threshold) => Round2Reading<E, P>,
  next: () => N,
): { secret: N; shares: { peer: DecodedPeer<E>; share: bigint }[] } {
  const anySuite = suite as AnyCiphersuite;
  const st = polynomialOf<S, P>(anySuite, secret, kind);
  // Only a live secret of `kind` has a threshold to read by.
  const reading = readingFor(secret.threshold);
  const xs = checkPeerIdentifiers(
    anySuite,
    round1Packages,
    secret.identifier,
    reading.count,
    'round1Packages',
  );
  const sorted = byScalar(round1Packages, xs);
  const transcript = sorted.map(({ item }) => copyBroadcast(item));
  if (st.transcript && !sameBroadcasts(st.transcript, transcript))
    throw new ProtocolError('INCONSISTENT_TRANSCRIPT', reading.changed);
  const peers = new Map<Identifier, DecodedPeer<E>>();
  const culprits: Identifier[] = [];
  const reasons: Record<Identifier, string> = {};
  sorted.forEach(({ x }, i) => {
    const p = transcript[i]!;
    let reason: string | undefined;
    try {
      const commitment = reading.decode(p.commitment, `round1Packages.${p.identifier}.commitment`);
      reason = reading.check?.(p, x, commitment);
      if (!reason)
        peers.set(p.identifier, { identifier: p.identifier, x, commitmentBytes: p.commitment, commitment });
    } catch (e) {
      reason = (e as ValidationError).code ?? 'INVALID_ARGUMENT';
    }
    if (reason) {
      culprits.push(p.identifier);
      reasons[p.identifier] = reason;
    }
  });
  if (culprits.length)
    throw new ProtocolError(reading.refusal.code, reading.refusal.message(culprits), culprits, {
      details: { reasons },
    });
  st.transcript = transcript;
  const shares = [...peers.values()].map((peer) => ({
    peer,
    share: evaluatePolynomial(suite, st.coefficients, peer.x),
  }));
  const round2 = next();
  keepShares(round2, {
    suite: anySuite,
    round1: secret,
    x: st.x,
    ownShare: [evaluatePolynomial(suite, st.coefficients, st.x)],
    // Round 1 may have run on another backend of the suite: its elements are not this group's.
    ownCommitment:
      st.suite.group === (suite.group as unknown)
        ? st.commitment
        : reading.decode(secret.commitment, 'secret.commitment'),
    transcript,
    peers: peers as Map<Identifier, DecodedPeer<unknown>>,
    consumed: false,
  });
  return { secret: round2, shares };
}

/** How a protocol's round 3 reads its inputs (see {@link checkRound3}). */
export interface Round3Reading<E, P extends { sender: Identifier; receiver: Identifier }> {
  /** How many round-1 packages (one per other participant) it takes. */
  readonly count: { min: number; max: number };
  /** The `INCONSISTENT_TRANSCRIPT` message when they are not the ones round 2 checked. */
  readonly changed: string;
  /** The private share a round-2 package carries. */
  readonly shareOf: (p: P) => SecretBytes | undefined;
  /** Decode a commitment again (all coefficients, the constant term's first); see {@link checkReceivedShares}. */
  readonly decode: (bytes: readonly Uint8Array[], field: string) => E[];
}

/**
 * Round 3's checks, the same for the DKG and refresh: the round-2 secret is live and of `kind`,
 * the round-1 packages are the ones round 2 checked (identifiers and count too), and the received
 * shares match their senders' commitments ({@link checkReceivedShares}). `readingFor` says how
 * to read them under the secret's threshold.
 */
export function checkRound3<
  E,
  S extends SharesSecret,
  P extends { sender: Identifier; receiver: Identifier },
>(
  suite: Ciphersuite<E>,
  secret: S,
  kind: SecretKind<S>,
  round1Packages: readonly Round1Broadcast[],
  round2Packages: readonly P[],
  readingFor: (threshold: Threshold) => Round3Reading<E, P>,
): { st: SharesState<Round1Broadcast>; total: bigint; summed: E[]; ownVerifying: E } {
  const anySuite = suite as AnyCiphersuite;
  const st = sharesOf(anySuite, secret, kind);
  // Only a live secret of `kind` has a threshold to read by.
  const reading = readingFor(secret.threshold);
  const xs = checkPeerIdentifiers(
    anySuite,
    round1Packages,
    secret.identifier,
    reading.count,
    'round1Packages',
  );
  const supplied = byScalar(round1Packages, xs).map(({ item }) => copyBroadcast(item));
  if (!sameBroadcasts(st.transcript, supplied))
    throw new ProtocolError('INCONSISTENT_TRANSCRIPT', reading.changed);
  const shares = Array.isArray(round2Packages)
    ? round2Packages.map((p) => ({
        sender: p?.sender,
        receiver: p?.receiver,
        share: p && reading.shareOf(p),
      }))
    : (round2Packages as never);
  return { st, ...checkReceivedShares(suite, st, secret.identifier, shares, reading.decode) };
}

const copyBytes = (b: unknown): Uint8Array =>
  b instanceof Uint8Array ? Uint8Array.from(b) : (b as Uint8Array);

/** A private copy of a round-1 broadcast (malformed fields are kept as they are, for the checks to flag). */
export function copyBroadcast<P extends Round1Broadcast>(p: P): P {
  return {
    identifier: p.identifier,
    commitment: Array.isArray(p.commitment) ? p.commitment.map(copyBytes) : [],
    ...('proofOfKnowledge' in p ? { proofOfKnowledge: copyBytes(p.proofOfKnowledge) } : {}),
  } as Round1Broadcast as P;
}

/** Two round-1 transcripts (sorted alike) with the same identifiers, commitments and proofs. */
export function sameBroadcasts(a: readonly Round1Broadcast[], b: readonly Round1Broadcast[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) {
    const p = a[i]!;
    const q = b[i]!;
    if (p.identifier !== q.identifier || p.commitment.length !== q.commitment.length) return false;
    if (
      p.proofOfKnowledge !== undefined &&
      (!(q.proofOfKnowledge instanceof Uint8Array) || !equalBytes(p.proofOfKnowledge, q.proofOfKnowledge))
    )
      return false;
    for (let k = 0; k < p.commitment.length; k++) {
      const c = q.commitment[k];
      if (!(c instanceof Uint8Array) || !equalBytes(p.commitment[k]!, c)) return false;
    }
  }
  return true;
}

// ---------------------------------------------------------------------------------------------
// Checks
// ---------------------------------------------------------------------------------------------

/** The public fields of a round secret (DKG and refresh), checked when one is constructed. */
export function checkSecretFields(
  suite: unknown,
  identifier: unknown,
  threshold: unknown,
  commitment: unknown,
): void {
  if (!isCiphersuiteId(suite)) {
    throw new ValidationError('UNKNOWN_CIPHERSUITE', 'suite: expected a ciphersuite id', ['suite']);
  }
  assertString(identifier, 'identifier');
  validateThreshold(threshold as Threshold);
  assertArray(commitment, 'commitment');
  commitment.forEach((c, k) => {
    assertBytes(c, `commitment[${k}]`);
  });
}

export function checkSuite(suite: AnyCiphersuite, id: CiphersuiteId, field: string): void {
  if (suite.id !== id) {
    throw new ValidationError(
      'CIPHERSUITE_MISMATCH',
      `${field} is for ${displayValue(id)}, not ${suite.id}`,
      [field],
    );
  }
}

/**
 * Check the identifiers of a set of incoming broadcast packages: the right count, canonical,
 * pairwise distinct and not the caller's own. Returns their scalars in input order.
 */
export function checkPeerIdentifiers(
  suite: AnyCiphersuite,
  packages: readonly { identifier: Identifier }[],
  self: Identifier,
  count: { min: number; max: number },
  field: string,
): bigint[] {
  if (!Array.isArray(packages)) {
    throw new ValidationError('INVALID_ARGUMENT', `${field}: expected an array`, [field]);
  }
  if (packages.length < count.min || packages.length > count.max) {
    const want = count.min === count.max ? `${count.min}` : `${count.min}..${count.max}`;
    throw new ValidationError(
      'INVALID_ARGUMENT',
      `${field}: expected ${want} packages (one per other party), got ${packages.length}`,
      [field],
    );
  }
  const seen = new Set<Identifier>();
  return packages.map((p, i) => {
    const path = `${field}[${i}]`;
    if (!p || typeof p !== 'object')
      throw new ValidationError('INVALID_ARGUMENT', `${path}: expected object`, [path]);
    const x = identifierToScalar(suite, p.identifier, `${path}.identifier`);
    if (p.identifier === self || seen.has(p.identifier)) {
      throw new ValidationError(
        'DUPLICATE_IDENTIFIER',
        `${path}.identifier: ${p.identifier} ${p.identifier === self ? 'is our own identifier' : 'appears twice'}`,
        [`${path}.identifier`],
      );
    }
    seen.add(p.identifier);
    return x;
  });
}

/** Decode and validate a commitment vector of an expected length (each element once). */
export function decodeCommitment<E>(
  suite: Ciphersuite<E>,
  commitment: readonly Uint8Array[],
  length: number,
  field: string,
): E[] {
  if (!Array.isArray(commitment) || commitment.length !== length) {
    throw new ValidationError(
      'INVALID_LENGTH',
      `${field}: expected ${length} coefficient commitments, got ${Array.isArray(commitment) ? commitment.length : typeof commitment}`,
      [field],
    );
  }
  return commitment.map((c, k) => suite.group.deserialize(c, `${field}[${k}]`));
}

/** Element-wise sum of equally long commitment vectors. */
export function sumCommitments<E>(suite: Ciphersuite<E>, vectors: readonly (readonly E[])[]): E[] {
  const { group } = suite;
  const out = [...vectors[0]!];
  for (let v = 1; v < vectors.length; v++) {
    const vec = vectors[v]!;
    for (let k = 0; k < out.length; k++) out[k] = group.add(out[k]!, vec[k]!);
  }
  return out;
}

/** Sort by identifier scalar (the canonical transcript order of frost-rs' BTreeMap and noble). */
export function byScalar<T>(items: readonly T[], xs: readonly bigint[]): { item: T; x: bigint }[] {
  return items.map((item, i) => ({ item, x: xs[i]! })).sort((a, b) => (a.x < b.x ? -1 : a.x > b.x ? 1 : 0));
}

/**
 * Check each private share received in round 2 of a (zero-)sharing: one from every peer, addressed
 * to `self`, canonical. Returns the share scalars keyed by sender. Malformed shares blame the sender.
 */
export function collectShares(
  suite: AnyCiphersuite,
  packages: readonly { sender: Identifier; receiver: Identifier; share: SecretBytes | undefined }[],
  self: Identifier,
  peers: ReadonlyMap<Identifier, unknown>,
  field: string,
): Map<Identifier, bigint> {
  if (!Array.isArray(packages) || packages.length !== peers.size) {
    throw new ValidationError(
      'INVALID_ARGUMENT',
      `${field}: expected ${peers.size} packages (one per other party), got ${Array.isArray(packages) ? packages.length : typeof packages}`,
      [field],
    );
  }
  const out = new Map<Identifier, bigint>();
  const culprits: Identifier[] = [];
  packages.forEach((p, i) => {
    const path = `${field}[${i}]`;
    if (!p || typeof p !== 'object')
      throw new ValidationError('INVALID_ARGUMENT', `${path}: expected object`, [path]);
    if (p.receiver !== self) {
      throw new ValidationError(
        'INVALID_ARGUMENT',
        `${path}.receiver: addressed to ${displayValue(p.receiver)}, not to ${self}`,
        [`${path}.receiver`],
      );
    }
    if (!peers.has(p.sender)) {
      throw new ValidationError(
        'UNKNOWN_IDENTIFIER',
        `${path}.sender: ${displayValue(p.sender)} sent no round-1 package`,
        [`${path}.sender`],
      );
    }
    if (out.has(p.sender) || culprits.includes(p.sender)) {
      throw new ValidationError(
        'DUPLICATE_IDENTIFIER',
        `${path}.sender: second package from ${displayValue(p.sender)}`,
        [`${path}.sender`],
      );
    }
    const s = p.share;
    if (!(s instanceof SecretBytes) || s.wiped) {
      throw new ValidationError('INVALID_ARGUMENT', `${path}: expected a live SecretBytes share`, [path]);
    }
    try {
      out.set(p.sender, suite.field.fromBytes(s.expose(), `${path}.share`));
    } catch {
      culprits.push(p.sender);
    }
  });
  if (culprits.length) {
    throw new ProtocolError(
      'INVALID_SECRET_SHARE',
      `malformed secret share from ${culprits.join(', ')}`,
      culprits,
    );
  }
  return out;
}

/**
 * Check received shares against the senders' commitments in one batch:
 * (sum of shares) * G == evalCommitment(sum of commitments, x_self). Only when that fails is each
 * sender checked alone, to name the culprits. Returns evalCommitment(summed, x_self), which is
 * this party's verifying share contribution.
 */
export function verifySharesBatch<E>(
  suite: Ciphersuite<E>,
  x: bigint,
  total: bigint,
  summed: readonly E[],
  received: ReadonlyMap<Identifier, bigint>,
  commitments: ReadonlyMap<Identifier, readonly E[]>,
): E {
  const { group } = suite;
  const expected = group.evalCommitment(summed, x);
  if (group.equals(group.mulBase(total), expected)) return expected;
  const culprits: Identifier[] = [];
  for (const [sender, share] of received) {
    const c = commitments.get(sender)!;
    if (!group.equals(group.mulBase(share), group.evalCommitment(c, x))) culprits.push(sender);
  }
  throw new ProtocolError(
    'INVALID_SECRET_SHARE',
    culprits.length
      ? `secret share from ${culprits.join(', ')} does not match its commitment`
      : 'the received shares do not match the commitments, and no single sender is at fault',
    culprits,
  );
}

/**
 * Round 3's check of the shares received (one from every peer, addressed to `self`): they and the
 * own share sum to a share of the summed polynomial. One batched check against the summed
 * commitments; only when it fails is each sender checked alone, to name the culprits. `decode`
 * decodes a commitment again (all coefficients, the constant term's first) when the caller
 * switched backends since round 2, whose points belong to that round's backend.
 */
export function checkReceivedShares<E>(
  suite: Ciphersuite<E>,
  st: SharesState<Round1Broadcast>,
  self: Identifier,
  shares: readonly { sender: Identifier; receiver: Identifier; share: SecretBytes | undefined }[],
  decode: (bytes: readonly Uint8Array[], field: string) => E[],
): { total: bigint; summed: E[]; ownVerifying: E } {
  const received = collectShares(suite as AnyCiphersuite, shares, self, st.peers, 'round2Packages');
  const sameBackend = st.suite.group === (suite.group as unknown);
  const commitments = new Map<Identifier, readonly E[]>();
  for (const peer of st.peers.values()) {
    commitments.set(
      peer.identifier,
      sameBackend
        ? (peer.commitment as readonly E[])
        : decode(peer.commitmentBytes, `round1Packages.${peer.identifier}.commitment`),
    );
  }
  const own = sameBackend
    ? (st.ownCommitment as readonly E[])
    : decode(st.round1.commitment, 'secret.commitment');
  let total = st.ownShare[0]!;
  for (const s of received.values()) total = suite.field.add(total, s);
  const summed = sumCommitments(suite, [own, ...commitments.values()]);
  const ownVerifying = verifySharesBatch(suite, st.x, total, summed, received, commitments);
  return { total, summed, ownVerifying };
}

/** This party and its peers, in identifier-scalar order. */
export function participantsInOrder(
  self: Identifier,
  x: bigint,
  peers: ReadonlyMap<Identifier, { identifier: Identifier; x: bigint }>,
): { identifier: Identifier; x: bigint }[] {
  return [
    { identifier: self, x },
    ...[...peers.values()].map((p) => ({ identifier: p.identifier, x: p.x })),
  ].sort((a, b) => (a.x < b.x ? -1 : a.x > b.x ? 1 : 0));
}
