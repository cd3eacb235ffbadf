/**
 * The party's roster parser: the ids, keys and one-id-one-key rule are the evidence verifier's
 * reading (`readRosterFile`), the rest is the party's own; one error names every bad field.
 */
import { readRosterFile } from '@aaps/evidence';
import { bytesToHex, generateIdentityKey, ValidationError } from '@aaps/mpc-core';
import { describe, expect, it } from 'vitest';
import { parseRoster } from './roster.js';

const key = () => bytesToHex(generateIdentityKey().publicKey);

function rosterJson() {
  return {
    version: 1,
    ciphersuite: 'FROST-ED25519-SHA512-v1',
    threshold: { min: 2, max: 3 },
    parties: ['triage-1', 'rca-2', 'fix-3'].map((id, i) => ({
      id,
      role: 'monitoring',
      department: 'sre',
      url: `http://127.0.0.1:${7101 + i}`,
      identity_key: key(),
      index: i + 1,
    })),
    gateway: { id: 'gateway', identity_key: key() },
    approvers: [{ id: 'oncall', identity_key: key() }],
  };
}

function refusal(json: unknown): ValidationError {
  try {
    parseRoster(json);
  } catch (e) {
    if (e instanceof ValidationError) return e;
    throw e;
  }
  throw new Error('the roster was accepted');
}

describe('parseRoster', () => {
  it('accepts a sound roster, which the verifier reads as the same ids and keys', () => {
    const json = rosterJson();
    const roster = parseRoster(json);
    expect(readRosterFile(roster)).toEqual({
      ok: true,
      roster: {
        parties: roster.parties.map((p) => ({ id: p.id, identity_key: p.identity_key })),
        approvers: roster.approvers,
        gateway_key: roster.gateway.identity_key,
        gateway_id: 'gateway',
      },
    });
  });

  it("names the verifier's fields and its own in one error", () => {
    const json = rosterJson();
    json.parties[0]!.url = 'https://10.0.0.11:7101';
    json.parties[2]!.identity_key = json.parties[1]!.identity_key;
    json.parties[1]!.index = 1;
    const e = refusal(json);
    expect(e.fields).toEqual(['parties[2].identity_key', 'parties[0].url', 'parties[1].index']);
    expect(e.message).toContain('parties[2].identity_key: also the key of parties[1]');
    expect(e.message).toContain('parties[1].index: duplicate index');
  });

  it('refuses a maintenance party, naming the roles the workflow runs (maintenance is the gateway executor)', () => {
    // Before: accepted; the gateway's workflow never runs a step on it (runner.ts asks monitoring,
    // problem-solver, strategy, quality-assurance and audit), yet it held a key share.
    const json = rosterJson();
    json.parties[1]!.role = 'maintenance';
    const e = refusal(json);
    expect(e.fields).toEqual(['parties[1].role']);
    expect(e.message).toContain(
      "parties[1].role: expected one of monitoring, problem-solver, strategy, quality-assurance, audit (the roles the workflow runs; maintenance is the gateway's executor, not a party)",
    );
  });

  it('refuses a threshold that is not a majority: two quorums must share a party', () => {
    const json = { ...rosterJson(), threshold: { min: 2, max: 4 } };
    json.parties.push({ ...json.parties[0]!, id: 'verify-4', identity_key: key(), index: 4 });
    const e = refusal(json);
    expect(e.fields).toEqual(['threshold.min']);
    expect(e.message).toContain('threshold.min: expected more than half of max (4): at least 3');
    expect(parseRoster({ ...json, threshold: { min: 3, max: 4 } }).threshold).toEqual({ min: 3, max: 4 });
  });

  it('refuses an id the verifier would take but the party does not spell so', () => {
    for (const [field, edit] of [
      ['parties[1].id', (j: ReturnType<typeof rosterJson>) => (j.parties[1]!.id = 'RCA 2')],
      ['approvers[0].id', (j: ReturnType<typeof rosterJson>) => (j.approvers[0]!.id = 'human:alice')],
      ['gateway.id', (j: ReturnType<typeof rosterJson>) => (j.gateway.id = 'Gateway')],
    ] as const) {
      const json = rosterJson();
      edit(json);
      expect(readRosterFile(json).ok, field).toBe(true);
      expect(refusal(json).fields, field).toEqual([field]);
    }
  });
});
