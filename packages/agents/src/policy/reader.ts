/**
 * A small strict reader for untrusted JSON: each check records `dot.path: problem` and the
 * caller throws once with every issue, so a bad file is fixed in one pass.
 */
import { ValidationError } from '@aaps/mpc-core';

export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue };

export interface Issue {
  path: string;
  problem: string;
}

export class Reader {
  readonly issues: Issue[] = [];

  report(path: string, problem: string): undefined {
    this.issues.push({ path: path || '$', problem });
    return undefined;
  }

  /** A plain object with exactly the listed keys (`required` must be present, nothing unknown). */
  object(
    value: unknown,
    path: string,
    required: readonly string[],
    optional: readonly string[] = [],
  ): Record<string, unknown> | undefined {
    if (value === null || typeof value !== 'object' || Array.isArray(value)) {
      return this.report(path, 'expected an object');
    }
    const obj = value as Record<string, unknown>;
    for (const key of required) {
      if (obj[key] === undefined) this.report(join(path, key), 'is required');
    }
    for (const key of Object.keys(obj)) {
      if (!required.includes(key) && !optional.includes(key)) this.report(join(path, key), 'unknown field');
    }
    return obj;
  }

  string(value: unknown, path: string, opts: { pattern?: RegExp; max?: number } = {}): string | undefined {
    if (typeof value !== 'string' || value.length === 0)
      return this.report(path, 'expected a non-empty string');
    if (value.length > (opts.max ?? 1024)) return this.report(path, `longer than ${opts.max ?? 1024}`);
    if (opts.pattern && !opts.pattern.test(value)) return this.report(path, `does not match ${opts.pattern}`);
    return value;
  }

  oneOf<T extends string>(value: unknown, path: string, allowed: readonly T[]): T | undefined {
    if (typeof value !== 'string' || !(allowed as readonly string[]).includes(value)) {
      return this.report(path, `expected one of ${allowed.join(', ')}`);
    }
    return value as T;
  }

  number(value: unknown, path: string, min: number, max: number, integer = false): number | undefined {
    if (typeof value !== 'number' || !Number.isFinite(value)) return this.report(path, 'expected a number');
    if (integer && !Number.isInteger(value)) return this.report(path, 'expected an integer');
    if (value < min || value > max) return this.report(path, `expected ${min}..${max}`);
    return value;
  }

  boolean(value: unknown, path: string): boolean | undefined {
    if (typeof value !== 'boolean') return this.report(path, 'expected a boolean');
    return value;
  }

  array<T>(
    value: unknown,
    path: string,
    item: (v: unknown, p: string) => T | undefined,
    opts: { min?: number; max?: number; unique?: boolean } = {},
  ): T[] | undefined {
    if (!Array.isArray(value)) return this.report(path, 'expected an array');
    if (value.length < (opts.min ?? 0)) return this.report(path, `expected at least ${opts.min} item(s)`);
    if (value.length > (opts.max ?? 1024))
      return this.report(path, `expected at most ${opts.max ?? 1024} items`);
    const out: T[] = [];
    const seen = new Set<string>();
    value.forEach((v, i) => {
      const r = item(v, join(path, String(i)));
      if (r === undefined) return;
      if (opts.unique) {
        const key = JSON.stringify(r);
        if (seen.has(key)) {
          this.report(join(path, String(i)), 'duplicate');
          return;
        }
        seen.add(key);
      }
      out.push(r);
    });
    return out;
  }

  /** Any JSON value (finite numbers, no undefined), bounded in depth. */
  json(value: unknown, path: string, depth = 0): JsonValue | undefined {
    if (depth > 16) return this.report(path, 'nested too deep');
    if (value === null || typeof value === 'string' || typeof value === 'boolean') return value;
    if (typeof value === 'number')
      return Number.isFinite(value) ? value : this.report(path, 'non-finite number');
    if (Array.isArray(value)) {
      const out: JsonValue[] = [];
      value.forEach((v, i) => {
        const r = this.json(v, join(path, String(i)), depth + 1);
        if (r !== undefined) out.push(r);
      });
      return out;
    }
    if (typeof value === 'object' && Object.getPrototypeOf(value) === Object.prototype) {
      const out: Record<string, JsonValue> = {};
      for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
        const r = this.json(v, join(path, k), depth + 1);
        if (r !== undefined) out[k] = r;
      }
      return out;
    }
    return this.report(path, 'not JSON');
  }

  /** Throw one `ValidationError` listing every issue, if there are any. */
  throwIfAny(what: string): void {
    if (this.issues.length === 0) return;
    const lines = this.issues.map((i) => `${i.path}: ${i.problem}`);
    throw new ValidationError('INVALID_ARGUMENT', `${what}: ${lines.join('; ')}`, [
      ...new Set(this.issues.map((i) => i.path)),
    ]);
  }
}

export function join(path: string, key: string): string {
  return path === '' ? key : `${path}.${key}`;
}

export function isPlainObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}
