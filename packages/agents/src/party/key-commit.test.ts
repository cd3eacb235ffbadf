/**
 * Two-phase key changes: a key round 3 verified stays pending (never used) until `key.commit`
 * carries every participant's signed statement for its package; a commit short of one, or with one
 * for another package, installs nothing. A commit a crash cut short is finished from the statements
 * the parties report (`finishKeyCommits`), also after the pending party restarted. Junk among the
 * statements is ignored and never kept in the proof, and a commit repeated after it took effect (a
 * lost answer) answers the same without counting the ceremony twice.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { bytesToHex, getCiphersuite, isAapsError } from '@aaps/mpc-core';
import { afterAll, describe, expect, it } from 'vitest';
import { finishKeyCommits, runDkgOverHttp } from '../coordinate.js';
import type { KeyStatement } from '../key-statement.js';
import type { PartyStore } from '../store/level.js';
import { createPartyApp, type PartyApp } from './app.js';
import type { PartyDeps } from './context.js';
import { fiveParties, inProcessClient, partyDeps } from './test-helpers/five-parties.js';

const suite = getCiphersuite('FROST-ED25519-SHA512-v1');
const dir = mkdtempSync(join(tmpdir(), 'aaps-key-commit-'));
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
  const client = inProcessClient(set, apps, {
    timeoutMs: 30_000,
    intercept: (i, path) => {
      if (path === '/v1/key/commit' && !commitTo.has(set.roster.parties[i]!.id))
        return Response.json({ error: { code: 'UNAVAILABLE', message: 'down' } }, { status: 503 });
      return undefined;
    },
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

describe('key.commit', () => {
  it('a verified key stays pending, and a commit short of one statement or for another package installs nothing', async () => {
    const { apps, deps, client, ids, pendingOf, commitOnly } = await setUp();
    commitOnly([]);
    await expect(runDkgOverHttp(client, suite, { sessionId: 'held' })).rejects.toMatchObject({
      code: 'UNAVAILABLE',
    });
    const pending = await pendingOf();
    expect(pending.every((p) => p?.session === 'held')).toBe(true);
    const digest = pending[0]!.package_digest;
    expect(new Set(pending.map((p) => p!.package_digest))).toEqual(new Set([digest]));
    const statements = pending.map((p) => p!.statement);
    commitOnly(ids);
    const commit = (body: Record<string, unknown>) => client.call(ids[0]!, 'key.commit', 'held', body);

    // Four of five statements.
    const short = await errorOf(
      commit({ protocol: 'dkg', package_digest: digest, statements: statements.slice(1) }),
    );
    expect(short?.message).toContain(`none valid from ${ids[0]}`);
    // Party 4's statement replaced by party 3's, relabelled.
    const forged = statements.map((s, i) => (i === 4 ? { party: ids[4]!, sig: statements[3]!.sig } : s));
    const relabelled = await errorOf(commit({ protocol: 'dkg', package_digest: digest, statements: forged }));
    expect(relabelled?.message).toContain(`none valid from ${ids[4]}`);
    // Every statement, but the commit names another package than the one verified here.
    const other = await errorOf(commit({ protocol: 'dkg', package_digest: '00'.repeat(32), statements }));
    expect(other?.code).toBe('INCONSISTENT_TRANSCRIPT');
    // Nothing was installed, in memory or on disk; the key is still pending.
    expect(apps[0]!.state.key).toBeUndefined();
    expect(await deps[0]!.store.loadKey()).toBeUndefined();
    expect(apps[0]!.state.pending?.meta.packageDigest).toBe(digest);

    // With every statement it takes effect, and a repeat (a lost answer) answers the same.
    const done = await commit({ protocol: 'dkg', package_digest: digest, statements });
    expect(apps[0]!.state.key).toBeDefined();
    expect(apps[0]!.state.pending).toBeUndefined();
    expect(await commit({ protocol: 'dkg', package_digest: digest, statements })).toEqual(done);
  });

  it('a commit cut short after two parties is finished by the next start, after a restart too', async () => {
    const { apps, deps, client, ids, pendingOf, commitOnly } = await setUp();
    commitOnly(ids.slice(0, 2));
    await expect(runDkgOverHttp(client, suite, { sessionId: 'cut' })).rejects.toMatchObject({
      code: 'UNAVAILABLE',
    });
    expect(apps.map((a) => a.state.key !== undefined)).toEqual([true, true, false, false, false]);
    // Party 4 restarts: its pending key is read back from its store.
    apps[4] = await createPartyApp(deps[4]!);
    expect(apps[4]!.state.pending?.meta.session).toBe('cut');
    commitOnly(ids);
    expect((await finishKeyCommits(client)).sort()).toEqual(ids.slice(2).sort());
    const keys = new Set(
      apps.map((a) => a.state.key && bytesToHex(a.state.key.publicPackage.groupPublicKey)),
    );
    expect(keys.size).toBe(1);
    expect([...keys][0]).toBeDefined();
    expect((await pendingOf()).every((p) => p === null)).toBe(true);
  });

  it('a pending key some party never verified is never committed, and the next DKG drops it', async () => {
    const { apps, client, ids, commitOnly } = await setUp();
    commitOnly([]);
    await expect(runDkgOverHttp(client, suite, { sessionId: 'half' })).rejects.toThrow();
    // Party 0 forgets its pending key (as if its round 3 had refused): four statements remain.
    apps[0]!.state.pending = undefined;
    commitOnly(ids);
    expect(await finishKeyCommits(client)).toEqual([]);
    expect(apps.map((a) => a.state.key)).toEqual([undefined, undefined, undefined, undefined, undefined]);
    const fresh = await runDkgOverHttp(client, suite, { sessionId: 'again' });
    for (const a of apps) {
      expect(a.state.pending).toBeUndefined();
      expect(bytesToHex(a.state.key!.publicPackage.groupPublicKey)).toBe(fresh.groupPublicKeyHex);
    }
  });

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
