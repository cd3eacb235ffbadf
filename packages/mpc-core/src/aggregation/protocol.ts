/**
 * The secret-shared aggregation protocol as pure functions over typed messages.
 *
 *  1. {@link createAggregationSession}: everyone fixes the circuit, session id, threshold and the
 *     parties (identifier and role); its digest is bound into every range proof.
 *  2. {@link dealInput}: a provider Pedersen-shares each of its inputs ({@link InputDealing}: the
 *     public commitments, a range proof, one {@link InputShare} per party).
 *  3. {@link verifyDealing} / {@link verifyDealings} (batched): each party checks the range proof
 *     and its share against the commitments; a bad dealing names the dealer.
 *  4. {@link evaluateShares}: each party applies the circuit to its shares, locally
 *     ({@link ResultShare}, one per output).
 *  5. {@link openResult}: any `t` result shares open each output; every share is checked against the
 *     combined commitments, liars are named and skipped; `buildAggregationRecord` (record.ts)
 *     then gives the record anyone can check offline with `verifyAggregation`.
 */
import { inspect } from 'node:util';
import { sha256 } from '@noble/hashes/sha2.js';
import { equalBytes, wipe } from '../bytes.js';
import { canonicalBytes } from '../envelope/canonical.js';
import { AapsError, type Culprit, ProtocolError, ValidationError } from '../errors.js';
import {
  assertArray,
  assertBigint,
  assertFunction,
  assertObject,
  assertString,
  assertSuite,
  optionsOf,
} from '../guards.js';
import { type Identifier, identifierToScalar } from '../keys.js';
import { SecretBytes } from '../secret.js';
import { isCiphersuiteId } from '../suite/registry.js';
import type { Ciphersuite, CiphersuiteId, Rng } from '../suite/types.js';
import {
  type BatchItem,
  batchCheckOpenings,
  batchCheckShares,
  type CurvePoint,
  decodeCommitment,
  scalePoint,
} from './batch.js';
import { type Circuit, checkCircuit, type SubstitutedOutput, substitutedOutputs } from './circuit.js';
import { asCurvePoint, generators, pointClass, pointHint } from './curve.js';
import { asElement, commitFast } from './fixed-base.js';
import { proveRange, rangeProofContext, verifyRangeProof } from './range-proof.js';
import { dealPedersenManyEncoded, lagrangeAtZero, pedersenShareHolds } from './shamir.js';
import {
  checkVectorShares,
  constantCommitment,
  dealVector,
  type VectorCheckItem,
  vectorShareHolds,
} from './vector.js';
import { VectorDealingPad } from './vector-pad.js';

export const AGGREGATION_VERSION = 1;
const SESSION_ID = /^[A-Za-z0-9._:-]{1,128}$/;

export interface AggregationParty {
  readonly id: Identifier;
  /** The role the party plays; circuit inputs name the role that provides them. */
  readonly role: string;
}

export interface AggregationSessionOptions {
  readonly circuit: Circuit;
  readonly sessionId: string;
  /** Shares needed to open (`t`); honest majority: `parties.length >= 2t - 1`. */
  readonly threshold: number;
  readonly parties: readonly AggregationParty[];
}

/** A validated session: what every message and proof of one aggregation is bound to. */
export interface AggregationSession<E> {
  readonly suite: Ciphersuite<E>;
  readonly circuit: Circuit;
  readonly sessionId: string;
  readonly threshold: number;
  readonly parties: readonly AggregationParty[];
  /** SHA-256 of the canonical session description (suite, circuit digest, id, threshold, parties). */
  readonly digest: Uint8Array;
  /** Each party's evaluation point (its identifier as a scalar). */
  readonly xs: ReadonlyMap<Identifier, bigint>;
  /** The party that provides each circuit input, by input index. */
  readonly providers: readonly Identifier[];
  /** Circuit input index by name. */
  readonly inputIndex: ReadonlyMap<string, number>;
}

/**
 * One party's share of one input: `f(x)` and `g(x)`, scalar encodings (for a vector input, `share`
 * holds `f_i(x)` for every element, one encoding after another). They never print.
 */
export interface InputShare {
  readonly share: SecretBytes;
  readonly blinding: SecretBytes;
}

/** The public part of a dealing (what every party and the record see). */
export interface PublicInputDealing {
  readonly v: typeof AGGREGATION_VERSION;
  readonly suite: CiphersuiteId;
  readonly sessionId: string;
  readonly input: string;
  readonly dealer: Identifier;
  /**
   * `C_j = a_j G + b_j H`, j = 0..t-1; `C_0` commits to the input. For a vector input,
   * `C_j = sum_i a_ij G_i + b_j H` (see `vector.ts`).
   */
  readonly commitments: readonly Uint8Array[];
  /** Range proof on `C_0`, or `null` where the circuit does not ask for one. */
  readonly rangeProof: Uint8Array | null;
  /**
   * Per commitment, the coordinate its encoding leaves out (Ed25519: x, little-endian; secp256k1:
   * y, big-endian; 32 bytes), so receivers can skip the square root of point decompression in bulk
   * checks. Untrusted: a hint that does not match its commitment fails the dealing. `null` if absent.
   */
  readonly hints: readonly Uint8Array[] | null;
}

/** Round 1: one provider's dealing of one input, with the per-receiver shares. */
export interface InputDealing extends PublicInputDealing {
  readonly shares: Readonly<Record<Identifier, InputShare>>;
}

/** A dealing a receiver has checked, with its own share (which never prints: see {@link redact}). */
export interface VerifiedInput {
  readonly input: string;
  readonly index: number;
  readonly dealer: Identifier;
  readonly commitments: readonly Uint8Array[];
  /** `f(x)`; for a vector input, `f_i(x)` per element. */
  readonly share: bigint | readonly bigint[];
  readonly blinding: bigint;
}

/** Round 2: one party's share of one output (revealed for opening). */
export interface ResultShare {
  readonly v: typeof AGGREGATION_VERSION;
  readonly sessionId: string;
  readonly party: Identifier;
  readonly output: string;
  /** The output's share (a vector output: one scalar encoding per element, in order). */
  readonly share: Uint8Array;
  readonly blinding: Uint8Array;
}

/**
 * Why a dealer was excluded from a round (its inputs took the circuit's public substitutes):
 *  - `unanswered`: it did not answer the request to reveal the shares receivers complained about;
 *  - `refused`: it answered with a refusal;
 *  - `refuted`: it revealed (or a receiver's complaint showed) shares its own commitments refute
 *    (a proof: the dealer is a culprit);
 *  - `named_by_claims`: at least t receivers claimed against it (see the coordinator).
 */
export type ExclusionReason = 'unanswered' | 'refused' | 'refuted' | 'named_by_claims';
export const EXCLUSION_REASONS: readonly ExclusionReason[] = Object.freeze([
  'unanswered',
  'refused',
  'refuted',
  'named_by_claims',
]);

/** A dealer left out of a round, with why. */
export interface Exclusion {
  readonly dealer: Identifier;
  readonly reason: ExclusionReason;
}

/**
 * The circuit input indices the given dealers provide, or `ValidationError` for a dealer that is
 * no party, provides nothing, or is named twice.
 */
export function excludedInputIndices<E>(
  session: AggregationSession<E>,
  dealers: readonly Identifier[],
  field = 'excluded',
): Set<number> {
  checkSession(session);
  assertArray(dealers, field);
  const seen = new Set<Identifier>();
  for (const [k, d] of dealers.entries()) {
    if (typeof d !== 'string' || !session.xs.has(d) || seen.has(d)) {
      throw new ValidationError('INVALID_ARGUMENT', `${field}[${k}]: expected a party named once`, [
        `${field}[${k}]`,
      ]);
    }
    if (!session.providers.includes(d)) {
      throw new ValidationError('INVALID_ARGUMENT', `${field}[${k}]: provides no input`, [`${field}[${k}]`]);
    }
    seen.add(d);
  }
  const out = new Set<number>();
  session.providers.forEach((p, i) => {
    if (seen.has(p)) out.add(i);
  });
  return out;
}

/** An opened output: an integer, or the elements of a vector output. */
export type OutputValue = bigint | readonly bigint[];

export interface OpenedOutput {
  readonly name: string;
  /**
   * The result as a signed integer (in units of the output's scale); for a vector output, one per
   * element.
   */
  readonly value: OutputValue;
  /**
   * Opening randomness: `value*G + blinding*H` (a vector: `sum_i value_i G_i + blinding*H`) is the
   * output's combined commitment.
   */
  readonly blinding: bigint;
}

/**
 * A session from {@link createAggregationSession} (by shape), or `ValidationError` naming `field`:
 * what every protocol function checks before it reads one.
 */
export function checkSession(
  session: unknown,
  field = 'session',
): asserts session is AggregationSession<unknown> {
  assertObject(session, field);
  assertSuite(session.suite, `${field}.suite`);
  checkCircuit(session.circuit, `${field}.circuit`);
  if (
    typeof session.sessionId !== 'string' ||
    !Number.isSafeInteger(session.threshold) ||
    !Array.isArray(session.parties) ||
    !Array.isArray(session.providers) ||
    !(session.xs instanceof Map) ||
    !(session.digest instanceof Uint8Array)
  ) {
    throw new ValidationError(
      'INVALID_ARGUMENT',
      `${field}: expected a session from createAggregationSession`,
      [field],
    );
  }
}

/** Validate the session parameters once; every later call takes the result. */
export function createAggregationSession<E>(
  suite: Ciphersuite<E>,
  opts: AggregationSessionOptions,
): AggregationSession<E> {
  assertSuite(suite);
  assertObject(opts, 'opts');
  const { circuit, sessionId, threshold, parties } = opts;
  checkCircuit(circuit, 'circuit');
  if (typeof sessionId !== 'string' || !SESSION_ID.test(sessionId)) {
    throw new ValidationError('INVALID_ARGUMENT', 'sessionId: expected 1-128 of [A-Za-z0-9._:-]', [
      'sessionId',
    ]);
  }
  if (!Array.isArray(parties) || parties.length < 2 || parties.length > 1000) {
    throw new ValidationError('INVALID_ARGUMENT', 'parties: expected 2 to 1000 parties', ['parties']);
  }
  if (!Number.isSafeInteger(threshold) || threshold < 2 || threshold > parties.length) {
    throw new ValidationError(
      'INVALID_THRESHOLD',
      `threshold: expected an integer in [2, ${parties.length}]`,
      ['threshold'],
    );
  }
  const xs = new Map<Identifier, bigint>();
  const byRole = new Map<string, Identifier>();
  parties.forEach((p, i) => {
    const x = identifierToScalar(suite, p?.id, `parties[${i}].id`);
    if (xs.has(p.id)) {
      throw new ValidationError('DUPLICATE_IDENTIFIER', `parties[${i}].id: duplicate`, [`parties[${i}].id`]);
    }
    if (typeof p.role !== 'string' || p.role.length === 0 || p.role.length > 64) {
      throw new ValidationError('INVALID_ARGUMENT', `parties[${i}].role: expected a role name`, [
        `parties[${i}].role`,
      ]);
    }
    if (byRole.has(p.role)) {
      throw new ValidationError('INVALID_ARGUMENT', `parties[${i}].role: role held twice`, [
        `parties[${i}].role`,
      ]);
    }
    xs.set(p.id, x);
    byRole.set(p.role, p.id);
  });
  const half = (suite.field.ORDER - 1n) / 2n;
  circuit.outputs.forEach((o, i) => {
    if (o.max > half || o.min < -half) {
      throw new ValidationError(
        'CIRCUIT_INVALID',
        `circuit.outputs[${i}]: could wrap around ${suite.id}'s field`,
        [`circuit.outputs[${i}]`],
      );
    }
  });
  const providers = circuit.inputs.map((inp, i) => {
    const id = byRole.get(inp.role);
    if (id === undefined) {
      throw new ValidationError(
        'INVALID_ARGUMENT',
        `circuit.inputs[${i}].role: no party has role "${inp.role}"`,
        [`circuit.inputs[${i}].role`],
      );
    }
    return id;
  });
  const frozenParties = Object.freeze(parties.map((p) => Object.freeze({ id: p.id, role: p.role })));
  const digest = sessionDigest(suite.id, circuit.digestHex, sessionId, threshold, frozenParties);
  return Object.freeze({
    suite,
    circuit,
    sessionId,
    threshold,
    parties: frozenParties,
    digest,
    xs,
    providers: Object.freeze(providers),
    inputIndex: circuit.inputIndex,
  });
}

/** SHA-256 over the RFC 8785 bytes of the session description. */
export function sessionDigest(
  suite: CiphersuiteId,
  circuitDigestHex: string,
  sessionId: string,
  threshold: number,
  parties: readonly AggregationParty[],
): Uint8Array {
  if (!isCiphersuiteId(suite)) {
    throw new ValidationError('INVALID_ARGUMENT', 'suite: expected a ciphersuite id', ['suite']);
  }
  assertString(circuitDigestHex, 'circuitDigestHex');
  assertString(sessionId, 'sessionId');
  if (!Number.isSafeInteger(threshold)) {
    throw new ValidationError('INVALID_ARGUMENT', 'threshold: expected an integer', ['threshold']);
  }
  assertArray(parties, 'parties');
  parties.forEach((p, i) => {
    assertObject(p, `parties[${i}]`);
    assertString(p.id, `parties[${i}].id`);
    assertString(p.role, `parties[${i}].role`);
  });
  return sha256(
    canonicalBytes({
      type: 'aaps-aggregation-session/v1',
      suite,
      circuit: circuitDigestHex,
      sessionId,
      threshold,
      parties: parties.map((p) => ({ id: p.id, role: p.role })),
    }),
  );
}

/** The context an input's range proof is bound to. */
export function inputProofContext(
  session: { circuit: Circuit; sessionId: string; digest: Uint8Array },
  dealer: Identifier,
  input: string,
): Uint8Array {
  assertObject(session, 'session');
  assertObject(session.circuit, 'session.circuit');
  assertString(dealer, 'dealer');
  assertString(input, 'input');
  return rangeProofContext({
    circuitId: session.circuit.id,
    sessionId: session.sessionId,
    party: dealer,
    input,
    bind: session.digest,
  });
}

function inputIndex<E>(session: AggregationSession<E>, input: string, field: string): number {
  const i = typeof input === 'string' ? session.inputIndex.get(input) : undefined;
  if (i === undefined)
    throw new ValidationError('INVALID_ARGUMENT', `${field}: not an input of ${session.circuit.id}`, [field]);
  return i;
}

/** A value to deal: an integer, or a vector input's elements. */
export type DealValue = bigint | number | readonly (bigint | number)[];

/**
 * Share one input. `value` must be an integer in the input's declared range (a vector input: an
 * array of its length, every element in the range).
 */
export function dealInput<E>(
  session: AggregationSession<E>,
  args: { input: string; dealer: Identifier; value: DealValue },
  rng: Rng,
): InputDealing {
  assertObject(args, 'args');
  return dealInputs(
    session,
    { dealer: args.dealer, values: [{ input: args.input, value: args.value }] },
    rng,
  )[0]!;
}

/** Options of {@link dealInputs}. */
export interface DealOptions {
  /**
   * A prepared pad (`prepareVectorPad`) for a vector input of this length at the session's
   * threshold, or none (then its random part is computed now). Each pad given is used up.
   */
  padFor?: (length: number) => VectorDealingPad | undefined;
}

/**
 * Share several inputs of one dealer (bulk inputs): the same checks and messages as
 * {@link dealInput} for each, with every commitment computed in one fixed-base batch. The `rng`
 * draws go to the scalar inputs' polynomials first (input order), then to the vector inputs'
 * (input order), then to the range proofs. For scalar inputs without range proofs the output is
 * byte-identical to calling {@link dealInput} for each input in turn.
 */
export function dealInputs<E>(
  session: AggregationSession<E>,
  args: { dealer: Identifier; values: readonly { input: string; value: DealValue }[] },
  rng: Rng,
  options: DealOptions = {},
): InputDealing[] {
  checkSession(session);
  assertObject(args, 'args');
  assertArray(args.values, 'args.values');
  args.values.forEach((item, k) => {
    assertObject(item, `args.values[${k}]`);
  });
  assertFunction(rng, 'rng');
  optionsOf(options, 'options');
  if (options.padFor !== undefined) assertFunction(options.padFor, 'options.padFor');
  const { suite, circuit } = session;
  const F = suite.field;
  const asInt = (v: unknown) => (typeof v === 'number' && Number.isSafeInteger(v) ? BigInt(v) : v);
  const checkedAll = args.values.map((item, k) => {
    const field = args.values.length === 1 ? 'value' : `values[${k}].value`;
    const index = inputIndex(session, item.input, args.values.length === 1 ? 'input' : `values[${k}].input`);
    const spec = circuit.inputs[index]!;
    if (session.providers[index] !== args.dealer) {
      throw new ValidationError(
        'INVALID_ARGUMENT',
        `dealer: input ${spec.name} is provided by role ${spec.role}`,
        ['dealer'],
      );
    }
    if (spec.length > 1) {
      const elements = Array.isArray(item.value) ? item.value.map(asInt) : [];
      if (
        elements.length !== spec.length ||
        elements.some((v) => typeof v !== 'bigint' || v < spec.min || v > spec.max)
      ) {
        throw new ValidationError(
          'INVALID_ARGUMENT',
          `${field}: expected ${spec.length} integers in [${spec.min}, ${spec.max}]`,
          [field],
        );
      }
      return { k, spec, vector: (elements as bigint[]).map((v) => F.create(v)) };
    }
    const value = asInt(item.value);
    if (typeof value !== 'bigint' || value < spec.min || value > spec.max) {
      throw new ValidationError(
        'INVALID_ARGUMENT',
        `${field}: expected an integer in [${spec.min}, ${spec.max}]`,
        [field],
      );
    }
    // A non-negative range bounds the secret publicly: C_0's G part needs only the rows covering it.
    const bits = spec.min >= 0n ? spec.max.toString(2).length : undefined;
    return { k, spec, value, secret: F.create(value), ...(bits === undefined ? {} : { bits }) };
  });
  const ids = session.parties.map((p) => p.id);
  const xs = ids.map((id) => session.xs.get(id)!);
  const out: InputDealing[] = new Array(args.values.length);
  // Scalars first (all in one fixed-base batch), then vectors, each with its own generators.
  const checked = checkedAll.filter((c) => c.vector === undefined) as ScalarItem[];
  const dealt = dealPedersenManyEncoded(suite, checked, xs, session.threshold, rng);
  const Pc = pointClass(suite.id);
  /** The dealing message, with each receiver's share and blinding (share: encoded scalars). */
  const message = (
    input: string,
    commitments: readonly Uint8Array[],
    hints: readonly Uint8Array[],
    rangeProof: Uint8Array | null,
    shares: readonly { share: Uint8Array; blinding: bigint }[],
  ): InputDealing => {
    const byReceiver: Record<Identifier, InputShare> = {};
    shares.forEach((s, i) => {
      byReceiver[ids[i]!] = Object.freeze({
        share: new SecretBytes(s.share),
        blinding: new SecretBytes(F.toBytes(s.blinding)),
      });
      wipe(s.share);
    });
    return Object.freeze({
      v: AGGREGATION_VERSION,
      suite: suite.id,
      sessionId: session.sessionId,
      input,
      dealer: args.dealer,
      commitments: Object.freeze([...commitments]),
      rangeProof,
      hints: Object.freeze([...hints]),
      shares: Object.freeze(byReceiver),
    });
  };
  for (const c of checkedAll) {
    if (c.vector === undefined) continue;
    const pad = options.padFor?.(c.spec.length);
    if (pad !== undefined) checkPad(pad, suite.id, c.spec.length, session.threshold);
    const d = dealVector(suite, c.vector, xs, session.threshold, rng, pad);
    out[c.k] = message(
      c.spec.name,
      d.points.map((p) => p.toBytes()),
      d.points.map((p) => pointHint(Pc, p)),
      null,
      d.shares.map((s) => ({ share: scalarsToBytes(F, s.values), blinding: s.blinding })),
    );
  }
  checked.forEach(({ spec, value, k: at }, k) => {
    const dealing = dealt[k]!;
    const commitments = dealing.commitments;
    const rangeProof = spec.rangeProof
      ? proveRange(
          suite,
          {
            commitment: asElement(suite, dealing.points[0]!, commitments[0]!),
            lo: spec.min,
            hi: spec.max,
            context: inputProofContext(session, args.dealer, spec.name),
          },
          { value, blinding: dealing.blinding },
          rng,
        )
      : null;
    out[at] = message(
      spec.name,
      commitments,
      dealing.hints,
      rangeProof,
      dealing.shares.map((s) => ({ share: F.toBytes(s.share), blinding: s.blinding })),
    );
  });
  return out;
}

/** A pad must be a {@link VectorDealingPad} of this suite, length and threshold. */
function checkPad(pad: unknown, suiteId: string, length: number, threshold: number): void {
  const bad = (why: string): never => {
    throw new ValidationError('INVALID_ARGUMENT', `pad: ${why}`, ['pad']);
  };
  if (!(pad instanceof VectorDealingPad)) bad('expected a VectorDealingPad');
  const p = pad as VectorDealingPad;
  if (p.suiteId !== suiteId) bad(`prepared for ${p.suiteId}, not ${suiteId}`);
  if (p.length !== length) bad(`prepared for length ${p.length}, not ${length}`);
  if (p.threshold !== threshold) bad(`prepared for threshold ${p.threshold}, not ${threshold}`);
  // A used pad is refused by its own `take()`, with the same error.
}

interface ScalarItem {
  readonly k: number;
  readonly spec: Circuit['inputs'][number];
  readonly value: bigint;
  readonly secret: bigint;
  readonly bits?: number;
}

/** The broadcast part of a dealing (drop the per-receiver shares). */
export function publicDealing(d: PublicInputDealing): PublicInputDealing {
  assertObject(d, 'dealing');
  return Object.freeze({
    v: d.v,
    suite: d.suite,
    sessionId: d.sessionId,
    input: d.input,
    dealer: d.dealer,
    commitments: d.commitments,
    rangeProof: d.rangeProof,
    hints: d.hints,
  });
}

/** A dealing's commitments as curve points (hinted decode; see `batch.ts`), or blame its dealer. */
function curvePoints<E>(
  session: AggregationSession<E>,
  d: PublicInputDealing,
  blame: DealingHeader['blame'],
): CurvePoint[] {
  return d.commitments.map((c, j) => {
    const p = decodeCommitment(session.suite, c, d.hints?.[j]);
    return p ?? blame(`commitment ${j} (or its hint) is not a curve point`);
  });
}

interface CheckedPublic<E> {
  readonly index: number;
  readonly commitments: readonly E[];
}

interface DealingHeader {
  readonly index: number;
  readonly blame: (why: string, cause?: unknown) => never;
}

/** Session, version, input and provider checks; then count and length of the commitments. */
function checkHeader<E>(session: AggregationSession<E>, dealing: PublicInputDealing): DealingHeader {
  const { suite } = session;
  if (!dealing || typeof dealing !== 'object') {
    throw new ValidationError('INVALID_ARGUMENT', 'dealing: expected an object', ['dealing']);
  }
  if (dealing.v !== AGGREGATION_VERSION) {
    throw new ValidationError('UNSUPPORTED_VERSION', 'dealing.v: unsupported', ['dealing.v']);
  }
  if (dealing.suite !== suite.id) {
    throw new ValidationError('CIPHERSUITE_MISMATCH', `dealing.suite: expected ${suite.id}`, [
      'dealing.suite',
    ]);
  }
  if (dealing.sessionId !== session.sessionId) {
    throw new ValidationError('INVALID_ARGUMENT', 'dealing.sessionId: another session', [
      'dealing.sessionId',
    ]);
  }
  const index = inputIndex(session, dealing.input, 'dealing.input');
  const spec = session.circuit.inputs[index]!;
  if (session.providers[index] !== dealing.dealer) {
    throw new ValidationError('INVALID_ARGUMENT', `dealing.dealer: not the provider of ${spec.name}`, [
      'dealing.dealer',
    ]);
  }
  const blame = (why: string, cause?: unknown): never => {
    throw new ProtocolError('INVALID_DEALING', `dealing of ${spec.name}: ${why}`, [dealing.dealer], {
      cause,
      details: { dealer: dealing.dealer, input: spec.name },
    });
  };
  const EL = suite.group.elementLength;
  if (
    !Array.isArray(dealing.commitments) ||
    dealing.commitments.length !== session.threshold ||
    dealing.commitments.some((c) => !(c instanceof Uint8Array) || c.length !== EL)
  ) {
    blame(`expected ${session.threshold} commitments of ${EL} bytes`);
  }
  if (
    dealing.hints !== null &&
    (!Array.isArray(dealing.hints) ||
      dealing.hints.length !== session.threshold ||
      dealing.hints.some((h) => !(h instanceof Uint8Array) || h.length !== 32))
  ) {
    blame(`expected null or ${session.threshold} hints of 32 bytes`);
  }
  return { index, blame };
}

/** The range proof on `C_0` (given decoded), or its absence where the circuit wants none. */
function checkProof<E>(
  session: AggregationSession<E>,
  dealing: PublicInputDealing,
  index: number,
  c0: () => E,
  blame: (why: string) => never,
  verifyProof: boolean,
): void {
  const spec = session.circuit.inputs[index]!;
  if (!spec.rangeProof) {
    if (dealing.rangeProof !== null) blame('a range proof where the circuit asks for none');
    return;
  }
  if (!(dealing.rangeProof instanceof Uint8Array)) {
    throw new ProtocolError(
      'INVALID_RANGE_PROOF',
      `dealing of ${spec.name}: range proof missing`,
      [dealing.dealer],
      {
        details: { dealer: dealing.dealer, input: spec.name },
      },
    );
  }
  if (!verifyProof) return;
  verifyRangeProof(
    session.suite,
    {
      commitment: c0(),
      lo: spec.min,
      hi: spec.max,
      context: inputProofContext(session, dealing.dealer, spec.name),
    },
    dealing.rangeProof,
    dealing.dealer,
  );
}

function strictDecode<E>(
  session: AggregationSession<E>,
  bytes: Uint8Array,
  field: string,
  blame: DealingHeader['blame'],
): E {
  const decoded = tryStrictDecode(session, bytes, field);
  if ('element' in decoded) return decoded.element;
  return blame('a commitment is not a valid group element', decoded.error);
}

/**
 * The strict decoding of `bytes` (canonical, prime-order, not the identity), cached by encoding
 * object with a copy of the bytes it was made from; or the decoder's error.
 */
function tryStrictDecode<E>(
  session: AggregationSession<E>,
  bytes: Uint8Array,
  field: string,
): { element: E } | { error: AapsError } {
  const hit = strictDecoded.get(bytes);
  if (hit && hit.suite === session.suite && equalBytes(hit.bytes, bytes))
    return { element: hit.element as E };
  try {
    const element = session.suite.group.deserialize(bytes, field);
    strictDecoded.set(bytes, { suite: session.suite, bytes: Uint8Array.from(bytes), element });
    return { element };
  } catch (cause) {
    if (cause instanceof AapsError) return { error: cause };
    throw cause;
  }
}

/** Strict decodings by encoding object, with a copy of the bytes they were made from. */
const strictDecoded = new WeakMap<Uint8Array, { suite: object; bytes: Uint8Array; element: unknown }>();

/**
 * Strictly decode the `C_0` of the given dealings ahead of {@link openResult} (which reuses the
 * results for these same byte arrays), e.g. while the parties evaluate, so the opening itself has
 * less to do. Checks nothing else and throws nothing: a dealing that fails here is blamed by
 * `openResult` as usual (which also decodes again any bytes changed since).
 */
export function precheckOpening<E>(
  session: AggregationSession<E>,
  dealings: readonly PublicInputDealing[],
): void {
  checkSession(session);
  assertArray(dealings, 'dealings');
  for (const d of dealings) {
    const c0 = d?.commitments?.[0];
    if (c0 instanceof Uint8Array && c0.length === session.suite.group.elementLength) {
      tryStrictDecode(session, c0, 'dealing.commitments[0]');
    }
  }
}

/**
 * Public checks of a dealing: it belongs to this session, comes from the input's provider, every
 * commitment decodes strictly, every hint (if any) matches its commitment, and (unless
 * `verifyProof: false`) its range proof verifies. A
 * dealing from the wrong party or for another session is refused as `ValidationError`; a malformed
 * one blames its dealer (`INVALID_DEALING` / `INVALID_RANGE_PROOF`).
 */
export function checkPublicDealing<E>(
  session: AggregationSession<E>,
  dealing: PublicInputDealing,
  opts: { verifyProof?: boolean } = {},
): CheckedPublic<E> {
  checkSession(session);
  optionsOf(opts, 'opts');
  const { index, blame } = checkHeader(session, dealing);
  const commitments = dealing.commitments.map((c, j) =>
    strictDecode(session, c, `dealing.commitments[${j}]`, blame),
  );
  // The hints are part of what the dealer signed, and receivers decode with them: a hint that
  // does not match its commitment is the dealer's public fault, found here by anyone (so no
  // receiver complains about it, and a coordinator names the dealer from its dealing alone).
  if (dealing.hints !== null) curvePoints(session, dealing, blame);
  checkProof(session, dealing, index, () => commitments[0]!, blame, opts.verifyProof !== false);
  return { index, commitments };
}

function receiverShare<E>(
  session: AggregationSession<E>,
  dealing: InputDealing,
  receiver: Identifier,
  length: number,
): { share: bigint | bigint[]; blinding: bigint } {
  const F = session.suite.field;
  const s: unknown = dealing.shares?.[receiver];
  try {
    // What the dealer sent in the receiver's place, of whatever type: anything but a share and a
    // blinding as SecretBytes is the dealer's fault, like a share off its commitments.
    if (s === null || typeof s !== 'object') throw new ValidationError('INVALID_ARGUMENT', 'missing share');
    const { share, blinding: b } = s as Partial<InputShare>;
    if (!(share instanceof SecretBytes) || !(b instanceof SecretBytes)) {
      throw new ValidationError('INVALID_ARGUMENT', 'share and blinding: expected SecretBytes');
    }
    const blinding = F.fromBytes(b.expose(), 'blinding');
    if (length === 1) return { share: F.fromBytes(share.expose(), 'share'), blinding };
    return { share: scalarsFromBytes(F, share.expose(), length, 'share'), blinding };
  } catch (cause) {
    if (!(cause instanceof AapsError)) throw cause;
    throw new ProtocolError(
      'INVALID_DEALING',
      `dealing of ${dealing.input}: no valid share for ${receiver}`,
      [dealing.dealer],
      { cause, details: { dealer: dealing.dealer, input: dealing.input } },
    );
  }
}

/** Scalar encodings one after another (a vector share). */
function scalarsToBytes(F: Ciphersuite<unknown>['field'], values: readonly bigint[]): Uint8Array {
  const SL = F.BYTES;
  const out = new Uint8Array(SL * values.length);
  for (let i = 0; i < values.length; i++) out.set(F.toBytes(values[i]!), i * SL);
  return out;
}

/** `length` scalar encodings one after another (a vector share); throws on any other size. */
function scalarsFromBytes(
  F: Ciphersuite<unknown>['field'],
  bytes: Uint8Array,
  length: number,
  field: string,
): bigint[] {
  const SL = F.BYTES;
  if (!(bytes instanceof Uint8Array) || bytes.length !== SL * length) {
    throw new ValidationError('INVALID_LENGTH', `${field}: expected ${length} scalar encodings`, [field]);
  }
  const out = new Array<bigint>(length);
  for (let i = 0; i < length; i++) out[i] = F.fromBytes(bytes.subarray(i * SL, (i + 1) * SL), field);
  return out;
}

/** Give a verified input `toJSON` / `inspect` forms without the share and blinding. */
function redact(v: VerifiedInput): VerifiedInput {
  const shown = { input: v.input, dealer: v.dealer, share: '<redacted>', blinding: '<redacted>' };
  Object.defineProperty(v, 'toJSON', { value: () => shown, enumerable: false });
  Object.defineProperty(v, inspect.custom, {
    value: () => `VerifiedInput ${JSON.stringify(shown)}`,
    enumerable: false,
  });
  return Object.freeze(v);
}

function receiverX<E>(session: AggregationSession<E>, receiver: Identifier): bigint {
  const x = session.xs.get(receiver);
  if (x === undefined) throw new ValidationError('UNKNOWN_IDENTIFIER', 'receiver: not a party', ['receiver']);
  return x;
}

/** A receiver's full check of one dealing: public checks, then its share against the commitments. */
export function verifyDealing<E>(
  session: AggregationSession<E>,
  dealing: InputDealing,
  receiver: Identifier,
): VerifiedInput {
  checkSession(session);
  const x = receiverX(session, receiver);
  const { index, commitments } = checkPublicDealing(session, dealing);
  const { share, blinding } = receiverShare(
    session,
    dealing,
    receiver,
    session.circuit.inputs[index]!.length,
  );
  const holds =
    typeof share === 'bigint'
      ? pedersenShareHolds(session.suite, commitments, x, share, blinding)
      : vectorShareHolds(session.suite, {
          x,
          points: commitments.map((c) => asCurvePoint(session.suite, c)),
          values: share,
          blinding,
        });
  if (!holds) {
    throw new ProtocolError(
      'INVALID_DEALING',
      `dealing of ${dealing.input}: share does not match commitments`,
      [dealing.dealer],
      { details: { dealer: dealing.dealer, input: dealing.input } },
    );
  }
  return redact({
    input: dealing.input,
    index,
    dealer: dealing.dealer,
    commitments: dealing.commitments,
    share,
    blinding,
  });
}

/**
 * A receiver's check of many dealings at once: header and range-proof checks per dealing, then one
 * random linear combination for all share checks (see `batch.ts`), falling back to single checks
 * to name every bad dealer. Commitments other than proved `C_0`s are decoded only as curve points
 * here; openings and records decode them strictly. `verifyProofs: false` skips range proofs (bulk
 * inputs); a missing proof is still refused. `ownProofsTrusted: true` skips the proofs of the
 * receiver's own dealings (it made them; a caller that got them back over a network must have
 * checked that they are byte for byte what it sent, e.g. by its own signature).
 */
export function verifyDealings<E>(
  session: AggregationSession<E>,
  dealings: readonly InputDealing[],
  receiver: Identifier,
  rng: Rng,
  opts: { verifyProofs?: boolean; ownProofsTrusted?: boolean } = {},
): VerifiedInput[] {
  checkSession(session);
  assertArray(dealings, 'dealings');
  assertFunction(rng, 'rng');
  optionsOf(opts, 'opts');
  const x = receiverX(session, receiver);
  const culprits = new Set<Culprit>();
  let firstError: ProtocolError | undefined;
  const checked: VerifiedInput[] = [];
  const items: BatchItem[] = [];
  const vectors: VectorCheckItem[] = [];
  /** Which `checked` entry each scalar item and each vector item belongs to. */
  const itemOwner: number[] = [];
  const vectorOwner: number[] = [];
  for (const d of dealings) {
    try {
      const { index, blame } = checkHeader(session, d);
      const c0 = () => strictDecode(session, d.commitments[0]!, 'dealing.commitments[0]', blame);
      const own = opts.ownProofsTrusted === true && d.dealer === receiver;
      checkProof(session, d, index, c0, blame, opts.verifyProofs !== false && !own);
      const length = session.circuit.inputs[index]!.length;
      // A vector's C_0 goes into the record and has no range proof to decode it: decode it strictly
      // now (five points a round), so a bad one stops the round here, not at the opening.
      if (length > 1) c0();
      const points = curvePoints(session, d, blame);
      const { share, blinding } = receiverShare(session, d, receiver, length);
      checked.push({ input: d.input, index, dealer: d.dealer, commitments: d.commitments, share, blinding });
      if (typeof share === 'bigint') {
        itemOwner.push(checked.length - 1);
        items.push({ points, share, blinding });
      } else {
        vectorOwner.push(checked.length - 1);
        vectors.push({ x, points, values: share, blinding });
      }
    } catch (e) {
      if (!(e instanceof ProtocolError)) throw e;
      firstError ??= e;
      for (const c of e.culprits) culprits.add(c);
    }
  }
  const result = batchCheckShares(session.suite, x, items, rng);
  if (result !== true) for (const k of result) culprits.add(checked[itemOwner[k]!]!.dealer);
  const vectorResult = checkVectorShares(session.suite, vectors, rng);
  if (vectorResult !== true) for (const k of vectorResult) culprits.add(checked[vectorOwner[k]!]!.dealer);
  if (culprits.size > 0) {
    const list = [...culprits];
    const code = firstError && result === true && vectorResult === true ? firstError.code : 'INVALID_DEALING';
    throw new ProtocolError(code, `bad dealings from ${list.join(', ')}`, list, { cause: firstError });
  }
  return checked.map(redact);
}

/**
 * Apply the circuit to one party's verified shares: one {@link ResultShare} per output. Needs
 * exactly one verified dealing per circuit input.
 */
export function evaluateShares<E>(
  session: AggregationSession<E>,
  party: Identifier,
  inputs: readonly VerifiedInput[],
  opts: { excluded?: readonly Identifier[] } = {},
): ResultShare[] {
  checkSession(session);
  receiverX(session, party);
  assertArray(inputs, 'inputs');
  optionsOf(opts, 'opts');
  const skip = excludedInputIndices(session, opts.excluded ?? [], 'opts.excluded');
  const outputs = outputsWithout(session, skip);
  inputs.forEach((v, i) => {
    assertObject(v, `inputs[${i}]`);
    if (!Number.isSafeInteger(v.index) || v.index < 0 || v.index >= session.circuit.inputs.length) {
      throw new ValidationError('INVALID_ARGUMENT', `inputs[${i}].index: not an input of the circuit`, [
        `inputs[${i}].index`,
      ]);
    }
  });
  const F = session.suite.field;
  const byIndex = indexInputs(session, inputs, 'inputs', skip);
  return session.circuit.outputs.map((o, oi) => {
    const { terms, constant } = outputs[oi]!;
    const c = F.create(constant);
    const z = new Array<bigint>(o.length).fill(c);
    let b = 0n;
    for (const t of terms) {
      const w = F.create(t.weight);
      const v = byIndex[t.index]!;
      const shares = typeof v.share === 'bigint' ? [v.share] : v.share;
      if (!Array.isArray(shares) || shares.length !== o.length || shares.some((e) => typeof e !== 'bigint')) {
        throw new ValidationError(
          'INVALID_ARGUMENT',
          `inputs: the share of ${t.input} is not ${o.length} scalars`,
          ['inputs'],
        );
      }
      for (let i = 0; i < o.length; i++) z[i] = F.add(z[i]!, F.mul(w, shares[i]!));
      b = F.add(b, F.mul(w, v.blinding));
    }
    const share = o.length === 1 ? F.toBytes(z[0]!) : scalarsToBytes(F, z);
    return Object.freeze({
      v: AGGREGATION_VERSION,
      sessionId: session.sessionId,
      party,
      output: o.name,
      share,
      blinding: F.toBytes(b),
    });
  });
}

/**
 * The outputs with the inputs at `skip` replaced by their public substitutes (the circuit's own
 * terms and constants when nothing is skipped).
 */
function outputsWithout<E>(
  session: AggregationSession<E>,
  skip: ReadonlySet<number>,
): readonly SubstitutedOutput[] {
  if (skip.size === 0) return session.circuit.outputs;
  return substitutedOutputs(session.circuit, skip);
}

function indexInputs<T extends { index: number }>(
  session: AggregationSession<unknown>,
  inputs: readonly T[],
  field: string,
  skip: ReadonlySet<number> = new Set(),
): T[] {
  const byIndex: T[] = new Array(session.circuit.inputs.length);
  for (const v of inputs) {
    if (skip.has(v.index)) {
      throw new ValidationError(
        'INVALID_ARGUMENT',
        `${field}: ${session.circuit.inputs[v.index]!.name} is excluded (it takes its substitute)`,
        [field],
      );
    }
    if (byIndex[v.index]) {
      throw new ValidationError(
        'INVALID_ARGUMENT',
        `${field}: two dealings of ${session.circuit.inputs[v.index]!.name}`,
        [field],
      );
    }
    byIndex[v.index] = v;
  }
  session.circuit.inputs.forEach((inp, i) => {
    if (!byIndex[i] && !skip.has(i))
      throw new ValidationError('INVALID_ARGUMENT', `${field}: missing input ${inp.name}`, [field]);
  });
  return byIndex;
}

/** Signed integer read of a field element: `(-q/2, q/2)`. */
export function fieldToSigned(order: bigint, v: bigint): bigint {
  assertBigint(order, 'order');
  assertBigint(v, 'v');
  return v > (order - 1n) / 2n ? v - order : v;
}

export interface OpenedResult {
  readonly outputs: readonly OpenedOutput[];
  /** Parties whose result shares failed the check (their shares were not used). */
  readonly culprits: readonly Identifier[];
  /** The parties whose shares opened the result. */
  readonly openers: readonly Identifier[];
  /** Dealers whose inputs took the circuit's substitutes (`opts.excluded` of {@link openResult}). */
  readonly excluded?: readonly Exclusion[];
}

/**
 * Open every output from the parties' result shares. Each party's shares are checked (batched
 * across outputs) against the combined commitments; a party with any bad share is named in
 * `culprits` and left out, and the opening proceeds from the first `t` honest parties (in
 * session order). Fewer than
 * `t` honest parties: `ProtocolError('INVALID_OPENING')` naming the liars.
 */
export function openResult<E>(
  session: AggregationSession<E>,
  dealings: readonly PublicInputDealing[],
  resultShares: readonly ResultShare[],
  rng: Rng,
  opts: { verifyProofs?: boolean; excluded?: readonly Exclusion[] } = {},
): OpenedResult {
  checkSession(session);
  assertArray(dealings, 'dealings');
  assertArray(resultShares, 'resultShares');
  assertFunction(rng, 'rng');
  optionsOf(opts, 'opts');
  const excluded = checkExclusions(opts.excluded ?? [], 'opts.excluded');
  const skip = excludedInputIndices(
    session,
    excluded.map((x) => x.dealer),
    'opts.excluded',
  );
  const substituted = outputsWithout(session, skip);
  const { suite, circuit } = session;
  const F = suite.field;
  const byIndex: CurvePoint[][] = new Array(circuit.inputs.length);
  for (const d of dealings) {
    // An excluded dealer's dealing (if given) is not used: its inputs are public constants now.
    if (typeof d?.input === 'string' && skip.has(session.inputIndex.get(d.input) ?? -1)) continue;
    const { index, blame } = checkHeader(session, d);
    if (byIndex[index])
      throw new ValidationError('INVALID_ARGUMENT', `dealings: two of ${d.input}`, ['dealings']);
    // C_0 goes into the record: decode it strictly (and check the proof on it unless told not to).
    const c0 = strictDecode(session, d.commitments[0]!, 'dealing.commitments[0]', blame);
    checkProof(session, d, index, () => c0, blame, opts.verifyProofs !== false);
    byIndex[index] = curvePoints(session, d, blame);
  }
  circuit.inputs.forEach((inp, i) => {
    if (!byIndex[i] && !skip.has(i))
      throw new ValidationError('INVALID_ARGUMENT', `dealings: missing ${inp.name}`, ['dealings']);
  });
  const { ZERO } = generators(suite);
  // Each output's combined commitments D_0..D_{t-1}; a constant is a multiple of G (a vector
  // output's: of the sum of its generators). An excluded input's substitute is part of the
  // constant: a constant polynomial with zero blinding commits to value*G in D_0 and to nothing
  // in the other coefficients.
  const combined = circuit.outputs.map((_, oi) => {
    const o = substituted[oi]!;
    const out: CurvePoint[] = [];
    const constant = constantCommitment(suite, o);
    for (let j = 0; j < session.threshold; j++) {
      let acc = j === 0 ? constant : ZERO;
      for (const t of o.terms) acc = acc.add(scalePoint(suite, byIndex[t.index]![j]!, t.weight));
      out.push(acc);
    }
    return out;
  });
  const scalarOutputs: number[] = [];
  const vectorOutputs: number[] = [];
  circuit.outputs.forEach((o, i) => {
    (o.length === 1 ? scalarOutputs : vectorOutputs).push(i);
  });
  const outIndex = new Map(circuit.outputs.map((o, i) => [o.name, i]));
  // Group result shares by party.
  const byParty = new Map<Identifier, { z: (bigint | bigint[])[]; b: bigint[]; ok: boolean }>();
  const culprits = new Set<Identifier>();
  for (const rs of resultShares) {
    const x = session.xs.get(rs?.party);
    if (x === undefined)
      throw new ValidationError('UNKNOWN_IDENTIFIER', 'resultShares: unknown party', ['resultShares']);
    let entry = byParty.get(rs.party);
    if (!entry) {
      entry = { z: [], b: [], ok: true };
      byParty.set(rs.party, entry);
    }
    const oi = outIndex.get(rs.output);
    try {
      if (rs.v !== AGGREGATION_VERSION || rs.sessionId !== session.sessionId || oi === undefined) {
        throw new ValidationError('INVALID_ARGUMENT', 'result share for another session or output');
      }
      if (entry.z[oi] !== undefined) throw new ValidationError('INVALID_ARGUMENT', 'duplicate result share');
      const length = circuit.outputs[oi]!.length;
      entry.z[oi] =
        length === 1 ? F.fromBytes(rs.share, 'share') : scalarsFromBytes(F, rs.share, length, 'share');
      entry.b[oi] = F.fromBytes(rs.blinding, 'blinding');
    } catch (e) {
      if (!(e instanceof AapsError)) throw e;
      entry.ok = false;
    }
  }
  const nOut = circuit.outputs.length;
  const complete = session.parties.filter((p) => {
    const entry = byParty.get(p.id);
    if (!entry) return false;
    let ok = entry.ok;
    for (let i = 0; ok && i < nOut; i++) if (entry.z[i] === undefined) ok = false;
    if (!ok) culprits.add(p.id);
    return ok;
  });
  const scalarSharesOf = (id: Identifier) => {
    const e = byParty.get(id)!;
    return {
      x: session.xs.get(id)!,
      shares: scalarOutputs.map((i) => e.z[i] as bigint),
      blindings: scalarOutputs.map((i) => e.b[i]!),
    };
  };
  const vectorItemsOf = (id: Identifier): VectorCheckItem[] => {
    const e = byParty.get(id)!;
    const x = session.xs.get(id)!;
    return vectorOutputs.map((i) => ({
      x,
      points: combined[i]!,
      values: e.z[i] as bigint[],
      blinding: e.b[i]!,
    }));
  };
  // One combined check for everyone; only if it fails, party by party to name the liars.
  const allHold =
    batchCheckOpenings(
      suite,
      scalarOutputs.map((i) => combined[i]!),
      scalarOutputs.length === 0 ? [] : complete.map((p) => scalarSharesOf(p.id)),
      rng,
    ) &&
    checkVectorShares(
      suite,
      complete.flatMap((p) => vectorItemsOf(p.id)),
      rng,
    ) === true;
  const honest: Identifier[] = [];
  for (const p of complete) {
    if (!allHold) {
      const { x, shares: zs, blindings: bs } = scalarSharesOf(p.id);
      const items = scalarOutputs.map((i, k) => ({ points: combined[i]!, share: zs[k]!, blinding: bs[k]! }));
      if (
        batchCheckShares(suite, x, items, rng) !== true ||
        checkVectorShares(suite, vectorItemsOf(p.id), rng) !== true
      ) {
        culprits.add(p.id);
        continue;
      }
    }
    honest.push(p.id);
  }
  if (honest.length < session.threshold) {
    throw new ProtocolError(
      'INVALID_OPENING',
      `only ${honest.length} of ${session.threshold} needed result shares are valid`,
      [...culprits],
    );
  }
  const openers = honest.slice(0, session.threshold);
  const lambda = lagrangeAtZero(
    suite,
    openers.map((id) => session.xs.get(id)!),
  );
  const outputs = circuit.outputs.map((o, i) => {
    const shares = openers.map((id) => byParty.get(id)!);
    let b = 0n;
    shares.forEach((e, k) => {
      b = F.add(b, F.mul(lambda[k]!, e.b[i]!));
    });
    const element = (at: number) => {
      let z = 0n;
      shares.forEach((e, k) => {
        const zi = e.z[i]!;
        z = F.add(z, F.mul(lambda[k]!, typeof zi === 'bigint' ? zi : zi[at]!));
      });
      return fieldToSigned(F.ORDER, z);
    };
    const value: OutputValue =
      o.length === 1 ? element(0) : Object.freeze(Array.from({ length: o.length }, (_, at) => element(at)));
    return Object.freeze({ name: o.name, value, blinding: b });
  });
  return Object.freeze({
    outputs: Object.freeze(outputs),
    culprits: Object.freeze([...culprits]),
    openers,
    excluded,
  });
}

/** Exclusions checked for shape (each a dealer string and a known reason), frozen copies. */
export function checkExclusions(list: unknown, field: string): readonly Exclusion[] {
  assertArray(list, field);
  return Object.freeze(
    list.map((x, k) => {
      assertObject(x, `${field}[${k}]`);
      if (typeof x.dealer !== 'string' || !EXCLUSION_REASONS.includes(x.reason as ExclusionReason)) {
        throw new ValidationError(
          'INVALID_ARGUMENT',
          `${field}[${k}]: expected {dealer, reason} with reason one of ${EXCLUSION_REASONS.join(', ')}`,
          [`${field}[${k}]`],
        );
      }
      return Object.freeze({ dealer: x.dealer, reason: x.reason as ExclusionReason });
    }),
  );
}

/** `value*G + blinding*H` for an opened output (helper for record checks). */
export function openingCommitment<E>(suite: Ciphersuite<E>, value: bigint, blinding: bigint): E {
  assertSuite(suite);
  assertBigint(value, 'value');
  assertBigint(blinding, 'blinding');
  return commitFast(suite, suite.field.create(value), blinding);
}
