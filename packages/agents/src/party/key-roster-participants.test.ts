/**
 * A stored key records which roster party holds which of its participants, and a roster that
 * renumbers any party under it no longer fits the key: swapping quality assurance (the veto
 * holder) with audit would otherwise pass the start-up check, and the party's veto check
 * (`routes/sign.ts`, which reads the veto holder's participant from the roster) would sign an
 * approval whose signers leave the real veto holder out. Moving parties around in roster.json
 * without changing their indexes still fits. A key stored before keys recorded this is taken to
 * fit the roster it starts with. The DKG, a refresh and a repair store the record.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  commit,
  getCiphersuite,
  type Identifier,
  identifierFromNumber,
  PublicKeyPackageCodec,
  Round1CommitmentBatchCodec,
  SigningPackageCodec,
  trustedDealer,
  ValidationError,
} from '@aaps/mpc-core';
import { afterAll, describe, expect, it } from 'vitest';
import { PartyClient } from '../client.js';
import { runDkgOverHttp, runRefreshOverHttp, runRepairOverHttp } from '../coordinate.js';
import { memoryLogger } from '../logger.js';
import { signBacking } from '../policy/backing.js';
import { proposalSigningBytes } from '../policy/proposal.js';
import { LOW_RISK, proposalFor } from '../policy/test-helpers/fixtures.js';
import { type Roster, rosterDigest } from '../roster.js';
import type { PartyStore, StoredKey } from '../store/level.js';
import { createPartyApp, type PartyApp } from './app.js';
import { checkKeyAgainstRoster, keyRosterMismatches, recordKeyParticipants } from './key-roster.js';
import {
  type FiveParties,
  fiveParties,
  inProcessClient,
  partyDeps,
  saveDealtKey,
} from './test-helpers/five-parties.js';

const suite = getCiphersuite('FROST-ED25519-SHA512-v1');
const dir = mkdtempSync(join(tmpdir(), 'aaps-key-roster-participants-'));
const stores: PartyStore[] = [];
afterAll(async () => {
  await Promise.all(stores.map((s) => s.close()));
  rmSync(dir, { recursive: true, force: true });
});

/** `set`'s roster with quality assurance (the veto holder, index 4) and audit (index 5) swapped. */
function swapVetoHolder(roster: Roster): Roster {
  return {
    ...roster,
    parties: roster.parties.map((p) =>
      p.role === 'quality-assurance' ? { ...p, index: 5 } : p.role === 'audit' ? { ...p, index: 4 } : p,
    ),
  };
}

/** Party `i`'s key from a dealing over `set`'s roster, as its store holds it. */
async function storedDealtKey(set: FiveParties, i: number) {
  const dealt = trustedDealer(suite, set.roster.threshold); // participants 1..5 = roster indexes 1..5
  const deps = await partyDeps(set, i, { dir, stores });
  await saveDealtKey(deps.store, set, dealt, i);
  return { dealt, deps, stored: (await deps.store.loadKey())! };
}

/** The same key as stored before keys recorded their participants. */
const legacy = (stored: StoredKey): StoredKey => {
  const { participants: _, ...rest } = stored;
  return rest;
};

/** The roster's party id -> FROST identifier, worked out here from the indexes. */
const numbering = (roster: Roster): Map<string, Identifier> =>
  new Map(roster.parties.map((p) => [p.id, identifierFromNumber(suite, p.index)]));

describe('a roster that renumbers other parties under a held key', () => {
  it('names each party whose index moved, with its roster index and its key participant', async () => {
    const set = fiveParties();
    const swapped = swapVetoHolder(set.roster);
    const { stored } = await storedDealtKey(set, 0);
    expect(stored.participants).toEqual(numbering(set.roster));
    expect(keyRosterMismatches(stored, swapped, swapped.parties[0]!)).toEqual([
      "quality-assurance-agent's roster index 5 differs from the key's participant 4",
      "audit-agent's roster index 4 differs from the key's participant 5",
    ]);
  });

  it('stops the party at start with one line, or only warns while allow_key_replace is on', async () => {
    const set = fiveParties();
    const swapped = swapVetoHolder(set.roster);
    const { deps, stored } = await storedDealtKey(set, 0);
    const check = (allowKeyReplace: boolean, logger = memoryLogger('party')) =>
      checkKeyAgainstRoster(
        stored,
        swapped,
        swapped.parties[0]!,
        rosterDigest(swapped),
        { ...deps.config, allowKeyReplace },
        logger,
      );
    expect(() => check(false)).toThrow(ValidationError);
    expect(() => check(false)).toThrow(
      /^quality-assurance-agent's roster index 5 differs from the key's participant 4; audit-agent's roster index 4 differs from the key's participant 5: the key this party holds/,
    );
    const logger = memoryLogger('party');
    expect(check(true, logger)).toBe(false);
    const events = logger.lines.map((l) => (JSON.parse(l) as { event: string }).event);
    expect(events).toEqual(['keys.roster_mismatch']);
  });

  it('under the roster the key was made under, the package the swap would let through is refused', async () => {
    // Key participants 1, 2 and 5: quality assurance (participant 4) is left out. The swapped
    // roster calls participant 5 quality assurance, so the start-up check above is what keeps a
    // party from signing it under that roster.
    const set = fiveParties();
    const { dealt, deps } = await storedDealtKey(set, 0);
    const party = await createPartyApp(deps);
    const client = new PartyClient({
      roster: set.roster,
      caller: { id: 'gateway', key: set.gatewayKey },
      fetch: (input, init) => Promise.resolve(party.app.request(new URL(String(input)).pathname, init)),
    });
    const me = set.roster.parties[0]!.id;
    const drawn = await client.call<{ commitments: unknown }>(me, 'sign.commit', 's', { count: 1 });
    const mine = Round1CommitmentBatchCodec.fromJSON(drawn.commitments, suite.id).value.commitments[0]!;
    const others = [1, 4].map((k) => commit(suite, dealt.keyPackages[k]!).commitment);
    // Declared `unknown`, as the gateway does by default: the parties' default policies map no
    // namespace, so a lighter environment would be refused before the quorum is looked at.
    const proposal = proposalFor(
      'image_rollback',
      { incident_id: 'inc-misfit' },
      { ...LOW_RISK, environment: 'unknown' },
    );
    const backing = signBacking(proposal, {
      fix: { id: set.roster.parties[1]!.id, key: set.keys[1]! },
      decision: { id: set.roster.parties[2]!.id, key: set.keys[2]! },
    });
    const outcome = await client
      .call(me, 'sign.round2', 's', {
        signing_package: SigningPackageCodec.toJSON(suite.id, {
          commitments: [mine, ...others],
          message: proposalSigningBytes(proposal),
        }),
        subject: { kind: 'approval', proposal, backing },
      })
      .then(
        () => 'signed',
        (e: { details?: { rule?: string }; code?: string }) => e.details?.rule ?? e.code,
      );
    expect(outcome).toBe('approval.veto_quorum');
  });

  it('a party renamed under the key is one the key was not made under', async () => {
    const set = fiveParties();
    const { stored } = await storedDealtKey(set, 0);
    const renamed: Roster = {
      ...set.roster,
      parties: set.roster.parties.map((p) => (p.role === 'audit' ? { ...p, id: 'records' } : p)),
    };
    expect(keyRosterMismatches(stored, renamed, renamed.parties[0]!)).toEqual([
      'roster party records (index 5) is not one the key was made under (monitoring-agent, problem-solver-agent, ' +
        'strategy-agent, quality-assurance-agent, audit-agent)',
    ]);
    // The renamed party itself notices too (its index still fits its key package), as its peers do.
    expect(keyRosterMismatches((await storedDealtKey(set, 4)).stored, renamed, renamed.parties[4]!)).toEqual([
      'roster party records (index 5) is not one the key was made under (monitoring-agent, problem-solver-agent, ' +
        'strategy-agent, quality-assurance-agent, audit-agent)',
    ]);
  });
});

describe('a roster that renumbers nobody', () => {
  it('parties listed in another order with the same indexes: the key fits', async () => {
    const set = fiveParties();
    const { stored } = await storedDealtKey(set, 0);
    const reordered: Roster = { ...set.roster, parties: [...set.roster.parties].reverse() };
    expect(keyRosterMismatches(stored, reordered, set.roster.parties[0]!)).toEqual([]);
  });

  it('an innocent renumbering to match a new order does not fit: each moved party is named', async () => {
    const set = fiveParties();
    const { stored } = await storedDealtKey(set, 0);
    // Audit moved up to third place and numbered as listed.
    const order = [0, 1, 4, 2, 3].map((i) => set.roster.parties[i]!);
    const renumbered: Roster = { ...set.roster, parties: order.map((p, i) => ({ ...p, index: i + 1 })) };
    expect(keyRosterMismatches(stored, renumbered, renumbered.parties[0]!)).toEqual([
      "audit-agent's roster index 3 differs from the key's participant 5",
      "strategy-agent's roster index 4 differs from the key's participant 3",
      "quality-assurance-agent's roster index 5 differs from the key's participant 4",
    ]);
  });
});

describe('a key stored before keys recorded their participants', () => {
  it("is taken to fit the roster it starts with, which is then recorded: a later renumbering doesn't fit", async () => {
    const set = fiveParties();
    const swapped = swapVetoHolder(set.roster);
    const { deps, stored } = await storedDealtKey(set, 0);
    const old = legacy(stored);
    await deps.store.saveKey(old);
    expect((await deps.store.loadKey())!.participants).toBeUndefined();
    // Only this party's own index can be checked for it.
    expect(keyRosterMismatches(old, swapped, swapped.parties[0]!)).toEqual([]);
    const logger = memoryLogger('party');
    const recorded = await recordKeyParticipants(deps.store, old, set.roster, logger);
    expect(recorded.participants).toEqual(numbering(set.roster));
    const reread = (await deps.store.loadKey())!;
    expect(reread.participants).toEqual(numbering(set.roster));
    expect(reread.keyPackage.verifyingShare).toEqual(stored.keyPackage.verifyingShare);
    expect(keyRosterMismatches(reread, swapped, swapped.parties[0]!)).toHaveLength(2);
    // A key that records them is left as it is.
    expect(await recordKeyParticipants(deps.store, reread, swapped, logger)).toBe(reread);
    expect((await deps.store.loadKey())!.participants).toEqual(numbering(set.roster));
  });
});

describe('what the key maintenance routes store', () => {
  it('a DKG key, a refreshed legacy key and a repaired share each record the roster numbering', async () => {
    const set = fiveParties();
    const apps: PartyApp[] = [];
    const partyStores: PartyStore[] = [];
    for (let i = 0; i < 5; i++) {
      const deps = await partyDeps(set, i, { dir, stores });
      partyStores.push(deps.store);
      apps.push(await createPartyApp(deps));
    }
    await runDkgOverHttp(inProcessClient(set, apps), suite, { sessionId: 'dkg-1' });
    for (const s of partyStores) expect((await s.loadKey())!.participants).toEqual(numbering(set.roster));

    // Legacy keys (no record) on fresh parties: a refresh records the numbering it ran under.
    const dealt = trustedDealer(suite, set.roster.threshold);
    partyStores.length = 0;
    for (let i = 0; i < 5; i++) {
      const deps = await partyDeps(set, i, { dir, stores });
      await saveDealtKey(deps.store, set, dealt, i);
      await deps.store.saveKey(legacy((await deps.store.loadKey())!));
      partyStores.push(deps.store);
      apps[i] = await createPartyApp(deps);
    }
    const refreshed = await runRefreshOverHttp(inProcessClient(set, apps), suite, { sessionId: 'refresh-1' });
    for (const s of partyStores) expect((await s.loadKey())!.participants).toEqual(numbering(set.roster));

    // Audit loses its share; a new, empty store is repaired by three helpers.
    const deps = await partyDeps(set, 4, { dir, stores });
    apps[4] = await createPartyApp(deps);
    await runRepairOverHttp(inProcessClient(set, apps), {
      sessionId: 'repair-1',
      lost: set.roster.parties[4]!.id,
      helpers: set.roster.parties.slice(0, 3).map((p) => p.id),
      publicPackage: PublicKeyPackageCodec.toJSON(suite.id, refreshed.publicPackage),
    });
    expect((await deps.store.loadKey())!.participants).toEqual(numbering(set.roster));
  });
});
