/**
 * RFC 8785 JSON Canonicalization Scheme (JCS).
 *
 * Object keys are sorted by their UTF-16 code units, strings are serialized as ECMAScript's
 * `JSON.stringify` does (which RFC 8785 adopts), and numbers use ECMAScript's shortest
 * round-trip form. Values JSON cannot carry (undefined, functions, symbols, bigint, non-finite
 * numbers) are rejected rather than silently dropped, so two parties never sign different bytes
 * for what they believe is the same object.
 *
 * Every signature and verification of an envelope serializes it, so the serializer is on the hot
 * path: it builds one string with no per-node path bookkeeping, and only when it meets a value
 * JSON cannot carry does a second walk find that value's path for the error.
 */
import { utf8 } from '../bytes.js';
import { ValidationError } from '../errors.js';

export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue };

const MAX_DEPTH = 64;

/** Thrown inside the fast serializer; turned into a `ValidationError` with the value's path. */
class NotJson {}
const NOT_JSON = new NotJson();

export function canonicalize(value: unknown): string {
  try {
    return serialize(value, 0);
  } catch (e) {
    if (e === NOT_JSON)
      throw describe(value, '$', 0) ?? new ValidationError('INVALID_ARGUMENT', '$: not JSON', ['$']);
    throw e;
  }
}

export function canonicalBytes(value: unknown): Uint8Array {
  return utf8(canonicalize(value));
}

function serialize(value: unknown, depth: number): string {
  if (depth > MAX_DEPTH) throw NOT_JSON;
  if (value === null) return 'null';
  switch (typeof value) {
    case 'string':
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
      if (value instanceof Uint8Array) throw NOT_JSON;
      const obj = value as Record<string, unknown>;
      // The default sort compares UTF-16 code units, as RFC 8785 §3.2.3 requires.
      const keys = Object.keys(obj).sort();
      let out = '{';
      let first = true;
      for (const k of keys) {
        const v = obj[k];
        if (v === undefined) continue;
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
      const entries: [string, unknown][] = Array.isArray(value)
        ? value.map((v, i) => [`${path}[${i}]`, v])
        : Object.entries(value).map(([k, v]) => [`${path}.${k}`, v]);
      for (const [p, v] of entries) {
        if (v === undefined && !Array.isArray(value)) continue;
        const e = describe(v, p, depth + 1);
        if (e) return e;
      }
      return undefined;
    }
    default:
      return new ValidationError('INVALID_ARGUMENT', `${path}: ${typeof value} is not JSON`, [path]);
  }
}
