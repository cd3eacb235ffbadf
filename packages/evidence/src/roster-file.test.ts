/**
 * `readRosterFile`: the one reading of a roster.json as the verifier's roster, shared by the
 * party's roster parser and `aaps-verify --roster`. It names each bad field as the file spells it,
 * and refuses what `rosterErrors` refuses (one id and one key per principal).
 */
import { generateIdentityKey } from '@aaps/mpc-core';
import { describe, expect, it } from 'vitest';
import { createBundleVerifier } from './bundle/verify.js';
import { type RosterFileProblem, readRosterFile } from './roster-file.js';
import { rosterErrors } from './statement.js';

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');
const key = () => hex(generateIdentityKey().publicKey);

type RosterJson = {
  parties: Array<Record<string, unknown>>;
  approvers: Array<Record<string, unknown>>;
  gateway: Record<string, unknown>;
  [field: string]: unknown;
};

/** A roster.json as the system writes it (the party's fields included). */
function rosterJson(): RosterJson {
  return {
    version: 1,
    ciphersuite: 'FROST-ED25519-SHA512-v1',
    threshold: { min: 2, max: 3 },
    parties: ['triage-1', 'rca-2', 'fix-3'].map((id, i) => ({
      id,
      role: 'triage',
      department: 'sre',
      url: `http://127.0.0.1:${7101 + i}`,
      identity_key: key(),
      index: i + 1,
    })),
    gateway: { id: 'gateway', identity_key: key() },
    approvers: [{ id: 'oncall', identity_key: key() }],
  };
}

function problemsOf(json: unknown): RosterFileProblem[] {
  const read = readRosterFile(json);
  return read.ok ? [] : [...read.problems];
}

const fieldsOf = (json: unknown) => problemsOf(json).map((p) => p.field);

describe('readRosterFile', () => {
  it('keeps only the ids and identity keys, the gateway as gateway_key and gateway_id', () => {
    const json = rosterJson();
    const read = readRosterFile(json);
    expect(read).toEqual({
      ok: true,
      roster: {
        parties: json.parties.map((p) => ({ id: p.id, identity_key: p.identity_key })),
        approvers: json.approvers,
        gateway_key: json.gateway.identity_key,
        gateway_id: 'gateway',
      },
    });
    expect(rosterErrors(read.ok ? read.roster : undefined, 'roster')).toEqual([]);
  });

  it('names each bad field as the file spells it, and only that field', () => {
    const cases: Array<[string, (j: RosterJson) => void, RosterFileProblem[]]> = [
      [
        'a key that is not hex',
        (j) => (j.parties[1]!.identity_key = 42),
        [{ field: 'parties[1].identity_key', problem: 'expected 32-byte lower-case hex' }],
      ],
      [
        'an upper-case key',
        (j) => (j.approvers[0]!.identity_key = String(j.approvers[0]!.identity_key).toUpperCase()),
        [{ field: 'approvers[0].identity_key', problem: 'expected 32-byte lower-case hex' }],
      ],
      [
        'an empty id',
        (j) => (j.parties[0]!.id = ''),
        [{ field: 'parties[0].id', problem: 'expected a non-empty string' }],
      ],
      [
        'a gateway with no id',
        (j) => delete j.gateway.id,
        [{ field: 'gateway.id', problem: 'expected a non-empty string' }],
      ],
      [
        'a gateway that is no object',
        (j) => (j.gateway = 'gw' as never),
        [{ field: 'gateway', problem: 'expected an object' }],
      ],
      [
        'a party that is no object',
        (j) => (j.parties[2] = 'fix-3' as never),
        [{ field: 'parties[2]', problem: 'expected an object' }],
      ],
      ['no parties', (j) => (j.parties = []), [{ field: 'parties', problem: 'expected a non-empty array' }]],
      [
        'no approvers list',
        (j) => delete (j as Record<string, unknown>).approvers,
        [{ field: 'approvers', problem: 'expected an array (may be empty)' }],
      ],
    ];
    for (const [what, edit, problems] of cases) {
      const json = rosterJson();
      edit(json);
      expect(problemsOf(json), what).toEqual(problems);
    }
    expect(problemsOf([])).toEqual([{ field: '$', problem: 'expected an object' }]);
    // The party's own fields are not the verifier's: a bad URL or threshold is left to the party.
    const partys = rosterJson();
    partys.parties[0]!.url = 'https://x';
    partys.threshold = 'any';
    expect(readRosterFile(partys).ok).toBe(true);
  });

  it('refuses a duplicated id, naming the later holder and the first', () => {
    const json = rosterJson();
    json.parties[2]!.id = json.parties[0]!.id;
    expect(problemsOf(json)).toEqual([{ field: 'parties[2].id', problem: 'also the id of parties[0]' }]);
    const approver = rosterJson();
    approver.approvers[0]!.id = approver.parties[1]!.id;
    expect(problemsOf(approver)).toEqual([
      { field: 'approvers[0].id', problem: 'also the id of parties[1]' },
    ]);
  });

  it('refuses a duplicated key, among members or with the gateway (naming both sides)', () => {
    const json = rosterJson();
    json.approvers[0]!.identity_key = json.parties[1]!.identity_key;
    expect(problemsOf(json)).toEqual([
      { field: 'approvers[0].identity_key', problem: 'also the key of parties[1]' },
    ]);
    const gateway = rosterJson();
    gateway.gateway.identity_key = gateway.parties[2]!.identity_key;
    expect(problemsOf(gateway)).toEqual([
      { field: 'parties[2].identity_key', problem: 'also the key of gateway' },
      { field: 'gateway.identity_key', problem: 'also the key of parties[2]' },
    ]);
    const named = rosterJson();
    named.gateway.id = named.parties[0]!.id;
    expect(fieldsOf(named)).toEqual(['parties[0].id', 'gateway.id']);
  });

  it('refuses exactly what rosterErrors refuses of the same ids and keys', () => {
    const edits: Array<(j: RosterJson) => void> = [
      () => {},
      (j) => (j.parties[1]!.id = j.approvers[0]!.id),
      (j) => (j.approvers[0]!.identity_key = j.gateway.identity_key),
      (j) => (j.parties[0]!.id = 'gateway'),
      (j) => (j.approvers = [...j.approvers, { ...j.approvers[0]! }]),
    ];
    for (const edit of edits) {
      const json = rosterJson();
      edit(json);
      const asVerifierRoster = {
        parties: json.parties.map((p) => ({ id: p.id, identity_key: p.identity_key })),
        approvers: json.approvers,
        gateway_key: json.gateway.identity_key,
        gateway_id: json.gateway.id,
      };
      const refusedByRule = rosterErrors(asVerifierRoster, 'roster').length > 0;
      expect(readRosterFile(json).ok).toBe(!refusedByRule);
    }
  });

  it('a roster.json whose member holds the group key is refused by the verifier it is given to', () => {
    const member = generateIdentityKey();
    const json = rosterJson();
    json.parties[1]!.identity_key = hex(member.publicKey);
    const read = readRosterFile(json);
    if (!read.ok) throw new Error(`unexpected: ${JSON.stringify(read.problems)}`);
    const verifier = (groupPublicKey: Uint8Array) =>
      createBundleVerifier({ groupPublicKey, roster: read.roster, requireLog: false });
    expect(() => verifier(member.publicKey)).toThrow(/holds the group key itself/);
    expect(() => verifier(generateIdentityKey().publicKey)).not.toThrow();
  });
});
