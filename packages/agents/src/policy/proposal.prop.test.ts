import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { proposalSigningBytes } from './proposal.js';
import type { JsonValue } from './reader.js';
import { ENVIRONMENTS, URGENCY_LEVELS } from './risk.js';
import { ACTIONS } from './roles.js';
import { proposalFor, signApproval } from './test-helpers/fixtures.js';

const proposalArb = fc
  .record({
    action: fc.constantFrom(...ACTIONS),
    incident: fc.stringMatching(/^[A-Za-z0-9][A-Za-z0-9._:-]{0,30}$/),
    refs: fc.array(fc.stringMatching(/^[a-z]{1,8}:\/\/[a-z0-9./-]{1,30}$/), { minLength: 1, maxLength: 4 }),
    factors: fc.record({
      blast_radius: fc.integer({ min: 1, max: 50 }),
      urgency: fc.constantFrom(...URGENCY_LEVELS),
      environment: fc.constantFrom(...ENVIRONMENTS),
    }),
    approve: fc.boolean(),
  })
  .map(({ action, incident, refs, factors, approve }) => {
    const p = proposalFor(action, { incident_id: incident, evidence_refs: refs }, factors);
    return approve ? { ...p, human_approval: signApproval(p) } : p;
  });

/** Rebuild every object with its keys in an order drawn from `order`. */
function reorder(v: JsonValue, order: number[], depth = 0): JsonValue {
  if (Array.isArray(v)) return v.map((x) => reorder(x, order, depth + 1));
  if (v === null || typeof v !== 'object') return v;
  const keys = Object.keys(v);
  const shuffled = [...keys].sort(
    (a, b) =>
      (order[(keys.indexOf(a) + depth) % order.length] ?? 0) -
        (order[(keys.indexOf(b) + depth) % order.length] ?? 0) || (a < b ? 1 : -1),
  );
  return Object.fromEntries(shuffled.map((k) => [k, reorder(v[k]!, order, depth + 1)]));
}

/** Every path to a leaf. */
function leaves(v: JsonValue, path: (string | number)[] = []): (string | number)[][] {
  if (Array.isArray(v)) return v.flatMap((x, i) => leaves(x, [...path, i]));
  if (v !== null && typeof v === 'object')
    return Object.entries(v).flatMap(([k, x]) => leaves(x, [...path, k]));
  return [path];
}

function mutate(v: JsonValue, path: (string | number)[]): JsonValue {
  const copy = structuredClone(v);
  let parent = copy as Record<string | number, JsonValue>;
  for (const k of path.slice(0, -1)) parent = parent[k] as Record<string | number, JsonValue>;
  const last = path[path.length - 1]!;
  const leaf = parent[last];
  parent[last] =
    typeof leaf === 'string'
      ? `${leaf}0`
      : typeof leaf === 'number'
        ? leaf + 1
        : typeof leaf === 'boolean'
          ? !leaf
          : 'x';
  return copy;
}

describe('proposalSigningBytes laws', () => {
  it('is stable under key reordering', () => {
    fc.assert(
      fc.property(proposalArb, fc.array(fc.integer(), { minLength: 1, maxLength: 8 }), (p, order) => {
        const shuffled = reorder(p as unknown as JsonValue, order);
        expect(proposalSigningBytes(shuffled)).toEqual(proposalSigningBytes(p));
      }),
    );
  });

  it('never gives the same bytes for a proposal with any field changed', () => {
    fc.assert(
      fc.property(proposalArb, fc.nat(), (p, pick) => {
        const json = p as unknown as JsonValue;
        const paths = leaves(json);
        const changed = mutate(json, paths[pick % paths.length]!);
        const original = proposalSigningBytes(p);
        let bytes: Uint8Array | undefined;
        try {
          bytes = proposalSigningBytes(changed);
        } catch {
          return; // no longer a valid proposal: the party refuses to derive bytes at all
        }
        expect(bytes).not.toEqual(original);
      }),
    );
  });

  it('is domain separated', () => {
    const text = new TextDecoder().decode(proposalSigningBytes(proposalFor('pod_restart')));
    expect(text.startsWith('{"domain":"aaps.approval.v1","proposal":{')).toBe(true);
  });
});
