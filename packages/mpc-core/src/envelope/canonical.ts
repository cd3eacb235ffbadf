/**
 * RFC 8785 JSON Canonicalization Scheme (JCS).
 *
 * Object keys are sorted by their UTF-16 code units, strings are serialized as ECMAScript's
 * `JSON.stringify` does (which RFC 8785 adopts), and numbers use ECMAScript's shortest
 * round-trip form. Values JSON cannot carry (undefined, functions, symbols, bigint, non-finite
 * numbers) are rejected rather than silently dropped, so two parties never sign different bytes
 * for what they believe is the same object.
 */
import { utf8 } from '../bytes.js';
import { ValidationError } from '../errors.js';

export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue };

export function canonicalize(value: unknown): string {
  return serialize(value, '$', 0);
}

export function canonicalBytes(value: unknown): Uint8Array {
  return utf8(canonicalize(value));
}

const MAX_DEPTH = 64;

function serialize(value: unknown, path: string, depth: number): string {
  if (depth > MAX_DEPTH) {
    throw new ValidationError('INVALID_ARGUMENT', `${path}: nested deeper than ${MAX_DEPTH}`, [path]);
  }
  if (value === null) return 'null';
  switch (typeof value) {
    case 'boolean':
      return value ? 'true' : 'false';
    case 'string':
      return JSON.stringify(value);
    case 'number':
      if (!Number.isFinite(value)) {
        throw new ValidationError('INVALID_ARGUMENT', `${path}: non-finite number`, [path]);
      }
      // ECMAScript Number.prototype.toString is the RFC 8785 number form; -0 serializes as 0.
      return Object.is(value, -0) ? '0' : JSON.stringify(value);
    case 'object': {
      if (Array.isArray(value)) {
        return `[${value.map((v, i) => serialize(v, `${path}[${i}]`, depth + 1)).join(',')}]`;
      }
      if (value instanceof Uint8Array) {
        throw new ValidationError('INVALID_ARGUMENT', `${path}: bytes must be encoded (hex/base64) first`, [
          path,
        ]);
      }
      const obj = value as Record<string, unknown>;
      const keys = Object.keys(obj)
        .filter((k) => obj[k] !== undefined)
        .sort(compareUtf16);
      const parts = keys.map((k) => `${JSON.stringify(k)}:${serialize(obj[k], `${path}.${k}`, depth + 1)}`);
      return `{${parts.join(',')}}`;
    }
    default:
      throw new ValidationError('INVALID_ARGUMENT', `${path}: ${typeof value} is not JSON`, [path]);
  }
}

function compareUtf16(a: string, b: string): number {
  // Plain `<` on JS strings compares UTF-16 code units, as RFC 8785 §3.2.3 requires.
  return a < b ? -1 : a > b ? 1 : 0;
}
