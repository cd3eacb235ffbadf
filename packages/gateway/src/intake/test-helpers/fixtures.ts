/** Test-only: native payload fixtures and a deterministic intake context. */
import { readFileSync } from 'node:fs';
import { ValidationError } from '@aaps/mpc-core';
import { expect } from 'vitest';
import type { IntakeContext, IntakeItem, OpenIncident } from '../types.js';

const FIXTURES = new URL('../../../test-fixtures/', import.meta.url);

export function fixtureBytes(path: string): Uint8Array {
  return new Uint8Array(readFileSync(new URL(path, FIXTURES)));
}

export function fixture(path: string): unknown {
  return JSON.parse(new TextDecoder().decode(fixtureBytes(path)));
}

/** A fresh deep copy of a fixture as a mutable object, for malformed variants. */
export function mutable(path: string): Record<string, unknown> {
  const v = fixture(path);
  if (typeof v !== 'object' || v === null || Array.isArray(v))
    throw new TypeError(`${path} is not an object`);
  return v as Record<string, unknown>;
}

export function testContext(at = '2026-11-25T15:30:00.000Z'): IntakeContext {
  let n = 0;
  return {
    now: () => new Date(at),
    newId: () => {
      n += 1;
      return `00000000-0000-4000-8000-${String(n).padStart(12, '0')}`;
    },
    cluster: 'test-cluster',
  };
}

/** The `fields` of the ValidationError `fn` throws (fails the test if it throws anything else). */
export function invalidFields(fn: () => unknown): readonly string[] {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(ValidationError);
    if (e instanceof ValidationError) return e.fields;
  }
  expect.fail('expected a ValidationError');
}

export function opened(items: readonly IntakeItem[]): OpenIncident[] {
  return items.filter((i): i is OpenIncident => i.action === 'open');
}
