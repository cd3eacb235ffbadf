/**
 * Validation against a {@link Schema}: walks the whole value, gathers every problem as a dot path
 * (`alerts[0].labels`, `metadata.labels["app.kubernetes.io/name"]`) and returns a fresh value that
 * holds only what the schema names (unless an object passes unknown keys through).
 */
import { printableKeyPath } from '@aaps/evidence';
import { ValidationError } from '@aaps/mpc-core';
import type { Schema, SchemaNode } from './define.js';

export interface Issue {
  /** Dot path of the offending value; `$` is the whole body. */
  readonly path: string;
  readonly message: string;
}

export type CheckResult<T> = { ok: true; value: T } | { ok: false; issues: Issue[] };

const INVALID: unique symbol = Symbol('invalid');

/** The dot path of `key` under `parent`; keys that are not identifiers are bracket-quoted. */
export function childPath(parent: string, key: string | number): string {
  if (typeof key === 'number') return `${parent}[${key}]`;
  if (/^[A-Za-z_$][A-Za-z0-9_$-]*$/.test(key)) return parent === '' ? key : `${parent}.${key}`;
  return `${parent}[${JSON.stringify(key)}]`;
}

/**
 * The path of a key a JSON text gives twice (its `segments` from `parseJsonRefusingRepeats`),
 * written from `root` as schema errors write paths, with control and bidirectional characters
 * escaped: the key is the sender's, and the path is printed or logged.
 */
export function repeatedKeyPath(segments: readonly (string | number)[], root = ''): string {
  return printableKeyPath(segments.reduce<string>((at, step) => childPath(at, step), root));
}

export function rootPath(path: string): string {
  return path === '' ? '$' : path;
}

const RFC3339 = /^(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(?:\.\d+)?(?:[Zz]|[+-](\d{2}):(\d{2}))$/;

/** Days in `month` (1 to 12) of `year`, by the proleptic Gregorian calendar RFC 3339 uses. */
function daysIn(year: number, month: number): number {
  if (month === 2) return year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0) ? 29 : 28;
  return [4, 6, 9, 11].includes(month) ? 30 : 31;
}

/**
 * Whether `value` is an RFC 3339 date-time (§5.6) that names a real time: the shape, and each
 * field in its range (§5.7: month 1 to 12, the day within its month, leap years included, hour up
 * to 23, minute up to 59, second up to 60 for a leap second; an offset's hour and minute too). A
 * well-shaped but impossible time would otherwise be stored, and keyed on, as if it were one.
 */
export function isDateTime(value: string): boolean {
  const m = RFC3339.exec(value);
  if (m === null) return false;
  const n = (group: number) => Number(m[group]);
  const month = n(2);
  const day = n(3);
  // An offset (groups 7, 8) is absent for `Z`.
  const offsetOk = m[7] === undefined || (n(7) <= 23 && n(8) <= 59);
  return (
    month >= 1 &&
    month <= 12 &&
    day >= 1 &&
    day <= daysIn(n(1), month) &&
    n(4) <= 23 &&
    n(5) <= 59 &&
    n(6) <= 60 &&
    offsetOk
  );
}

const URI = /^[A-Za-z][A-Za-z0-9+.-]*:[^\s]*$/;

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'array';
  return typeof value;
}

/** Sets an own data property, so a key such as `__proto__` from JSON stays data, never a prototype. */
function setOwn(target: Record<string, unknown>, key: string, value: unknown): void {
  Object.defineProperty(target, key, { value, enumerable: true, writable: true, configurable: true });
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function walk(node: SchemaNode, value: unknown, path: string, issues: Issue[]): unknown {
  const fail = (message: string): typeof INVALID => {
    issues.push({ path: rootPath(path), message });
    return INVALID;
  };
  switch (node.kind) {
    case 'optional':
      return value === undefined ? undefined : walk(node.inner, value, path, issues);
    case 'nullable':
      return value === null ? null : walk(node.inner, value, path, issues);
    case 'unknown':
      return value === undefined ? fail('is required') : value;
    case 'string': {
      if (typeof value !== 'string')
        return fail(value === undefined ? 'is required' : `expected string, got ${describe(value)}`);
      if (value.length < node.minLength) return fail(`shorter than ${node.minLength} characters`);
      if (value.length > node.maxLength) return fail(`longer than ${node.maxLength} characters`);
      if (node.pattern !== undefined && !node.pattern.test(value))
        return fail(`does not match ${node.pattern.source}`);
      if (node.format === 'date-time' && !isDateTime(value))
        return fail('expected an RFC 3339 date-time that names a real time');
      if (node.format === 'uri' && !URI.test(value)) return fail('expected a URI');
      return value;
    }
    case 'number': {
      if (typeof value !== 'number' || !Number.isFinite(value)) {
        return fail(value === undefined ? 'is required' : `expected number, got ${describe(value)}`);
      }
      if (node.integer && !Number.isInteger(value)) return fail('expected an integer');
      if (node.minimum !== undefined && value < node.minimum) return fail(`less than ${node.minimum}`);
      if (node.maximum !== undefined && value > node.maximum) return fail(`greater than ${node.maximum}`);
      return value;
    }
    case 'boolean':
      if (typeof value !== 'boolean')
        return fail(value === undefined ? 'is required' : `expected boolean, got ${describe(value)}`);
      return value;
    case 'enum':
      if (typeof value !== 'string' || !node.values.includes(value)) {
        return fail(value === undefined ? 'is required' : `expected one of ${node.values.join(', ')}`);
      }
      return value;
    case 'array': {
      if (!Array.isArray(value))
        return fail(value === undefined ? 'is required' : `expected array, got ${describe(value)}`);
      if (value.length < node.minItems) return fail(`fewer than ${node.minItems} items`);
      if (value.length > node.maxItems) return fail(`more than ${node.maxItems} items`);
      const out: unknown[] = [];
      let ok = true;
      value.forEach((item, i) => {
        const r = walk(node.item, item, childPath(path, i), issues);
        if (r === INVALID) ok = false;
        else out.push(r);
      });
      return ok ? out : INVALID;
    }
    case 'record': {
      if (!isPlainObject(value))
        return fail(value === undefined ? 'is required' : `expected object, got ${describe(value)}`);
      const entries = Object.entries(value);
      if (entries.length < node.minProperties) return fail(`fewer than ${node.minProperties} entries`);
      if (entries.length > node.maxProperties) return fail(`more than ${node.maxProperties} entries`);
      const out: Record<string, unknown> = {};
      let ok = true;
      for (const [key, v] of entries) {
        const p = childPath(path, key);
        if (key.length > node.maxKeyLength) {
          issues.push({ path: p, message: `key longer than ${node.maxKeyLength} characters` });
          ok = false;
          continue;
        }
        const r = walk(node.value, v, p, issues);
        if (r === INVALID) ok = false;
        else setOwn(out, key, r);
      }
      return ok ? out : INVALID;
    }
    case 'object': {
      if (!isPlainObject(value))
        return fail(value === undefined ? 'is required' : `expected object, got ${describe(value)}`);
      const out: Record<string, unknown> = {};
      let ok = true;
      for (const [key, child] of Object.entries(node.shape)) {
        const r = walk(child, value[key], childPath(path, key), issues);
        if (r === INVALID) ok = false;
        else if (r !== undefined) out[key] = r;
      }
      for (const [key, v] of Object.entries(value)) {
        if (Object.hasOwn(node.shape, key)) continue;
        if (node.unknownKeys === 'reject') {
          issues.push({ path: childPath(path, key), message: 'is not allowed here' });
          ok = false;
        } else if (node.unknownKeys === 'passthrough') {
          setOwn(out, key, v);
        }
      }
      return ok ? out : INVALID;
    }
    case 'union': {
      const index = node.select(value);
      const option = node.options[index];
      if (option === undefined) return fail(`expected ${node.expected}`);
      return walk(option, value, path, issues);
    }
  }
}

/**
 * Checks `value` against `schema`, appending every problem to `issues` (paths under `path`).
 * Returns the cleaned value, or `undefined` when there was any problem.
 */
export function checkInto<T>(
  schema: Schema<T>,
  value: unknown,
  path: string,
  issues: Issue[],
): T | undefined {
  const r = walk(schema.node, value, path, issues);
  // The walk only returns values that match the node the schema was built from.
  return r === INVALID ? undefined : (r as T);
}

export function check<T>(schema: Schema<T>, value: unknown): CheckResult<T> {
  const issues: Issue[] = [];
  const r = walk(schema.node, value, '', issues);
  if (r === INVALID || issues.length > 0) return { ok: false, issues };
  return { ok: true, value: r as T };
}

/**
 * Most failing paths an error lists in `fields` (the Error schema's `maxItems`): a body of a
 * thousand bad items would otherwise answer with thousands of paths. The message says how many
 * failed in all.
 */
export const MAX_ERROR_FIELDS = 100;

/** Issues the message spells out; the rest are counted. */
const MESSAGE_ISSUES = 20;

/**
 * A `ValidationError` (`INVALID_ARGUMENT`): its message spells out the first issues and counts the
 * rest; `fields` holds the first {@link MAX_ERROR_FIELDS} failing paths (each once), and when there
 * were more the message says how many paths failed in all.
 */
export function issuesToError(what: string, issues: readonly Issue[]): ValidationError {
  const shown = issues.slice(0, MESSAGE_ISSUES).map((i) => `${i.path}: ${i.message}`);
  const more = issues.length > shown.length ? `; and ${issues.length - shown.length} more` : '';
  const paths = [...new Set(issues.map((i) => i.path))];
  const listed = paths.slice(0, MAX_ERROR_FIELDS);
  const unlisted =
    paths.length > listed.length
      ? ` (${paths.length} paths failed; fields lists the first ${listed.length})`
      : '';
  return new ValidationError('INVALID_ARGUMENT', `${what}: ${shown.join('; ')}${more}${unlisted}`, listed, {
    details: { issues: issues.slice(0, MAX_ERROR_FIELDS).map((i) => ({ path: i.path, message: i.message })) },
  });
}

/** Checks `value` and returns it typed, or throws one `ValidationError` with every problem. */
export function parse<T>(schema: Schema<T>, value: unknown, what = 'invalid body'): T {
  const r = check(schema, value);
  if (!r.ok) throw issuesToError(what, r.issues);
  return r.value;
}
