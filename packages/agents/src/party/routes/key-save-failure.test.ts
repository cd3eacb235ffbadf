/**
 * A new key (stored pending by refresh or DKG round 3, made current by `key.commit`; repair step
 * 3 saves the same way) is on disk before the party uses it. When a save fails (disk full, I/O
 * error) the party answers INTERNAL and keeps the key it would hold after a restart: it neither
 * serves (`key.info`) nor signs with a share it never stored, so a coordinator that settles a
 * failed refresh by asking each party what it holds (docs/api.md) sees this party as not
 * refreshed and repairs it, instead of the party going back to the old share at its next restart.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { bytesToHex, getCiphersuite, trustedDealer } from '@aaps/mpc-core';
import { afterAll, describe, expect, it } from 'vitest';
import { runDkgOverHttp, runRefreshOverHttp } from '../../coordinate.js';
import type { PartyStore } from '../../store/level.js';
import { createPartyApp, type PartyApp } from '../app.js';
import {
  type FiveParties,
  fiveParties,
  inProcessClient,
  partyDeps,
  saveDealtKey,
} from '../test-helpers/five-parties.js';

const suite = getCiphersuite('FROST-ED25519-SHA512-v1');
const dir = mkdtempSync(join(tmpdir(), 'aaps-key-save-failure-'));
const stores: PartyStore[] = [];
afterAll(async () => {
  await Promise.all(stores.map((s) => s.close()));
  rmSync(dir, { recursive: true, force: true });
});

/**
 * Five parties in process (with a dealt key when `dealt`); party 0's disk is full: its `saveKey`
 * fails as LevelDB's does. Returns its real store, its app and the gateway's client.
 */
async function partyZeroDiskFull(
  set: FiveParties,
  dealt?: ReturnType<typeof trustedDealer>,
  failing: readonly string[] = ['saveKey', 'savePendingKey', 'commitPendingKey'],
) {
  const full = Object.assign(new Error('IO error: No space left on device'), { code: 'LEVEL_IO_ERROR' });
  const apps: PartyApp[] = [];
  let store0!: PartyStore;
  for (let i = 0; i < 5; i++) {
    const deps = await partyDeps(set, i, { dir, stores });
    if (dealt) await saveDealtKey(deps.store, set, dealt, i);
    if (i > 0) {
      apps.push(await createPartyApp(deps));
      continue;
    }
    store0 = deps.store;
    const store = new Proxy(deps.store, {
      get(target, prop) {
        if (typeof prop === 'string' && failing.includes(prop)) return async () => Promise.reject(full);
        const value = Reflect.get(target, prop, target);
        return typeof value === 'function' ? value.bind(target) : value;
      },
    });
    apps.push(await createPartyApp({ ...deps, store }));
  }
  return { store0, app0: apps[0]!, client: inProcessClient(set, apps) };
}

const codeOf = (run: Promise<unknown>) =>
  run.then(
    () => 'ok',
    (e: { code?: string }) => e.code,
  );

describe('a new key a party fails to store', () => {
  it('refresh: the party stays on the share it has on disk, in memory too', async () => {
    const set = fiveParties();
    const { store0, client } = await partyZeroDiskFull(set, trustedDealer(suite, set.roster.threshold));
    expect(await codeOf(runRefreshOverHttp(client, suite, { sessionId: 'rf-full' }))).toBe('INTERNAL');
    const p0 = set.roster.parties[0]!.id;
    const served = await client.call<{ verifying_share: string }>(p0, 'key.info', 'after', {});
    const onDisk = bytesToHex((await store0.loadKey())!.keyPackage.verifyingShare);
    // What the party says it holds (and signs with) is what it would hold after a restart.
    expect(served.verifying_share).toBe(onDisk);
  });

  it('DKG: the party does not claim a key it will not have after a restart', async () => {
    const set = fiveParties();
    const { store0, app0, client } = await partyZeroDiskFull(set);
    expect(await codeOf(runDkgOverHttp(client, suite, { sessionId: 'dkg-full' }))).toBe('INTERNAL');
    expect(await store0.loadKey()).toBeUndefined();
    const health = (await (await app0.app.request('/healthz')).json()) as { has_key: boolean };
    expect(health.has_key).toBe(false);
  });

  it('refresh commit: a party whose commit fails stays on its stored share; the others committed', async () => {
    const set = fiveParties();
    const dealt = trustedDealer(suite, set.roster.threshold);
    const { store0, client } = await partyZeroDiskFull(set, dealt, ['commitPendingKey']);
    expect(await codeOf(runRefreshOverHttp(client, suite, { sessionId: 'rf-commit-full' }))).toBe('INTERNAL');
    const p0 = set.roster.parties[0]!.id;
    const served = await client.call<{ verifying_share: string }>(p0, 'key.info', 'after', {});
    expect(served.verifying_share).toBe(bytesToHex((await store0.loadKey())!.keyPackage.verifyingShare));
    expect(served.verifying_share).toBe(bytesToHex(dealt.keyPackages[0]!.verifyingShare));
    const p1 = set.roster.parties[1]!.id;
    const other = await client.call<{ verifying_share: string }>(p1, 'key.info', 'after', {});
    expect(other.verifying_share).not.toBe(bytesToHex(dealt.keyPackages[1]!.verifyingShare));
  });
});
