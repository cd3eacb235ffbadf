/**
 * RFC 8785 JSON Canonicalization Scheme (JCS).
 *
 * Object keys are sorted by their UTF-16 code units, strings are serialized as ECMAScript's
 * `JSON.stringify` does (which RFC 8785 adopts), and numbers use ECMAScript's shortest
 * round-trip form. Values JSON cannot carry (undefined, functions, symbols, bigint, non-finite
 * numbers) are rejected rather than silently dropped, so two parties never sign different bytes
 * for what they believe is the same object. So are strings and member names that are not
 * well-formed UTF-16 (a lone surrogate: I-JSON, RFC 7493, which RFC 8785 builds on, forbids them,
 * and UTF-8 cannot carry them, so they come back as U+FFFD from any store or wire) and members
 * named `__proto__` (JSON.parse makes one an own member, but JavaScript objects do not keep it
 * reliably: a CBOR round trip renames it), since a signature over either would not verify once the
 * value has been stored and read back.
 *
 * Every signature and verification of an envelope serializes it, so the serializer is on the hot
 * path: it builds one string with no per-node path bookkeeping, and only when it meets a value
 * JSON cannot carry does a second walk find that value's path for the error.
 */
import { utf8 } from '../bytes.js';
import { ValidationError } from '../errors.js';

export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue };

/**
 * How deep a value may nest: one at depth 64 (64 containers above it) is JSON a signature can
 * cover, one at 65 is refused. The sealing walks (`sealing/detect.ts`) take the same bound.
 */
export const MAX_JSON_DEPTH = 64;
const MAX_DEPTH = MAX_JSON_DEPTH;

/** A member name a signed object may have: well-formed UTF-16, and not `__proto__`. */
function isMemberName(k: string): boolean {
  return k !== '__proto__' && k.isWellFormed();
}

/** Thrown inside the fast serializer; turned into a `ValidationError` with the value's path. */
class NotJson {}
const NOT_JSON = new NotJson();

export function canonicalize(value: unknown): string {
  return canonicalizeAt(value, 0);
}

/** `canonicalize` of a value that sits `depth` levels deep in what is being serialized. */
function canonicalizeAt(value: unknown, depth: number): string {
  // Values whose members are already in canonical order (anything parsed from canonical JSON, or
  // written in that order) are what JSON.stringify writes.
  try {
    return text(value, depth);
  } catch (e) {
    return notJson(e, value, depth);
  }
}

/** The canonical text of a value at `depth`: as JSON.stringify writes it when already in order. */
function text(value: unknown, depth: number): string {
  return isSortedJson(value, depth) ? JSON.stringify(value) : serialize(value, depth);
}

/** Rethrow the fast serializer's marker as the error naming the first value JSON cannot carry. */
function notJson(e: unknown, value: unknown, depth: number): never {
  if (e === NOT_JSON)
    throw describe(value, '$', depth) ?? new ValidationError('INVALID_ARGUMENT', '$: not JSON', ['$']);
  throw e;
}

/**
 * The canonical JSON of a signed envelope (`full`) and of what its `meta.signature` covers
 * (`signed`: the envelope with `meta.signature` removed), with every member but `meta` serialized
 * once for both. `signed` is undefined when `value` is no object with a `meta` object. `depth` is
 * how deep the envelope sits in what is serialized (1 inside a transcript array), so the nesting
 * limit is the one `canonicalize` of that container applies: `full` is then exactly that
 * container's text for this element, and throws where `canonicalize(container)` would.
 */
export function canonicalizeEnvelope(
  value: unknown,
  depth = 0,
): { full: string; signed: string | undefined } {
  const meta = isPlainObject(value) ? value.meta : undefined;
  if (!isPlainObject(value) || !isPlainObject(meta)) {
    return { full: canonicalizeAt(value, depth), signed: undefined };
  }
  const { signature: _omit, ...unsigned } = meta;
  // Each member once.
  const member = (v: unknown) => text(v, depth + 1);
  try {
    let full = '{';
    let signed = '{';
    let first = true;
    for (const k of Object.keys(value).sort()) {
      const v = value[k];
      if (v === undefined) continue;
      if (!isMemberName(k)) throw NOT_JSON;
      const key = `${first ? '' : ','}${JSON.stringify(k)}:`;
      first = false;
      // Members at the envelope's own depth + 1; the signed form, a top-level value, nests no
      // deeper, so what serializes here serializes there, to the same text.
      if (k === 'meta') {
        full += key + member(meta);
        signed += key + member(unsigned);
      } else {
        const text = key + member(v);
        full += text;
        signed += text;
      }
    }
    return { full: `${full}}`, signed: `${signed}}` };
  } catch (e) {
    return notJson(e, value, depth);
  }
}

/**
 * A plain object (a literal, `JSON.parse`'s, `Object.create(null)`). A Date, Map, Set or other
 * class instance is not one: it would canonicalize as `{}`, and a signature over it would cover
 * nothing of it.
 */
function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null) return false;
  const proto = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

/**
 * The same JSON value with every object's members in RFC 8785 order (a fresh copy). Members have
 * no order in JSON, so nothing that reads it changes; but `JSON.stringify` of it is its canonical
 * JSON, which `canonicalize` then takes as is, and two encodings of it list keys alike.
 */
export function inCanonicalOrder<T>(value: T): T {
  return JSON.parse(canonicalize(value)) as T;
}

export function canonicalBytes(value: unknown): Uint8Array {
  return utf8(canonicalize(value));
}

/**
 * Whether `JSON.stringify(value)` is already its RFC 8785 form: only plain objects and plain dense
 * arrays (own prototype `Object.prototype` / `Array.prototype`, no `toJSON` anywhere on them, own
 * or inherited, enumerable or not), strings, booleans, null and finite numbers, no `undefined`
 * anywhere, and every object's keys in strictly ascending UTF-16 order. Anything else (including
 * what the serializer must reject) goes the general way. Values are read here and again by
 * `JSON.stringify`: a getter that answers differently the second time can make the text
 * non-canonical, and a signature over it then fails to verify (never the reverse); data parsed
 * from JSON has no getters.
 */
function isSortedJson(value: unknown, depth: number): boolean {
  if (depth > MAX_DEPTH) return false;
  if (value === null) return true;
  switch (typeof value) {
    case 'string':
      return value.isWellFormed();
    case 'boolean':
      return true;
    case 'number':
      return Number.isFinite(value);
    case 'object': {
      if (Array.isArray(value)) {
        if (Object.getPrototypeOf(value) !== Array.prototype || 'toJSON' in value) return false;
        for (let i = 0; i < value.length; i++) {
          if (!(i in value) || !isSortedJson(value[i], depth + 1)) return false;
        }
        return true;
      }
      if (Object.getPrototypeOf(value) !== Object.prototype || 'toJSON' in value) return false;
      let previous: string | undefined;
      for (const k in value) {
        if (!Object.hasOwn(value, k) || !isMemberName(k)) return false;
        if (previous !== undefined && !(previous < k)) return false;
        previous = k;
        const v = (value as Record<string, unknown>)[k];
        if (v === undefined || !isSortedJson(v, depth + 1)) return false;
      }
      return true;
    }
    default:
      return false;
  }
}

function serialize(value: unknown, depth: number): string {
  if (depth > MAX_DEPTH) throw NOT_JSON;
  if (value === null) return 'null';
  switch (typeof value) {
    case 'string':
      if (!value.isWellFormed()) throw NOT_JSON;
      return JSON.stringify(value);
    case 'boolean':
      return value ? 'true' : 'false';
    case 'number':
      if (!Number.isFinite(value)) throw NOT_JSON;
      // ECMAScript Number.prototype.toString is the RFC 8785 number form; -0 serializes as 0.
      return value === 0 ? '0' : JSON.stringify(value);
    case 'object': {
      if (Array.isArray(value)) {
        let out = '[';
        for (let i = 0; i < value.length; i++) {
          if (i > 0) out += ',';
          out += serialize(value[i], depth + 1);
        }
        return `${out}]`;
      }
      if (!isPlainObject(value)) throw NOT_JSON;
      const obj = value as Record<string, unknown>;
      // The default sort compares UTF-16 code units, as RFC 8785 §3.2.3 requires.
      const keys = Object.keys(obj).sort();
      let out = '{';
      let first = true;
      for (const k of keys) {
        const v = obj[k];
        if (v === undefined) continue;
        if (!isMemberName(k)) throw NOT_JSON;
        if (!first) out += ',';
        first = false;
        out += `${JSON.stringify(k)}:${serialize(v, depth + 1)}`;
      }
      return `${out}}`;
    }
    default:
      throw NOT_JSON;
  }
}

/** The error for the first value under `value` that JSON cannot carry, named by its path. */
function describe(value: unknown, path: string, depth: number): ValidationError | undefined {
  if (depth > MAX_DEPTH) {
    return new ValidationError('INVALID_ARGUMENT', `${path}: nested deeper than ${MAX_DEPTH}`, [path]);
  }
  if (value === null) return undefined;
  switch (typeof value) {
    case 'string':
      return value.isWellFormed()
        ? undefined
        : new ValidationError(
            'INVALID_ARGUMENT',
            `${path}: a string with a lone surrogate (not well-formed UTF-16) is not JSON a signature can cover`,
            [path],
          );
    case 'boolean':
      return undefined;
    case 'number':
      return Number.isFinite(value)
        ? undefined
        : new ValidationError('INVALID_ARGUMENT', `${path}: non-finite number`, [path]);
    case 'object': {
      if (value instanceof Uint8Array) {
        return new ValidationError('INVALID_ARGUMENT', `${path}: bytes must be encoded (hex/base64) first`, [
          path,
        ]);
      }
      if (!Array.isArray(value) && !isPlainObject(value)) {
        const name: unknown = (value as object).constructor?.name;
        const what =
          typeof name !== 'string' || name === '' || name === 'Object'
            ? 'an object with a prototype'
            : `a ${name}`;
        return new ValidationError('INVALID_ARGUMENT', `${path}: ${what} is not JSON (convert it first)`, [
          path,
        ]);
      }
      const entries: [string, unknown][] = Array.isArray(value)
        ? Array.from(value, (v, i): [string, unknown] => [`${path}[${i}]`, v]) // holes read as undefined
        : Object.entries(value).map(([k, v]) => [`${path}.${k}`, v]);
      for (const [p, v] of entries) {
        if (v === undefined && !Array.isArray(value)) continue;
        const name = Array.isArray(value) ? undefined : p.slice(path.length + 1);
        if (name !== undefined && !isMemberName(name)) {
          const shown = `${path}[${JSON.stringify(name)}]`;
          return new ValidationError(
            'INVALID_ARGUMENT',
            name === '__proto__'
              ? `${shown}: a member named __proto__ is not kept by JavaScript objects (a signature over it would not verify)`
              : `${shown}: a member name with a lone surrogate (not well-formed UTF-16) is not JSON a signature can cover`,
            [shown],
          );
        }
        const e = describe(v, p, depth + 1);
        if (e) return e;
      }
      return undefined;
    }
    default:
      return new ValidationError('INVALID_ARGUMENT', `${path}: ${typeof value} is not JSON`, [path]);
  }
}
