/**
 * One id and one key per roster principal: a roster whose gateway (or a member) holds the group key
 * itself, two parties with one identity key, or a party named as the gateway, would let one
 * holder speak as several (sign the "k-of-n" Statement alone, or count twice among the signers).
 * The builder refuses such a roster, the verifier refuses it as a trusted roster (a usage error)
 * and inside a signed predicate (`statement.format`).
 */
import { signBytes, ValidationError } from '@aaps/mpc-core';
import { describe, expect, it } from 'vitest';
import { buildBundle } from './bundle/build.js';
import type { VerifierRoster } from './statement.js';
import {
  logBundles,
  makeEd25519Key,
  makeInput,
  makeRoster,
  makeTranscript,
  resignStatement,
  type TestKey,
  type TestRoster,
  trustingVerifier,
} from './test-helpers/fixtures.js';

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');

const verifierFor = (group: TestKey, trusted?: VerifierRoster) => trustingVerifier(group, trusted);

/** A logged bundle of a sound roster whose signed predicate then gets `bad`'s roster. */
async function bundleCarrying(group: TestKey, bad: VerifierRoster) {
  const r = makeRoster();
  const built = await buildBundle(makeInput(group, r, { transcript: makeTranscript(r) }), group.sign);
  const resigned = await resignStatement(built, group, (s) => {
    s.predicate.roster = bad;
  });
  const [logged] = await logBundles([resigned], group);
  return JSON.parse(JSON.stringify(logged));
}

describe('roster collisions', () => {
  it('a roster whose gateway key is the group key: refused as trusted roster and inside the predicate', async () => {
    const r: TestRoster = makeRoster();
    const group: TestKey = {
      publicKey: r.gateway.publicKey,
      privateKey: undefined as never,
      sign: async (m) => signBytes(r.gateway.secretKey, m),
    };
    expect(r.roster.gateway_key).toBe(hex(group.publicKey));
    expect(() => verifierFor(group, r.roster)).toThrow(/holds the group key itself/);
    const [bundle] = await logBundles(
      [await buildBundle(makeInput(group, r, { transcript: makeTranscript(r) }), group.sign)],
      group,
    );
    const report = verifierFor(group).report(JSON.parse(JSON.stringify(bundle)));
    expect({ valid: report.valid, check: report.failure?.check, message: report.failure?.message }).toEqual({
      valid: false,
      check: 'statement.format',
      message: 'a member of the predicate roster, or its gateway, holds the group key itself',
    });
  });

  it('two parties with one identity key, or a party named as the gateway: refused everywhere', async () => {
    const group = makeEd25519Key();
    const sharedKey = makeRoster();
    sharedKey.roster.parties[1]!.identity_key = sharedKey.roster.parties[0]!.identity_key;
    const gatewayNamed = makeRoster();
    gatewayNamed.roster.parties[0]!.id = 'gateway';
    const approverIsParty = makeRoster();
    approverIsParty.roster.approvers[0]!.id = approverIsParty.roster.parties[2]!.id;
    for (const [what, r, field] of [
      ['shared key', sharedKey, 'roster.parties[1].identity_key'],
      ['party named gateway', gatewayNamed, 'roster.parties[0].id'],
      ['approver with a party id', approverIsParty, 'roster.approvers[0].id'],
    ] as const) {
      // The builder refuses it, naming the field.
      await expect(buildBundle(makeInput(group, r), group.sign), what).rejects.toMatchObject({
        fields: expect.arrayContaining([field]),
      });
      // As the auditor's trusted roster: a usage error.
      expect(() => verifierFor(group, r.roster), what).toThrow(ValidationError);
      // Inside a signed predicate: statement.format.
      const report = verifierFor(group).report(await bundleCarrying(group, r.roster));
      expect({ what, valid: report.valid, check: report.failure?.check }).toEqual({
        what,
        valid: false,
        check: 'statement.format',
      });
    }
  });
});
