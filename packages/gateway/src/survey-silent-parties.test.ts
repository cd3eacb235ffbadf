/**
 * A start (or a refresh) that asks every party which key it holds names each party that gave no
 * answer with why, and a remedy that fits: a party that is up but refuses the gateway's calls
 * (401: its roster names another gateway key) is a roster mismatch, which no restart fixes, not an
 * unreachable party (docs review: every party was called "unreachable" while its /healthz
 * answered 200 and it logged `call_tag`).
 *
 * Five party apps on real loopback ports; the gateway calls them with an identity key that is not
 * the one their roster names, and one party's port is closed.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PartyClient, type PartyStore } from '@aaps/agents';
import { generateIdentityKey, getCiphersuite, PublicKeyPackageCodec, trustedDealer } from '@aaps/mpc-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type LoopbackServer, loopbackParties } from '../../agents/src/party/test-helpers/five-parties.js';
import type { Roster } from '../../agents/src/roster.js';
import { runDkg } from './coordinator-http.js';
import { refreshAcrossParties } from './key-refresh.js';

const suite = getCiphersuite('FROST-ED25519-SHA512-v1');
const dir = mkdtempSync(join(tmpdir(), 'aaps-survey-silent-'));
const stores: PartyStore[] = [];
const servers: LoopbackServer[] = [];
let roster: Roster;
let ids: string[];

beforeAll(async () => {
  const { set, apps, handlers } = await loopbackParties({ dir, stores, servers });
  for (let i = 0; i < 5; i++) handlers[i] = async (req) => apps[i]!.app.fetch(req);
  roster = set.roster;
  ids = roster.parties.map((p) => p.id);
  // The last party is down: its port no longer listens.
  await new Promise((r) => servers[4]!.close(r));
});

afterAll(async () => {
  for (const s of servers) s.close();
  await Promise.all(stores.map((s) => s.close()));
  rmSync(dir, { recursive: true, force: true });
});

/** The message of `p`'s rejection. */
async function failure(p: Promise<unknown>): Promise<string> {
  const e = await p.then(
    () => expect.unreachable('expected a refusal'),
    (e: unknown) => e,
  );
  return (e as Error).message;
}

/** What every message must say: who refused and why, who is down, and both remedies. */
function expectNamed(message: string): void {
  const refused = ids.slice(0, 4).join(', ');
  expect(message).toContain(
    `refused (UNAUTHENTICATED: the aaps-call tag does not verify (not the coordinator's, or for another party or path)): ${refused}`,
  );
  expect(message).toContain(`unreachable: ${ids[4]}`);
  expect(message).not.toContain(`unreachable: ${ids[0]}`);
  expect(message).toContain(`${refused} are up but refuse the gateway's calls, a roster mismatch`);
  expect(message).toContain("give every party the gateway's roster.json");
  expect(message).toContain('start every party');
}

describe('parties that refuse the gateway are not called unreachable', () => {
  it('a first start names each party with why, and the roster remedy', async () => {
    const message = await failure(
      runDkg({
        roster,
        gatewayKey: generateIdentityKey(),
        dataDir: mkdtempSync(join(dir, 'gw-')),
        log: () => {},
      }),
    );
    expect(message).toMatch(/^refusing to run a DKG before every party says which key it holds \(/);
    expectNamed(message);
  }, 30_000);

  it('a start with a group key of record says the same', async () => {
    const saved = PublicKeyPackageCodec.toJSON(
      suite.id,
      trustedDealer(suite, roster.threshold).publicPackage,
    );
    const message = await failure(
      runDkg({
        roster,
        gatewayKey: generateIdentityKey(),
        dataDir: mkdtempSync(join(dir, 'gw-')),
        log: () => {},
        saved,
      }),
    );
    expect(message).toMatch(/^cannot check that the parties hold the group key of record [0-9a-f]{64} \(/);
    expectNamed(message);
  }, 30_000);

  it('a refresh says the same', async () => {
    const client = new PartyClient({ roster, caller: { id: roster.gateway.id, key: generateIdentityKey() } });
    const message = await failure(
      refreshAcrossParties({
        client,
        roster,
        suite,
        current: trustedDealer(suite, roster.threshold).publicPackage,
        say: () => {},
      }),
    );
    expect(message).toMatch(/^a refresh needs every party/);
    expectNamed(message);
    expect(message).toMatch(/; then refresh again$/);
  }, 30_000);
});
