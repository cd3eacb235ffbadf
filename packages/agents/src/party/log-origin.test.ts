/**
 * A party from before origins were pinned whose store holds checkpoint records of two logs (it
 * signed for a log and for its replacement) and no `log_origin`: it is `undecided`, not a party
 * that knows no log. Its status lists the two logs, a checkpoint of a third is refused naming them,
 * and an unseal release is refused saying why (the two logs, and that `log_origin` settles it),
 * not "no checkpoint yet", which would send an operator looking for the wrong cause.
 *
 * Real parts: a LevelDB party store written, closed and reopened; a party app on it reached
 * through app.request; the request-record checker a party node builds.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { getCiphersuite, SecretBytes, trustedDealer } from '@aaps/mpc-core';
import { afterAll, describe, expect, it } from 'vitest';
import { PartyStore } from '../store/level.js';
import { createPartyApp } from './app.js';
import { foreignOrigin, noLogReason, witnessedLog } from './log-origin.js';
import { fiveParties, partyDeps, saveDealtKey } from './test-helpers/five-parties.js';
import { createRequestRecordChecker } from './unseal-record.js';

const A = 'aaps.test/log-a';
const B = 'aaps.test/log-b';
const dir = mkdtempSync(join(tmpdir(), 'aaps-log-origin-'));
const opened: PartyStore[] = [];
afterAll(async () => {
  await Promise.all(opened.map((s) => s.close()));
  rmSync(dir, { recursive: true, force: true });
});

/** A store holding records of logs A and B, claimed as a party before pins did (no origin rule), reopened. */
async function twoLogStore(kek: SecretBytes, partyId: string): Promise<PartyStore> {
  const path = join(dir, `two-logs-${opened.length}`);
  const before = await PartyStore.open(path, kek, partyId);
  await before.claimCheckpoint(A, { size: 3, root: new Uint8Array(32).fill(1) });
  await before.claimCheckpoint(B, { size: 2, root: new Uint8Array(32).fill(2) });
  await before.close();
  const store = await PartyStore.open(path, kek, partyId);
  opened.push(store);
  return store;
}

describe('a party holding records of two logs from before pins, none pinned', () => {
  it('is undecided between them: the third log is refused naming both, and either may still be pinned', async () => {
    const store = await twoLogStore(new SecretBytes(new Uint8Array(randomBytes(32))), 'party-1');
    const log = witnessedLog({}, store);
    expect(log).toMatchObject({ origin: undefined, source: 'undecided', claimRule: 'pin' });
    expect([...log.candidates].sort()).toEqual([A, B]);
    expect(foreignOrigin(log, A)).toBeUndefined();
    expect(foreignOrigin(log, 'aaps.test/log-c')).toMatch(/log-a.*log-b|log-b.*log-a/);
    expect(noLogReason(log)).toContain('set log_origin');
    // A configured origin settles it.
    expect(witnessedLog({ logOrigin: B }, store)).toMatchObject({ origin: B, source: 'configured' });
  });

  it('says so in GET /healthz, and refuses an unseal release naming the two logs', async () => {
    const set = fiveParties();
    const dealt = trustedDealer(getCiphersuite('FROST-ED25519-SHA512-v1'), set.roster.threshold);
    const deps = await partyDeps(set, 0, { dir, stores: opened });
    deps.store = await twoLogStore(new SecretBytes(new Uint8Array(randomBytes(32))), deps.self.id);
    await saveDealtKey(deps.store, set, dealt, 0);
    const party = await createPartyApp(deps);
    const health = (await (await party.app.request('/healthz')).json()) as Record<string, unknown>;
    expect(health).toMatchObject({ log_origin: null, log_origin_source: 'undecided' });
    expect([...(health.log_origin_candidates as string[])].sort()).toEqual([A, B]);

    // The checker as the party node builds it (app.ts): the log it witnesses, and why none.
    const check = createRequestRecordChecker({
      roster: set.roster,
      group: () => ({
        groupPublicKey: dealt.publicPackage.groupPublicKey,
        threshold: { min: 3, max: 5 },
        ciphersuite: 'FROST-ED25519-SHA512-v1',
      }),
      logOrigin: () => witnessedLog(deps.config, deps.store).origin,
      noLogReason: () => noLogReason(witnessedLog(deps.config, deps.store)),
    });
    const refused = check({}, { request_id: 'ur-1', incident_id: 'inc-1' });
    expect(refused.ok).toBe(false);
    const message = (refused as { message: string }).message;
    expect(message).toContain(A);
    expect(message).toContain(B);
    expect(message).not.toContain('no checkpoint of the log yet');
  });
});
