/**
 * The evidence rules (`@aaps/evidence` transcript-authority.ts) hold each party to its role's
 * outputs in a transcript, by their own table: it must be the registry's, or the parties would
 * refuse the evidence of their own honest steps (or accept a role's output from another role).
 */
import { PARTY_ROLE_MESSAGE_TYPES } from '@aaps/evidence';
import { describe, expect, it } from 'vitest';
import { ROLE_OUTPUT_TYPES } from './registry.js';

describe('the message types each party role signs into a transcript', () => {
  it("are the registry's role outputs, role for role", () => {
    const registry = Object.fromEntries(
      Object.entries(ROLE_OUTPUT_TYPES).map(([role, types]) => [role, [...types]]),
    );
    const evidence = Object.fromEntries(
      Object.entries(PARTY_ROLE_MESSAGE_TYPES).map(([role, types]) => [role, [...types]]),
    );
    expect(evidence).toEqual(registry);
  });
});
