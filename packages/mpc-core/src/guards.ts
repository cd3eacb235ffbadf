/**
 * Argument guards for the public entry points. Each checks one argument's type (not its meaning:
 * lengths, encodings and protocol rules stay with the code that knows them) and throws
 * `ValidationError('INVALID_ARGUMENT')` naming `field`, so that a caller's `undefined`, `null` or
 * wrong-typed argument gives a typed error instead of a `TypeError` from deep inside.
 */
import { ValidationError } from './errors.js';
import { SecretBytes } from './secret.js';
import { type AnyCiphersuite, CIPHERSUITE_IDS } from './suite/types.js';

/** What a wrong-typed argument is, for messages: its type, never its value (it may be a secret). */
export function describeType(value: unknown): string {
  if (value === null) return 'null';
  if (value === undefined) return 'undefined';
  if (Array.isArray(value)) return 'an array';
  if (value instanceof Uint8Array) return 'a Uint8Array';
  const t = typeof value;
  return t === 'object' ? 'an object' : `a ${t}`;
}

function fail(field: string, what: string): never {
  throw new ValidationError('INVALID_ARGUMENT', `${field}: expected ${what}`, [field]);
}

/** A ciphersuite object (`getCiphersuite(id)`, `ciphersuites.*`), whatever its backend. */
export function assertSuite(suite: unknown, field = 'suite'): asserts suite is AnyCiphersuite {
  const s = suite as Partial<AnyCiphersuite> | null;
  if (
    s === null ||
    typeof s !== 'object' ||
    !(CIPHERSUITE_IDS as readonly unknown[]).includes(s.id) ||
    typeof s.group !== 'object' ||
    s.group === null ||
    typeof s.field !== 'object' ||
    s.field === null
  ) {
    fail(field, 'a ciphersuite (getCiphersuite(id) or ciphersuites.*)');
  }
}

/** A non-null object that is not an array (a record, an options bag, a message). */
export function assertObject(value: unknown, field: string): asserts value is Record<string, unknown> {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) fail(field, 'an object');
}

/** An optional options object: `undefined` gives `{}`. */
export function optionsOf<T extends object>(value: T | undefined, field = 'options'): T {
  if (value === undefined) return {} as T;
  assertObject(value, field);
  return value;
}

export function assertArray(value: unknown, field: string): asserts value is readonly unknown[] {
  if (!Array.isArray(value)) fail(field, 'an array');
}

export function assertString(value: unknown, field: string): asserts value is string {
  if (typeof value !== 'string') fail(field, 'a string');
}

export function assertBigint(value: unknown, field: string): asserts value is bigint {
  if (typeof value !== 'bigint') fail(field, 'a bigint');
}

export function assertFunction(value: unknown, field: string): asserts value is (...a: never[]) => unknown {
  if (typeof value !== 'function') fail(field, 'a function');
}

/** A `SecretBytes` that has not been wiped (unless `live` is false: the caller judges a wiped one). */
export function assertSecret(value: unknown, field: string, live = true): asserts value is SecretBytes {
  if (!(value instanceof SecretBytes)) fail(field, 'SecretBytes');
  if (live && value.wiped) {
    throw new ValidationError('INVALID_ARGUMENT', `${field}: the secret has been wiped`, [field]);
  }
}
