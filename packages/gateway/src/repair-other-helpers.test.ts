/**
 * `repairOnto` tries another k of the holders when a helper does not help. 3-of-5, party 0 lost
 * its share, parties 1-4 hold the key; party 1 (the first helper in roster order) does not help:
 * parties 2, 3, 4 rebuild party 0's share. Before, the first k holders were the only set tried, and
 * the repair (before a refresh, at `aaps up`, after a refresh) failed every time.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PartyClient, type PartyStore } from '@aaps/agents';
import { getCiphersuite, PublicKeyPackageCodec, trustedDealer } from '@aaps/mpc-core';
import { afterAll, describe, expect, it } from 'vitest';
import { createPartyApp, type PartyApp } from '../../agents/src/party/app.js';
import { fiveParties, partyDeps, saveDealtKey } from '../../agents/src/party/test-helpers/five-parties.js';
import { repairOnto } from './key-refresh.js';

const suite = getCiphersuite('FROST-ED25519-SHA512-v1');
const dir = mkdtempSync(join(tmpdir(), 'aaps-review-helpers-'));
const stores: PartyStore[] = [];

afterAll(async () => {
  await Promise.all(stores.map((s) => s.close()));
  rmSync(dir, { recursive: true, force: true });
});

describe('repair with one unhelpful holder among k + 1', () => {
  it('rebuilds the lost share from the other holders', async () => {
    const set = fiveParties();
    const dealt = trustedDealer(suite, set.roster.threshold);
    const apps: PartyApp[] = [];
    for (let i = 0; i < 5; i++) {
      const d = await partyDeps(set, i, { dir, stores });
      if (i !== 0) await saveDealtKey(d.store, set, dealt, i);
      apps.push(await createPartyApp(d));
    }
    const fetch = async (url: URL | string, init?: RequestInit) => {
      const u = new URL(String(url));
      const i = set.roster.parties.findIndex((p) => new URL(p.url).host === u.host);
      if (i === 1 && u.pathname.startsWith('/v1/repair/'))
        return Response.json({ error: { code: 'UNAVAILABLE', message: 'down' } }, { status: 503 });
      return apps[i]!.app.request(u.pathname, init);
    };
    const client = new PartyClient({
      roster: set.roster,
      caller: { id: 'gateway', key: set.gatewayKey },
      timeoutMs: 30_000,
      fetch: fetch as typeof globalThis.fetch,
    });
    const ids = set.roster.parties.map((p) => p.id);
    const out = await repairOnto(
      client,
      set.roster,
      PublicKeyPackageCodec.toJSON(suite.id, dealt.publicPackage),
      ids.slice(1),
      [ids[0]!],
      () => {},
    );
    expect(out.failed, JSON.stringify(out.failed)).toEqual([]);
    expect(apps[0]!.state.key).toBeDefined();
  });
});
