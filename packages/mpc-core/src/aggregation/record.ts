/**
 * The aggregation record: everything an auditor needs to check offline that the opened outputs are
 * the circuit applied to the committed, range-proved inputs. {@link verifyAggregation} runs the
 * checks in order (format, circuit, session, commitment, range-proof, result, opening) and throws
 * `VerificationError` with `check = aggregation.<step>` at the first failure.
 *
 * Encodings: canonical JSON (RFC 8785; bytes as lower-case hex in `...Hex` fields) and CBOR
 * (`cbor-x`, definite lengths, fixed key order, byte strings). Decoders accept only the exact bytes
 * their encoder would produce. {@link aggregationDigest} (SHA-256 of the canonical JSON) is what
 * parties bind into what they sign, and what binds a record to its session where no range proof
 * does: the session fields (`sessionId`, `threshold`, `parties`) enter verification only through
 * the range proofs' context, so a record with no range proof (vector or `rangeProof: false`
 * inputs only) verifies under another session's fields as well.
 */
import { sha256 } from '@noble/hashes/sha2.js';
import { Encoder } from 'cbor-x';
import { assertBytes, bytesToHex, equalBytes, hexToBytes, utf8 } from '../bytes.js';
import { canonicalize, inCanonicalOrder, type JsonValue } from '../envelope/canonical.js';
import { AapsError, ProtocolError, ValidationError, VerificationError } from '../errors.js';
import { assertArray, assertBigint, assertObject, assertSuite, optionsOf } from '../guards.js';
import type { Identifier } from '../keys.js';
import { decodePlainCbor } from '../plain-cbor.js';
import { getCiphersuite, isCiphersuiteId } from '../suite/registry.js';
import type { AnyCiphersuite, Ciphersuite, CiphersuiteId } from '../suite/types.js';
import { scalePoint } from './batch.js';
import {
  type Circuit,
  checkCircuit,
  loadCircuit,
  type SubstitutedOutput,
  substitutedOutputs,
} from './circuit.js';
import { asCurvePoint, mulH } from './curve.js';
import {
  type AggregationParty,
  type AggregationSession,
  checkExclusions,
  checkSession,
  createAggregationSession,
  EXCLUSION_REASONS,
  type ExclusionReason,
  excludedInputIndices,
  inputProofContext,
  type OpenedResult,
  type OutputValue,
  openingCommitment,
  type PublicInputDealing,
} from './protocol.js';
import { verifyRangeProof } from './range-proof.js';
import { commitSigned, constantCommitment } from './vector.js';

export interface AggregationRecordInput {
  readonly name: string;
  readonly provider: Identifier;
  /** `C_0`: the Pedersen commitment to the input. */
  readonly commitment: Uint8Array;
  readonly rangeProof: Uint8Array | null;
}

/**
 * A dealer excluded from the round (record v2): why, and the public value each of its inputs took
 * instead (the circuit's `excluded.value`, in circuit order; a vector input's every element).
 */
export interface AggregationRecordExclusion {
  readonly provider: Identifier;
  readonly reason: ExclusionReason;
  readonly inputs: readonly { readonly name: string; readonly value: bigint }[];
}

/**
 * Record versions: 1 (every input dealt), 2 (adds `excluded`: dealers whose inputs took the
 * circuit's public substitutes; `inputs` then lists only the dealt inputs). A record with no
 * exclusion is written as v1, byte for byte as before.
 */
export const AGGREGATION_RECORD_VERSIONS: readonly number[] = Object.freeze([1, 2]);

export interface AggregationRecordOutput {
  readonly name: string;
  /** The opened integer; for a vector output, its elements. */
  readonly value: OutputValue;
  /** Opening randomness (scalar encoding). */
  readonly blinding: Uint8Array;
}

export interface AggregationRecord {
  /** 1, or 2 when {@link excluded} is present (see {@link AGGREGATION_RECORD_VERSIONS}). */
  readonly v: 1 | 2;
  readonly suite: CiphersuiteId;
  readonly sessionId: string;
  readonly threshold: number;
  readonly parties: readonly AggregationParty[];
  /** The circuit's normalized JSON (as `loadCircuit(...).json`). */
  readonly circuit: JsonValue;
  /** The dealt inputs, in circuit order (v2: without the excluded dealers' inputs). */
  readonly inputs: readonly AggregationRecordInput[];
  readonly outputs: readonly AggregationRecordOutput[];
  /** v2 only, non-empty: excluded dealers in circuit order of their first input. */
  readonly excluded?: readonly AggregationRecordExclusion[];
}

/**
 * The JSON form: bytes as lower-case hex, integers as decimal strings. A type alias, not an
 * interface, so that it is assignable to JSON object types (`{ [key: string]: JsonValue }`).
 */
export type AggregationRecordJson = {
  v: number;
  suite: string;
  sessionId: string;
  threshold: number;
  parties: { id: string; role: string }[];
  circuit: JsonValue;
  inputs: { name: string; provider: string; commitmentHex: string; rangeProofHex: string | null }[];
  /** `value`: a decimal string; for a vector output, an array of them. */
  outputs: { name: string; value: string | string[]; blindingHex: string }[];
  /** v2 only: `value` as a decimal string. */
  excluded?: { provider: string; reason: string; inputs: { name: string; value: string }[] }[];
};

/** Assemble the record from the session, the public dealings and the opening. */
export function buildAggregationRecord<E>(
  session: AggregationSession<E>,
  dealings: readonly PublicInputDealing[],
  opened: OpenedResult,
): AggregationRecord {
  checkSession(session);
  assertArray(dealings, 'dealings');
  dealings.forEach((d, i) => {
    assertObject(d, `dealings[${i}]`);
    assertArray(d.commitments, `dealings[${i}].commitments`);
  });
  assertObject(opened, 'opened');
  assertArray(opened.outputs, 'opened.outputs');
  opened.outputs.forEach((o, i) => {
    assertObject(o, `opened.outputs[${i}]`);
    assertBigint(o.blinding, `opened.outputs[${i}].blinding`);
  });
  const F = session.suite.field;
  const exclusions = checkExclusions(opened.excluded ?? [], 'opened.excluded');
  const skip = excludedInputIndices(
    session,
    exclusions.map((x) => x.dealer),
    'opened.excluded',
  );
  const byInput = new Map(dealings.map((d) => [d.input, d]));
  const inputs = session.circuit.inputs.flatMap((inp, i) => {
    if (skip.has(i)) return [];
    const d = byInput.get(inp.name);
    if (!d)
      throw new ValidationError('INVALID_ARGUMENT', `dealings: missing input ${inp.name}`, ['dealings']);
    return Object.freeze({
      name: inp.name,
      provider: d.dealer,
      commitment: d.commitments[0]!,
      rangeProof: d.rangeProof,
    });
  });
  const outputs = opened.outputs.map((o) =>
    Object.freeze({ name: o.name, value: o.value, blinding: F.toBytes(o.blinding) }),
  );
  const excluded = exclusionsInCircuitOrder(session, exclusions);
  return Object.freeze({
    v: excluded.length > 0 ? 2 : 1,
    suite: session.suite.id,
    sessionId: session.sessionId,
    threshold: session.threshold,
    parties: session.parties,
    circuit: inCanonicalOrder(session.circuit.json),
    inputs: Object.freeze(inputs),
    outputs: Object.freeze(outputs),
    ...(excluded.length > 0 ? { excluded: Object.freeze(excluded) } : {}),
  });
}

/**
 * The record's `excluded` entries: each excluded dealer with its reason and its inputs' substitutes,
 * ordered by the circuit index of the dealer's first input (the one order a verifier accepts).
 */
function exclusionsInCircuitOrder<E>(
  session: AggregationSession<E>,
  exclusions: readonly { dealer: Identifier; reason: ExclusionReason }[],
): AggregationRecordExclusion[] {
  const reasonOf = new Map(exclusions.map((x) => [x.dealer, x.reason]));
  const out = new Map<Identifier, { name: string; value: bigint }[]>();
  session.circuit.inputs.forEach((inp, i) => {
    const dealer = session.providers[i]!;
    if (!reasonOf.has(dealer)) return;
    const list = out.get(dealer) ?? [];
    list.push(Object.freeze({ name: inp.name, value: inp.substitute! }));
    out.set(dealer, list);
  });
  return [...out].map(([provider, inputs]) =>
    Object.freeze({ provider, reason: reasonOf.get(provider)!, inputs: Object.freeze(inputs) }),
  );
}

/** The shape of a record about to be encoded (what its decoders would refuse is refused here). */
function checkRecordShape(r: AggregationRecord): void {
  const no = (path: string, what: string): never => {
    throw new ValidationError('INVALID_ARGUMENT', `${path}: expected ${what}`, [path]);
  };
  if (!isObj(r)) no('record', 'an aggregation record');
  if (typeof r.suite !== 'string') no('record.suite', 'a ciphersuite id');
  if (typeof r.sessionId !== 'string') no('record.sessionId', 'a string');
  if (!Number.isSafeInteger(r.threshold)) no('record.threshold', 'an integer');
  if (!Array.isArray(r.parties)) no('record.parties', 'an array');
  r.parties.forEach((p, i) => {
    if (!isObj(p) || typeof p.id !== 'string' || typeof p.role !== 'string')
      no(`record.parties[${i}]`, '{id, role}');
  });
  if (!isObj(r.circuit)) no('record.circuit', 'the circuit JSON');
  if (!Array.isArray(r.inputs)) no('record.inputs', 'an array');
  r.inputs.forEach((x, i) => {
    const p = `record.inputs[${i}]`;
    if (!isObj(x) || typeof x.name !== 'string' || typeof x.provider !== 'string')
      no(p, '{name, provider, ...}');
    if (!(x.commitment instanceof Uint8Array)) no(`${p}.commitment`, 'Uint8Array');
    if (x.rangeProof !== null && !(x.rangeProof instanceof Uint8Array))
      no(`${p}.rangeProof`, 'Uint8Array or null');
  });
  if (r.v !== 1 && r.v !== 2) no('record.v', `one of ${AGGREGATION_RECORD_VERSIONS.join(', ')}`);
  if ((r.v === 2) !== (Array.isArray(r.excluded) && r.excluded.length > 0))
    no('record.excluded', 'a non-empty list exactly in a v2 record');
  (r.excluded ?? []).forEach((x, i) => {
    const p = `record.excluded[${i}]`;
    if (!isObj(x) || typeof x.provider !== 'string' || !EXCLUSION_REASONS.includes(x.reason))
      no(p, `{provider, reason (${EXCLUSION_REASONS.join(', ')}), inputs}`);
    if (!Array.isArray(x.inputs) || x.inputs.length === 0) no(`${p}.inputs`, 'a non-empty array');
    x.inputs.forEach((e, k) => {
      if (!isObj(e) || typeof e.name !== 'string' || typeof e.value !== 'bigint')
        no(`${p}.inputs[${k}]`, '{name, value: bigint}');
    });
  });
  if (!Array.isArray(r.outputs)) no('record.outputs', 'an array');
  r.outputs.forEach((x, i) => {
    const p = `record.outputs[${i}]`;
    if (!isObj(x) || typeof x.name !== 'string') no(p, '{name, value, blinding}');
    checkOutputValue(x.value, `${p}.value`);
    if (!(x.blinding instanceof Uint8Array)) no(`${p}.blinding`, 'Uint8Array');
  });
}

function checkOutputValue(v: unknown, path: string): void {
  if (typeof v !== 'bigint' && !(Array.isArray(v) && v.every((e) => typeof e === 'bigint'))) {
    throw new ValidationError('INVALID_ARGUMENT', `${path}: expected a bigint or an array of bigints`, [
      path,
    ]);
  }
}

export function aggregationRecordToJson(r: AggregationRecord): AggregationRecordJson {
  checkRecordShape(r);
  return {
    v: r.v,
    suite: r.suite,
    sessionId: r.sessionId,
    threshold: r.threshold,
    parties: r.parties.map((p) => ({ id: p.id, role: p.role })),
    circuit: inCanonicalOrder(r.circuit),
    inputs: r.inputs.map((i) => ({
      name: i.name,
      provider: i.provider,
      commitmentHex: bytesToHex(i.commitment),
      rangeProofHex: i.rangeProof === null ? null : bytesToHex(i.rangeProof),
    })),
    outputs: r.outputs.map((o) => ({
      name: o.name,
      value: outputValueText(o.value),
      blindingHex: bytesToHex(o.blinding),
    })),
    ...(r.excluded ? { excluded: exclusionsToShape(r.excluded) } : {}),
  };
}

/** The `excluded` list as both encodings write it (values as decimal text). */
function exclusionsToShape(list: readonly AggregationRecordExclusion[]) {
  return list.map((x) => ({
    provider: x.provider,
    reason: x.reason,
    inputs: x.inputs.map((e) => ({ name: e.name, value: e.value.toString(10) })),
  }));
}

/** An output value as the record's encodings write it: decimal text, one per element for a vector. */
export function outputValueText(v: OutputValue): string | string[] {
  checkOutputValue(v, 'value');
  return typeof v === 'bigint' ? v.toString(10) : v.map((e) => e.toString(10));
}

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => v !== null && typeof v === 'object' && !Array.isArray(v);
const DECIMAL = /^-?(?:0|[1-9][0-9]*)$/;

function bad(path: string, msg: string): never {
  throw new ValidationError('DECODE_FAILED', `${path}: ${msg}`, [path]);
}

function keys(o: unknown, path: string, expected: readonly string[]): Obj {
  if (!isObj(o)) bad(path, 'expected an object');
  const got = Object.keys(o).sort();
  const want = [...expected].sort();
  if (got.length !== want.length || got.some((k, i) => k !== want[i]))
    bad(path, `expected keys ${want.join(',')}`);
  return o;
}

function str(v: unknown, path: string): string {
  if (typeof v !== 'string') bad(path, 'expected a string');
  return v;
}

function arr(v: unknown, path: string): unknown[] {
  if (!Array.isArray(v)) bad(path, 'expected an array');
  return v;
}

/** Decode the common shape; `bytes(v, path)` reads a byte field in the encoding's own form. */
function fromShape(
  raw: unknown,
  names: { commitment: string; rangeProof: string; blinding: string },
  bytes: (v: unknown, path: string) => Uint8Array,
): AggregationRecord {
  if (!isObj(raw)) bad('record', 'expected an object');
  const head = raw.v;
  if (head !== 1 && head !== 2) {
    bad(
      'record.v',
      `unsupported record version ${displayVersion(head)} (this build reads ${AGGREGATION_RECORD_VERSIONS.join(' and ')})`,
    );
  }
  const r = keys(raw, 'record', [
    'v',
    'suite',
    'sessionId',
    'threshold',
    'parties',
    'circuit',
    'inputs',
    'outputs',
    ...(head === 2 ? ['excluded'] : []),
  ]);
  const suite = str(r.suite, 'record.suite');
  if (!isCiphersuiteId(suite)) bad('record.suite', 'unknown ciphersuite');
  if (!Number.isSafeInteger(r.threshold)) bad('record.threshold', 'expected an integer');
  const parties = arr(r.parties, 'record.parties').map((p, i) => {
    const o = keys(p, `record.parties[${i}]`, ['id', 'role']);
    return Object.freeze({
      id: str(o.id, `record.parties[${i}].id`),
      role: str(o.role, `record.parties[${i}].role`),
    });
  });
  if (!isObj(r.circuit)) bad('record.circuit', 'expected an object');
  const inputs = arr(r.inputs, 'record.inputs').map((x, i) => {
    const p = `record.inputs[${i}]`;
    const o = keys(x, p, ['name', 'provider', names.commitment, names.rangeProof]);
    const proof = o[names.rangeProof];
    return Object.freeze({
      name: str(o.name, `${p}.name`),
      provider: str(o.provider, `${p}.provider`),
      commitment: bytes(o[names.commitment], `${p}.${names.commitment}`),
      rangeProof: proof === null ? null : bytes(proof, `${p}.${names.rangeProof}`),
    });
  });
  const outputs = arr(r.outputs, 'record.outputs').map((x, i) => {
    const p = `record.outputs[${i}]`;
    const o = keys(x, p, ['name', 'value', names.blinding]);
    const integer = (v: unknown, path: string): bigint => {
      const text = str(v, path);
      if (!DECIMAL.test(text) || text === '-0' || text.length > 100) bad(path, 'expected a decimal integer');
      return BigInt(text);
    };
    let value: OutputValue;
    if (Array.isArray(o.value)) {
      if (o.value.length < 2) bad(`${p}.value`, 'expected a decimal integer or at least 2 of them');
      value = Object.freeze(o.value.map((e, k) => integer(e, `${p}.value[${k}]`)));
    } else value = integer(o.value, `${p}.value`);
    return Object.freeze({
      name: str(o.name, `${p}.name`),
      value,
      blinding: bytes(o[names.blinding], `${p}.${names.blinding}`),
    });
  });
  let excluded: AggregationRecordExclusion[] | undefined;
  if (head === 2) {
    const list = arr(r.excluded, 'record.excluded');
    if (list.length === 0) bad('record.excluded', 'expected at least one excluded dealer in a v2 record');
    excluded = list.map((x, i) => {
      const p = `record.excluded[${i}]`;
      const o = keys(x, p, ['provider', 'reason', 'inputs']);
      const reason = str(o.reason, `${p}.reason`);
      if (!EXCLUSION_REASONS.includes(reason as ExclusionReason))
        bad(`${p}.reason`, `expected one of ${EXCLUSION_REASONS.join(', ')}`);
      const inputs = arr(o.inputs, `${p}.inputs`).map((e, k) => {
        const q = `${p}.inputs[${k}]`;
        const ei = keys(e, q, ['name', 'value']);
        const text = str(ei.value, `${q}.value`);
        if (!DECIMAL.test(text) || text === '-0' || text.length > 100)
          bad(`${q}.value`, 'expected a decimal integer');
        return Object.freeze({ name: str(ei.name, `${q}.name`), value: BigInt(text) });
      });
      if (inputs.length === 0) bad(`${p}.inputs`, 'expected at least one input');
      return Object.freeze({
        provider: str(o.provider, `${p}.provider`),
        reason: reason as ExclusionReason,
        inputs: Object.freeze(inputs),
      });
    });
  }
  return Object.freeze({
    v: head,
    suite,
    sessionId: str(r.sessionId, 'record.sessionId'),
    threshold: r.threshold as number,
    parties: Object.freeze(parties),
    circuit: inCanonicalOrder(r.circuit as JsonValue),
    inputs: Object.freeze(inputs),
    outputs: Object.freeze(outputs),
    ...(excluded ? { excluded: Object.freeze(excluded) } : {}),
  });
}

function displayVersion(v: unknown): string {
  return typeof v === 'number' || typeof v === 'string' ? JSON.stringify(v) : typeof v;
}

const JSON_NAMES = { commitment: 'commitmentHex', rangeProof: 'rangeProofHex', blinding: 'blindingHex' };
const CBOR_NAMES = { commitment: 'commitment', rangeProof: 'rangeProof', blinding: 'blinding' };

/** Strict decode of the JSON form (already parsed). */
export function aggregationRecordFromJson(json: unknown): AggregationRecord {
  return fromShape(json, JSON_NAMES, (v, path) => hexToBytes(str(v, path), path));
}

/** Canonical JSON text (RFC 8785). */
export function encodeAggregationRecordJson(r: AggregationRecord): string {
  return canonicalize(aggregationRecordToJson(r) as unknown as JsonValue);
}

/** Decode JSON text; only the canonical text of a valid record is accepted. */
export function decodeAggregationRecordJson(text: string): AggregationRecord {
  if (typeof text !== 'string') bad('record', 'expected JSON text');
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (cause) {
    throw new ValidationError('DECODE_FAILED', 'record: not JSON', ['record'], { cause });
  }
  const r = aggregationRecordFromJson(parsed);
  if (encodeAggregationRecordJson(r) !== text) bad('record', 'not in canonical form');
  return r;
}

const cbor = new Encoder({
  useRecords: false,
  mapsAsObjects: true,
  tagUint8Array: false,
  variableMapSize: true,
  pack: false,
});

function toCborShape(r: AggregationRecord): unknown {
  return {
    v: r.v,
    suite: r.suite,
    sessionId: r.sessionId,
    threshold: r.threshold,
    parties: r.parties.map((p) => ({ id: p.id, role: p.role })),
    circuit: inCanonicalOrder(r.circuit),
    inputs: r.inputs.map((i) => ({
      name: i.name,
      provider: i.provider,
      commitment: i.commitment,
      rangeProof: i.rangeProof,
    })),
    outputs: r.outputs.map((o) => ({ name: o.name, value: outputValueText(o.value), blinding: o.blinding })),
    ...(r.excluded ? { excluded: exclusionsToShape(r.excluded) } : {}),
  };
}

export function encodeAggregationRecordCbor(r: AggregationRecord): Uint8Array {
  checkRecordShape(r);
  const b = cbor.encode(toCborShape(r));
  return new Uint8Array(b.buffer, b.byteOffset, b.byteLength).slice();
}

/** Decode CBOR; only the bytes {@link encodeAggregationRecordCbor} would produce are accepted. */
export function decodeAggregationRecordCbor(bytes: Uint8Array): AggregationRecord {
  if (!(bytes instanceof Uint8Array)) bad('record', 'expected bytes');
  const raw = decodePlainCbor(bytes, (b) => cbor.decode(b), 'record', 'record');
  const r = fromShape(raw, CBOR_NAMES, (v, path) => {
    if (!(v instanceof Uint8Array)) bad(path, 'expected a byte string');
    return Uint8Array.from(v);
  });
  let again: Uint8Array;
  try {
    again = encodeAggregationRecordCbor(r);
  } catch (cause) {
    throw new ValidationError('DECODE_FAILED', 'record: cannot be re-encoded', ['record'], { cause });
  }
  if (!equalBytes(again, bytes)) bad('record', 'not in canonical form');
  return r;
}

/** SHA-256 of the record's canonical JSON: bind this into what the parties sign. */
export function aggregationDigest(r: AggregationRecord): Uint8Array {
  return sha256(utf8(encodeAggregationRecordJson(r)));
}

export interface VerifiedAggregation {
  readonly circuitId: string;
  readonly sessionId: string;
  readonly outputs: readonly { readonly name: string; readonly value: OutputValue; readonly scale: number }[];
  readonly digest: Uint8Array;
}

/**
 * Throw the failure of `check`. A cause that names fields (a `ValidationError`: `record.threshold`)
 * passes them on as `details.fields`, so whoever is refused learns what in the record failed.
 */
function fail(check: string, message: string, cause?: unknown, details?: Record<string, unknown>): never {
  const fields = cause instanceof ValidationError && cause.fields.length > 0 ? [...cause.fields] : undefined;
  throw new VerificationError(check, message, {
    cause,
    details: { ...(fields ? { fields } : {}), ...details },
  });
}

/**
 * Range proofs a caller has verified itself in one session (a party that checked every dealing
 * before it evaluated): `inputs[i]` is circuit input `i`'s `C_0` and range proof as it verified
 * them. {@link verifyAggregation} does not verify again a proof whose record input has those very
 * bytes, in a record of that very session (`sessionDigest`, which binds suite, circuit, id,
 * threshold and parties, and so each proof's context).
 */
export interface VerifiedProofs {
  readonly sessionDigest: Uint8Array;
  readonly inputs: readonly { readonly commitment: Uint8Array; readonly rangeProof: Uint8Array | null }[];
}

/**
 * Check a record offline: a decoded record, its CBOR bytes or its JSON text. Throws
 * `VerificationError` whose `check` is `aggregation.format`, `.circuit`, `.session`, `.commitment`,
 * `.range-proof`, `.result` or `.opening`. `opts.circuit` pins the circuit the caller expects;
 * `opts.verified` names range proofs the caller has verified already ({@link VerifiedProofs}).
 */
export function verifyAggregation(
  input: AggregationRecord | Uint8Array | string,
  opts: { circuit?: Circuit; suite?: AnyCiphersuite; verified?: VerifiedProofs } = {},
): VerifiedAggregation {
  optionsOf(opts, 'opts');
  if (opts.circuit !== undefined) checkCircuit(opts.circuit, 'opts.circuit');
  if (opts.suite !== undefined) assertSuite(opts.suite, 'opts.suite');
  if (opts.verified !== undefined) {
    assertObject(opts.verified, 'opts.verified');
    assertBytes(opts.verified.sessionDigest, 'opts.verified.sessionDigest');
    assertArray(opts.verified.inputs, 'opts.verified.inputs');
  }
  let record: AggregationRecord;
  try {
    if (input instanceof Uint8Array) record = decodeAggregationRecordCbor(input);
    else if (typeof input === 'string') record = decodeAggregationRecordJson(input);
    else record = aggregationRecordFromJson(JSON.parse(encodeAggregationRecordJson(input)));
  } catch (cause) {
    if (cause instanceof AapsError || cause instanceof TypeError)
      fail(
        'aggregation.format',
        `malformed record${cause instanceof AapsError ? ` (${cause.message})` : ''}`,
        cause,
      );
    throw cause;
  }
  const suite = opts.suite ?? getCiphersuite(record.suite);
  if (suite.id !== record.suite) fail('aggregation.format', `record is for ${record.suite}, not ${suite.id}`);
  return verifyWith(suite, record, opts.circuit, opts.verified);
}

function verifyWith<E>(
  suite: Ciphersuite<E>,
  record: AggregationRecord,
  pinned?: Circuit,
  verified?: VerifiedProofs,
): VerifiedAggregation {
  let circuit: Circuit;
  try {
    circuit = loadCircuit(record.circuit, { fieldOrder: suite.field.ORDER });
  } catch (cause) {
    return fail('aggregation.circuit', 'the embedded circuit is invalid', cause);
  }
  if (canonicalize(circuit.json) !== canonicalize(record.circuit)) {
    fail('aggregation.circuit', 'the embedded circuit is not in normalized form');
  }
  if (pinned && !equalBytes(pinned.digest, circuit.digest)) {
    fail('aggregation.circuit', `record is for circuit ${circuit.digestHex}, expected ${pinned.digestHex}`);
  }
  let session: AggregationSession<E>;
  try {
    session = createAggregationSession(suite, {
      circuit,
      sessionId: record.sessionId,
      threshold: record.threshold,
      parties: record.parties,
    });
  } catch (cause) {
    return fail('aggregation.session', 'the session parameters are invalid', cause);
  }
  const { skip, outputs: substituted } = checkExcluded(session, record);
  /** The circuit index of each record input (v2 leaves the excluded dealers' inputs out). */
  const dealt = circuit.inputs.map((_, i) => i).filter((i) => !skip.has(i));
  if (record.inputs.length !== dealt.length) fail('aggregation.circuit', 'inputs do not match the circuit');
  if (record.outputs.length !== circuit.outputs.length)
    fail('aggregation.circuit', 'outputs do not match the circuit');
  const { group, field: F } = suite;
  /** By circuit input index; an excluded input has none (its substitute is in the constant). */
  const commitments: E[] = new Array(circuit.inputs.length);
  record.inputs.forEach((inp, k) => {
    const i = dealt[k]!;
    const spec = circuit.inputs[i]!;
    if (inp.name !== spec.name) fail('aggregation.circuit', `inputs[${i}] is not ${spec.name}`);
    if (inp.provider !== session.providers[i]) {
      fail('aggregation.circuit', `inputs[${i}].provider does not hold role ${spec.role}`);
    }
    try {
      commitments[i] = group.deserialize(inp.commitment, `inputs[${k}].commitment`);
    } catch (cause) {
      fail('aggregation.commitment', `inputs[${k}].commitment is not a group element`, cause, {
        provider: inp.provider,
      });
    }
  });
  const sameSession = verified !== undefined && equalBytes(verified.sessionDigest, session.digest);
  record.inputs.forEach((inp, k) => {
    const i = dealt[k]!;
    const spec = circuit.inputs[i]!;
    const details = { provider: inp.provider, input: spec.name };
    if (!spec.rangeProof) {
      if (inp.rangeProof !== null)
        fail('aggregation.range-proof', `${spec.name}: unexpected range proof`, undefined, details);
      return;
    }
    if (inp.rangeProof === null)
      fail('aggregation.range-proof', `${spec.name}: range proof missing`, undefined, details);
    const known = sameSession ? verified.inputs[i] : undefined;
    if (
      known?.rangeProof != null &&
      equalBytes(known.commitment, inp.commitment) &&
      equalBytes(known.rangeProof, inp.rangeProof)
    )
      return;
    try {
      verifyRangeProof(
        suite,
        {
          commitment: commitments[i]!,
          lo: spec.min,
          hi: spec.max,
          context: inputProofContext(session, inp.provider, spec.name),
        },
        inp.rangeProof,
        inp.provider,
      );
    } catch (cause) {
      if (cause instanceof ProtocolError)
        fail('aggregation.range-proof', `${spec.name}: range proof fails`, cause, details);
      throw cause;
    }
  });
  const outputs = record.outputs.map((out, i) => {
    const spec = circuit.outputs[i]!;
    if (out.name !== spec.name) fail('aggregation.circuit', `outputs[${i}] is not ${spec.name}`);
    const elements = typeof out.value === 'bigint' ? [out.value] : out.value;
    if ((typeof out.value !== 'bigint') !== spec.length > 1 || elements.length !== spec.length) {
      fail(
        'aggregation.circuit',
        `outputs[${i}]: expected ${spec.length === 1 ? 'an integer' : `${spec.length} elements`}`,
      );
    }
    elements.forEach((v, k) => {
      if (v < spec.min || v > spec.max) {
        const at = spec.length === 1 ? '' : `[${k}]`;
        fail('aggregation.result', `${spec.name}${at}: ${v} is outside [${spec.min}, ${spec.max}]`);
      }
    });
    let blinding: bigint;
    try {
      blinding = F.fromBytes(out.blinding, `outputs[${i}].blinding`);
    } catch (cause) {
      return fail('aggregation.format', `outputs[${i}].blinding is not a scalar`, cause);
    }
    // With exclusions, the excluded inputs' substitutes are part of the constant (value*G, no H).
    const { terms, constant } = substituted[i]!;
    let holds: boolean;
    if (typeof out.value === 'bigint') {
      const c = F.create(constant);
      let expected = c === 0n ? group.zero : group.mulBase(c);
      for (const t of terms) {
        const c = commitments[t.index]!;
        expected = group.add(expected, t.weight === 1n ? c : group.mul(c, F.create(t.weight)));
      }
      holds = group.equals(openingCommitment(suite, out.value, blinding), expected);
    } else holds = vectorOpeningHolds(suite, substituted[i]!, commitments, out.value, blinding);
    if (!holds) {
      fail('aggregation.opening', `${spec.name}: the opening does not match the committed inputs`);
    }
    return Object.freeze({ name: spec.name, value: out.value, scale: spec.scale });
  });
  return Object.freeze({
    circuitId: circuit.id,
    sessionId: record.sessionId,
    outputs: Object.freeze(outputs),
    digest: aggregationDigest(record),
  });
}

/**
 * The record's exclusions against the session (`aggregation.excluded`): every excluded provider is
 * a party that provides inputs, named once, in circuit order of its first input, with a known
 * reason, and lists exactly its inputs in circuit order, each with the circuit's own substitute
 * (a circuit without one cannot exclude that provider). Gives the excluded input indices and the
 * outputs with the substitutes folded into their constants.
 */
function checkExcluded<E>(
  session: AggregationSession<E>,
  record: AggregationRecord,
): { skip: ReadonlySet<number>; outputs: readonly SubstitutedOutput[] } {
  const list = record.excluded ?? [];
  if (list.length === 0) return { skip: new Set(), outputs: session.circuit.outputs };
  let skip: Set<number>;
  let outputs: SubstitutedOutput[];
  try {
    skip = excludedInputIndices(
      session,
      list.map((x) => x.provider),
      'record.excluded',
    );
    outputs = substitutedOutputs(session.circuit, skip);
  } catch (cause) {
    return fail('aggregation.excluded', 'the excluded dealers do not fit the circuit', cause);
  }
  const expected = exclusionsInCircuitOrder(
    session,
    list.map((x) => ({ dealer: x.provider, reason: x.reason })),
  );
  list.forEach((x, k) => {
    const want = expected[k]!;
    const details = { provider: x.provider };
    if (x.provider !== want.provider)
      fail(
        'aggregation.excluded',
        `excluded[${k}]: expected ${want.provider} (circuit order)`,
        undefined,
        details,
      );
    if (
      x.inputs.length !== want.inputs.length ||
      x.inputs.some((e, j) => e.name !== want.inputs[j]!.name || e.value !== want.inputs[j]!.value)
    ) {
      fail(
        'aggregation.excluded',
        `excluded[${k}]: expected its inputs with the circuit's substitutes (${want.inputs
          .map((e) => `${e.name} = ${e.value}`)
          .join(', ')})`,
        undefined,
        details,
      );
    }
  });
  return { skip, outputs };
}

/**
 * A vector output's opening: `sum_i value_i G_i + blinding H` against the constant times the sum
 * of the generators plus the weighted input commitments (already checked to be group elements).
 */
function vectorOpeningHolds<E>(
  suite: Ciphersuite<E>,
  spec: SubstitutedOutput,
  commitments: readonly E[],
  values: readonly bigint[],
  blinding: bigint,
): boolean {
  let expected = constantCommitment(suite, spec);
  for (const t of spec.terms) {
    expected = expected.add(scalePoint(suite, asCurvePoint(suite, commitments[t.index]!), t.weight));
  }
  const opened = commitSigned(suite, values).add(mulH(suite, blinding));
  return opened.subtract(expected).is0();
}
