/**
 * Two DKG round 3s (two coordinators started at once) that reach key-less parties together: key
 * changes run one at a time at a party (`withKeyLock`), and a round 3 finding another session's
 * key pending is refused, so at most one DKG gets every party's statement and commits. Before,
 * "may this party take a key?" was asked before an awaited save, both passed, both answered
 * success, and each party kept whichever save finished last.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { getCiphersuite } from '@aaps/mpc-core';
import { afterAll, describe, expect, it } from 'vitest';
import { PartyClient } from '../../client.js';
import { runDkgOverHttp } from '../../coordinate.js';
import type { PartyStore } from '../../store/level.js';
import { createPartyApp, type PartyApp } from '../app.js';
import { fiveParties, partyDeps } from '../test-helpers/five-parties.js';

const suite = getCiphersuite('FROST-ED25519-SHA512-v1');
const dir = mkdtempSync(join(tmpdir(), 'aaps-review-race-'));
const stores: PartyStore[] = [];

afterAll(async () => {
  await Promise.all(stores.map((s) => s.close()));
  rmSync(dir, { recursive: true, force: true });
});

describe('two DKG round 3s reaching key-less parties together', () => {
  it('at most one DKG succeeds, and every party ends on the key it reported', async () => {
    const set = fiveParties();
    const apps: PartyApp[] = [];
    for (let i = 0; i < 5; i++) apps.push(await createPartyApp(await partyDeps(set, i, { dir, stores })));
    let held = 0;
    let release: () => void = () => {};
    const released = new Promise<void>((r) => {
      release = r;
    });
    // Both coordinators' round-3 calls wait at the door until both DKGs reached round 3.
    const fetch = async (url: URL | string, init?: RequestInit) => {
      const u = new URL(String(url));
      if (u.pathname.endsWith('/dkg/round3')) {
        held++;
        await released;
      }
      const i = set.roster.parties.findIndex((p) => new URL(p.url).host === u.host);
      return apps[i]!.app.request(u.pathname, init);
    };
    const client = () =>
      new PartyClient({
        roster: set.roster,
        caller: { id: 'gateway', key: set.gatewayKey },
        timeoutMs: 30_000,
        fetch: fetch as typeof globalThis.fetch,
      });
    const a = runDkgOverHttp(client(), suite, { sessionId: 'race-a' });
    const b = runDkgOverHttp(client(), suite, { sessionId: 'race-b' });
    await expect.poll(() => held, { timeout: 20_000 }).toBe(10);
    release();
    const [ra, rb] = await Promise.allSettled([a, b]);
    const ok = [ra, rb].filter((r) => r.status === 'fulfilled');
    // At most one DKG completed (before: both, for two different group keys).
    expect(ok.length).toBeLessThanOrEqual(1);
    const keys = new Set(
      apps.map((p) => p.state.key && Buffer.from(p.state.key.publicPackage.groupPublicKey).toString('hex')),
    );
    expect(keys.size).toBe(1);
    // And what each party holds in memory is what it holds on disk (no key at all if both failed).
    for (let i = 0; i < 5; i++) {
      const disk = await stores[i]!.loadKey();
      expect(disk && Buffer.from(disk.publicPackage.groupPublicKey).toString('hex')).toBe([...keys][0]);
    }
    expect(ok.length === 1).toBe([...keys][0] !== undefined);
  });
});
