/**
 * `key.commit` on what a coordinator may send besides the statements it needs: junk among them is
 * ignored and never kept in the proof (it was a 500 before), and a commit repeated after it took
 * effect (a lost answer) answers the same without counting the ceremony twice.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { bytesToHex, getCiphersuite, isAapsError } from '@aaps/mpc-core';
import { afterAll, describe, expect, it } from 'vitest';
import { PartyClient } from '../client.js';
import { finishKeyCommits, runDkgOverHttp } from '../coordinate.js';
import type { KeyStatement } from '../key-statement.js';
import type { PartyStore } from '../store/level.js';
import { createPartyApp, type PartyApp } from './app.js';
import type { PartyDeps } from './context.js';
import { fiveParties, partyDeps } from './test-helpers/five-parties.js';

const suite = getCiphersuite('FROST-ED25519-SHA512-v1');
const dir = mkdtempSync(join(tmpdir(), 'aaps-key-commit-input-'));
const stores: PartyStore[] = [];
afterAll(async () => {
  await Promise.all(stores.map((s) => s.close()));
  rmSync(dir, { recursive: true, force: true });
});

interface Pending {
  pending: { session: string; package_digest: string; statement: KeyStatement } | null;
  committed: { statements: unknown[] } | null;
}

/** Five key-less parties; `key.commit` reaches only the parties in `commitTo` (all by default). */
async function setUp() {
  const set = fiveParties();
  const apps: PartyApp[] = [];
  const deps: PartyDeps[] = [];
  for (let i = 0; i < 5; i++) {
    const d = await partyDeps(set, i, { dir, stores });
    deps.push(d);
    apps.push(await createPartyApp(d));
  }
  let commitTo = new Set(set.roster.parties.map((p) => p.id));
  const fetch = async (url: URL | string, init?: RequestInit) => {
    const u = new URL(String(url));
    const i = set.roster.parties.findIndex((p) => new URL(p.url).host === u.host);
    if (u.pathname === '/v1/key/commit' && !commitTo.has(set.roster.parties[i]!.id))
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
  const pendingOf = async () =>
    Promise.all(ids.map((id) => client.call<Pending>(id, 'key.pending', 'q', {}).then((r) => r.pending)));
  return {
    apps,
    deps,
    client,
    ids,
    pendingOf,
    commitOnly: (to: readonly string[]) => {
      commitTo = new Set(to);
    },
  };
}

const errorOf = (p: Promise<unknown>) =>
  p.then(
    () => undefined,
    (e: unknown) => (isAapsError(e) ? e : Promise.reject(e)),
  );

describe('key.commit input', () => {
  it('takes complete statements with junk among them (no 500), and keeps only the valid ones', async () => {
    const { client, ids, pendingOf, commitOnly } = await setUp();
    commitOnly([]);
    await expect(runDkgOverHttp(client, suite, { sessionId: 'junk' })).rejects.toThrow();
    const pending = await pendingOf();
    const digest = pending[0]!.package_digest;
    const statements = [...pending.map((p) => p!.statement), null];
    commitOnly(ids);
    const e = await errorOf(
      client.call(ids[0]!, 'key.commit', 'junk', { protocol: 'dkg', package_digest: digest, statements }),
    );
    expect(e).toBeUndefined();
    const after = await client.call<Pending>(ids[0]!, 'key.pending', 'q', {});
    expect(after.pending).toBeNull();
    expect(after.committed?.statements).toEqual(pending.map((p) => p!.statement));
  });

  it('a repeated commit (a lost answer) does not count the session twice', async () => {
    const { apps, client, ids, pendingOf, commitOnly } = await setUp();
    commitOnly([]);
    await expect(runDkgOverHttp(client, suite, { sessionId: 'twice' })).rejects.toThrow();
    const pending = await pendingOf();
    const body = {
      protocol: 'dkg',
      package_digest: pending[0]!.package_digest,
      statements: pending.map((p) => p!.statement),
    };
    commitOnly(ids);
    await client.call(ids[0]!, 'key.commit', 'twice', body);
    const metrics = async () =>
      (await (await apps[0]!.app.request('/metrics')).text())
        .split('\n')
        .filter((l) => l.includes('kind="dkg"'));
    const once = await metrics();
    await client.call(ids[0]!, 'key.commit', 'twice', body);
    expect(await metrics()).toEqual(once);
  });
});
