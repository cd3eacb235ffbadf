/**
 * Versioned, strict serialization of protocol messages (as frost-core's `serialization.rs`): every
 * encoded message carries a header `{v, suite, type}` that decoding checks, and a body that must
 * match the message's field spec exactly: unknown fields, missing fields and wrong types are
 * refused with a `ValidationError` naming each path. Bytes are CBOR byte strings, or lower-case
 * hex in JSON. Secret fields are written only through this module, which reads them with
 * `expose()` and wraps them back in `SecretBytes`. Encoding checks the value against the same spec
 * first (so no bytes are written that would not decode), and a message that names its own suite
 * (a `'suite'` field) must name the header's, both ways. A codec may add a {@link BodyCheck} for
 * what a field spec cannot say (bounds, one field against another): decoding and encoding both run
 * it once the spec holds, and report what it finds as they report a mistyped field.
 */
import { Decoder, Encoder } from 'cbor-x';
import { bytesToHex, equalBytes, hexToBytes } from './bytes.js';
import { displayValue } from './display.js';
import { ValidationError } from './errors.js';
import { decodePlainCbor } from './plain-cbor.js';
import { SecretBytes } from './secret.js';
import { isCiphersuiteId } from './suite/registry.js';
import type { CiphersuiteId } from './suite/types.js';

export { displayValue } from './display.js';

export const CODEC_VERSION = 1;

export type FieldSpec =
  | 'bytes'
  | 'secret'
  | 'string'
  /** The message's own ciphersuite id: it must be the one in the header. */
  | 'suite'
  | 'uint'
  | 'bool'
  | { optional: FieldSpec }
  | { array: FieldSpec; max?: number }
  | { record: FieldSpec; max?: number }
  | { object: ObjectSpec };
export type ObjectSpec = { readonly [field: string]: FieldSpec };

/**
 * A check of a value that meets its spec, for what the spec cannot say (a bound, one field against
 * another). It reports each problem with `bad(path, what)`, `path` a dot path within the body
 * (`threshold.max`); decoding names it under `body.`, encoding under `value.`.
 */
export type BodyCheck<T> = (value: T, bad: (path: string, what: string) => void) => void;

export interface Header {
  v: number;
  suite: CiphersuiteId;
  type: string;
}

const cbor = new Encoder({ useRecords: false, tagUint8Array: false, variableMapSize: true });
const cborDecoder = new Decoder({ useRecords: false, mapsAsObjects: true });
const decodeRaw = (bytes: Uint8Array): unknown => cborDecoder.decode(bytes);

type Mode = 'cbor' | 'json';
/** A record key no map may carry: it is the prototype accessor of a plain object. */
const PROTO_KEY = '__proto__';
const isPlainObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof Uint8Array);

/**
 * What a check or a decode reports to: `bad` collects malformed paths; `mismatched` collects
 * `'suite'` fields that name another suite than the header (a `CIPHERSUITE_MISMATCH`).
 */
interface Ctx {
  readonly suite: CiphersuiteId;
  readonly bad: (path: string, what: string) => undefined;
  readonly mismatched: string[];
}

function newCtx(suite: CiphersuiteId): Ctx & { readonly problems: [string, string][] } {
  const problems: [string, string][] = [];
  return {
    suite,
    problems,
    mismatched: [],
    bad: (p, w) => {
      problems.push([p, w]);
      return undefined;
    },
  };
}

function checkSuiteField(v: unknown, path: string, ctx: Ctx): void {
  if (!isCiphersuiteId(v)) ctx.bad(path, `expected a ciphersuite id, got ${displayValue(v)}`);
  else if (v !== ctx.suite) ctx.mismatched.push(path);
}

/**
 * Check a value about to be encoded against its spec: what decoding would refuse is refused here,
 * before any byte is written.
 */
function checkValue(spec: FieldSpec, v: unknown, path: string, ctx: Ctx): void {
  const { bad } = ctx;
  if (typeof spec === 'string') {
    switch (spec) {
      case 'bytes':
        if (!(v instanceof Uint8Array)) bad(path, 'expected Uint8Array');
        return;
      case 'secret':
        if (!(v instanceof SecretBytes)) bad(path, 'expected SecretBytes');
        else if (v.wiped) bad(path, 'the secret has been wiped');
        return;
      case 'string':
        if (typeof v !== 'string') bad(path, 'expected string');
        return;
      case 'suite':
        checkSuiteField(v, path, ctx);
        return;
      case 'uint':
        if (!Number.isSafeInteger(v) || (v as number) < 0) bad(path, 'expected a non-negative integer');
        return;
      case 'bool':
        if (typeof v !== 'boolean') bad(path, 'expected boolean');
        return;
    }
  }
  if ('optional' in spec) {
    if (v !== undefined && v !== null) checkValue(spec.optional, v, path, ctx);
    return;
  }
  if ('array' in spec) {
    if (!Array.isArray(v)) return void bad(path, 'expected array');
    if (spec.max !== undefined && v.length > spec.max) return void bad(path, `at most ${spec.max} items`);
    v.forEach((x, i) => {
      checkValue(spec.array, x, `${path}[${i}]`, ctx);
    });
    return;
  }
  if ('record' in spec) {
    if (!isPlainObject(v)) return void bad(path, 'expected map');
    const entries = Object.entries(v);
    if (spec.max !== undefined && entries.length > spec.max)
      return void bad(path, `at most ${spec.max} entries`);
    for (const [k, x] of entries) {
      if (k === PROTO_KEY) bad(`${path}.${k}`, 'reserved key');
      else checkValue(spec.record, x, `${path}.${k}`, ctx);
    }
    return;
  }
  if (!isPlainObject(v)) return void bad(path, 'expected object');
  for (const [k, s] of Object.entries(spec.object)) checkValue(s, v[k], `${path}.${k}`, ctx);
}

function encodeValue(spec: FieldSpec, v: unknown, mode: Mode): unknown {
  if (typeof spec === 'string') {
    switch (spec) {
      case 'bytes':
        return mode === 'json' ? bytesToHex(v as Uint8Array) : v;
      case 'secret': {
        const raw = (v as SecretBytes).expose();
        return mode === 'json' ? bytesToHex(raw) : Uint8Array.from(raw);
      }
      default:
        return v;
    }
  }
  if ('optional' in spec)
    return v === undefined || v === null ? undefined : encodeValue(spec.optional, v, mode);
  if ('array' in spec) return (v as unknown[]).map((x) => encodeValue(spec.array, x, mode));
  if ('record' in spec) {
    const out: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v as Record<string, unknown>))
      out[k] = encodeValue(spec.record, x, mode);
    return out;
  }
  return encodeObject(spec.object, v as Record<string, unknown>, mode);
}

function encodeObject(spec: ObjectSpec, v: Record<string, unknown>, mode: Mode): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, s] of Object.entries(spec)) {
    const x = encodeValue(s, v[k], mode);
    if (x !== undefined) out[k] = x;
  }
  return out;
}

function decodeValue(spec: FieldSpec, v: unknown, mode: Mode, path: string, ctx: Ctx): unknown {
  const { bad } = ctx;
  if (typeof spec === 'string') {
    switch (spec) {
      case 'bytes':
      case 'secret': {
        let b: Uint8Array | undefined;
        if (mode === 'json') {
          if (typeof v === 'string' && /^(?:[0-9a-f]{2})*$/.test(v)) b = hexToBytes(v, path);
        } else if (v instanceof Uint8Array) b = Uint8Array.from(v);
        if (!b) return bad(path, mode === 'json' ? 'expected lower-case hex' : 'expected a byte string');
        return spec === 'secret' ? new SecretBytes(b) : b;
      }
      case 'string':
        return typeof v === 'string' ? v : bad(path, 'expected string');
      case 'suite':
        checkSuiteField(v, path, ctx);
        return v;
      case 'uint':
        return Number.isSafeInteger(v) && (v as number) >= 0
          ? v
          : bad(path, 'expected a non-negative integer');
      case 'bool':
        return typeof v === 'boolean' ? v : bad(path, 'expected boolean');
    }
  }
  if ('optional' in spec)
    return v === undefined || v === null ? undefined : decodeValue(spec.optional, v, mode, path, ctx);
  if ('array' in spec) {
    if (!Array.isArray(v)) return bad(path, 'expected array');
    if (spec.max !== undefined && v.length > spec.max) return bad(path, `at most ${spec.max} items`);
    return v.map((x, i) => decodeValue(spec.array, x, mode, `${path}[${i}]`, ctx));
  }
  if ('record' in spec) {
    if (!isPlainObject(v)) return bad(path, 'expected map');
    const entries = Object.entries(v);
    if (spec.max !== undefined && entries.length > spec.max) return bad(path, `at most ${spec.max} entries`);
    const out: Record<string, unknown> = {};
    for (const [k, x] of entries) {
      // Assigning "__proto__" would replace the decoded record's prototype, not add an entry.
      if (k === PROTO_KEY) bad(`${path}.${k}`, 'reserved key');
      else out[k] = decodeValue(spec.record, x, mode, `${path}.${k}`, ctx);
    }
    return out;
  }
  return decodeObject(spec.object, v, mode, path, ctx);
}

function decodeObject(
  spec: ObjectSpec,
  v: unknown,
  mode: Mode,
  path: string,
  ctx: Ctx,
): Record<string, unknown> | undefined {
  if (!isPlainObject(v)) return ctx.bad(path, 'expected object');
  const out: Record<string, unknown> = {};
  // Own keys only: `in` would take "constructor" or "toString" for members of the spec.
  for (const k of Object.keys(v)) if (!Object.hasOwn(spec, k)) ctx.bad(`${path}.${k}`, 'unknown field');
  for (const [k, s] of Object.entries(spec)) {
    const isOptional = typeof s === 'object' && 'optional' in s;
    if (!Object.hasOwn(v, k) && !isOptional) {
      ctx.bad(`${path}.${k}`, 'missing');
      continue;
    }
    const x = decodeValue(s, v[k], mode, `${path}.${k}`, ctx);
    if (x !== undefined) out[k] = x;
  }
  return out;
}

/** Refuse the body fields that name another suite than the header. */
function checkMismatched(type: string, ctx: Ctx): void {
  if (ctx.mismatched.length) {
    throw new ValidationError(
      'CIPHERSUITE_MISMATCH',
      `${type}: ${ctx.mismatched.join(', ')} name another ciphersuite than ${ctx.suite}`,
      ctx.mismatched,
    );
  }
}

export interface MessageCodec<T> {
  readonly type: string;
  encode(suite: CiphersuiteId, value: T): Uint8Array;
  decode(bytes: Uint8Array, expectSuite?: CiphersuiteId): { suite: CiphersuiteId; value: T };
  toJSON(suite: CiphersuiteId, value: T): { v: number; suite: CiphersuiteId; type: string; body: unknown };
  fromJSON(json: unknown, expectSuite?: CiphersuiteId): { suite: CiphersuiteId; value: T };
}

/**
 * Define the codec of one message type from its field spec, and optionally a {@link BodyCheck}
 * that decoding and encoding run once the spec holds.
 */
export function defineCodec<T>(type: string, spec: ObjectSpec, check?: BodyCheck<T>): MessageCodec<T> {
  if (typeof type !== 'string' || type.length === 0) {
    throw new ValidationError('INVALID_ARGUMENT', 'type: expected a non-empty string', ['type']);
  }
  if (!isPlainObject(spec)) throw new ValidationError('INVALID_ARGUMENT', 'spec: expected object', ['spec']);
  if (check !== undefined && typeof check !== 'function')
    throw new ValidationError('INVALID_ARGUMENT', 'check: expected a function', ['check']);
  /** The body check's findings on a value that met the spec, under `root` (`body` or `value`). */
  const runCheck = (value: unknown, root: string, ctx: ReturnType<typeof newCtx>) => {
    if (check !== undefined && !ctx.problems.length)
      check(value as T, (path, what) => ctx.bad(`${root}.${path}`, what));
  };
  const checkExpected = (expectSuite: unknown) => {
    if (expectSuite !== undefined && !isCiphersuiteId(expectSuite)) {
      throw new ValidationError(
        'UNKNOWN_CIPHERSUITE',
        `expectSuite: unknown ciphersuite ${displayValue(expectSuite)}`,
        ['expectSuite'],
      );
    }
  };
  const decodeEnvelope = (raw: unknown, mode: Mode, expectSuite?: CiphersuiteId) => {
    checkExpected(expectSuite);
    if (!isPlainObject(raw))
      throw new ValidationError('DECODE_FAILED', `${type}: expected a {v, suite, type, body} object`, ['$']);
    if (raw.v !== CODEC_VERSION) {
      throw new ValidationError(
        'UNSUPPORTED_VERSION',
        `${type}: version ${displayValue(raw.v)} is not supported (want ${CODEC_VERSION})`,
        ['v'],
      );
    }
    if (raw.type !== type)
      throw new ValidationError('DECODE_FAILED', `expected a ${type}, got ${displayValue(raw.type)}`, [
        'type',
      ]);
    if (!isCiphersuiteId(raw.suite))
      throw new ValidationError('UNKNOWN_CIPHERSUITE', `unknown ciphersuite ${displayValue(raw.suite)}`, [
        'suite',
      ]);
    if (expectSuite && raw.suite !== expectSuite) {
      throw new ValidationError(
        'CIPHERSUITE_MISMATCH',
        `${type} is for ${raw.suite}, expected ${expectSuite}`,
        ['suite'],
      );
    }
    const ctx = newCtx(raw.suite);
    for (const k of Object.keys(raw))
      if (!['v', 'suite', 'type', 'body'].includes(k)) ctx.bad(k, 'unknown field');
    const value = decodeObject(spec, raw.body, mode, 'body', ctx);
    runCheck(value, 'body', ctx);
    if (ctx.problems.length) {
      throw new ValidationError(
        'DECODE_FAILED',
        `${type}: ${ctx.problems.map(([p, w]) => `${p}: ${w}`).join('; ')}`,
        ctx.problems.map(([p]) => p),
      );
    }
    checkMismatched(type, ctx);
    return { suite: raw.suite, value: value as T };
  };
  /** The header and body of `value`, checked against the spec (nothing undecodable is written). */
  const envelope = (suite: CiphersuiteId, value: T, mode: Mode) => {
    if (!isCiphersuiteId(suite)) {
      throw new ValidationError(
        'UNKNOWN_CIPHERSUITE',
        `${type}: unknown ciphersuite ${displayValue(suite)}`,
        ['suite'],
      );
    }
    const ctx = newCtx(suite);
    checkValue({ object: spec }, value, 'value', ctx);
    runCheck(value, 'value', ctx);
    if (ctx.problems.length) {
      throw new ValidationError(
        'INVALID_ARGUMENT',
        `${type}: ${ctx.problems.map(([p, w]) => `${p}: ${w}`).join('; ')}`,
        ctx.problems.map(([p]) => p),
      );
    }
    checkMismatched(type, ctx);
    return {
      v: CODEC_VERSION,
      suite,
      type,
      body: encodeObject(spec, value as Record<string, unknown>, mode),
    };
  };
  return Object.freeze({
    type,
    encode: (suite: CiphersuiteId, value: T) => cbor.encode(envelope(suite, value, 'cbor')),
    decode(bytes: Uint8Array, expectSuite?: CiphersuiteId) {
      checkExpected(expectSuite);
      const raw = decodePlainCbor(bytes, decodeRaw, type);
      const decoded = decodeEnvelope(raw, 'cbor', expectSuite);
      // One message, one encoding: what decodes must be exactly what this codec writes for it. A
      // repeated map key (the decoder keeps the last), a float or long-form integer, or another
      // order of fields would otherwise give one message several byte strings, and another decoder
      // could read a different message from the same bytes.
      const again = cbor.encode(envelope(decoded.suite, decoded.value, 'cbor'));
      const canonical = equalBytes(again, bytes);
      again.fill(0); // it may hold secrets (nonce records)
      if (!canonical) {
        throw new ValidationError(
          'DECODE_FAILED',
          `${type}: not the canonical encoding (a repeated key, a non-minimal number or fields out of order)`,
          ['$'],
        );
      }
      return decoded;
    },
    toJSON: (suite: CiphersuiteId, value: T) => envelope(suite, value, 'json'),
    fromJSON: (json: unknown, expectSuite?: CiphersuiteId) => decodeEnvelope(json, 'json', expectSuite),
  });
}

/** Plain CBOR for stored records that are not protocol messages (deterministic options). */
export function encodeCbor(value: unknown): Uint8Array {
  return cbor.encode(value);
}

/** Decode plain CBOR (no tags: see `plain-cbor.ts`); throws `DECODE_FAILED`. */
export function decodeCbor(bytes: Uint8Array): unknown {
  return decodePlainCbor(bytes, decodeRaw, '');
}
