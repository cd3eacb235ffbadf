/**
 * Review: a party's operator endpoints (`/healthz`, `/metrics`) when its database stops taking
 * writes, as docs/api.md "Operations" describes them for the gateway.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createPartyApp, type PartyApp } from './party/app.js';
import { fiveParties, inProcessClient, partyDeps } from './party/test-helpers/five-parties.js';
import type { PartyStore } from './store/level.js';

const dir = mkdtempSync(join(tmpdir(), 'aaps-metrics-review-'));
const stores: PartyStore[] = [];
afterAll(async () => {
  await Promise.all(stores.map((s) => s.close().catch(() => undefined)));
  rmSync(dir, { recursive: true, force: true });
});

describe('party /healthz', () => {
  it('a party whose database takes no writes (every call refused) does not answer healthy', async () => {
    // The gateway's /healthz answers 503 UNAVAILABLE once a write to its database failed, "so that
    // a supervisor or a liveness probe restarts it" (docs/api.md). A party stores every call's
    // nonce before it handles it (rememberRequest): once its LevelDB takes no writes (a full
    // disk; here, closed under it), it answers every call with an error, yet /healthz keeps
    // answering 200 {"status":"ok"}, so the department's probe never restarts it.
    const set = fiveParties();
    const apps: PartyApp[] = [];
    const deps = [];
    for (let i = 0; i < 5; i++) {
      const d = await partyDeps(set, i, { dir, stores });
      deps.push(d);
      apps.push(await createPartyApp(d));
    }
    const client = inProcessClient(set, apps, { timeoutMs: 5_000 });
    const id = set.roster.parties[0]!.id;
    await client.call(id, 'key.pending', 'before', {});
    await deps[0]!.store.close();
    for (let i = 0; i < 3; i++) {
      await expect(client.call(id, 'key.pending', `after-${i}`, {})).rejects.toThrow();
    }
    const metrics = await (await apps[0]!.app.request('/metrics')).text();
    expect(metrics).toMatch(/aaps_party_requests_total\{kind="[a-z.]+",outcome="INTERNAL"\} 3/);
    const health = await apps[0]!.app.request('/healthz');
    expect(health.status).toBe(503);
  });
});

describe('party aaps_party_requests_total', () => {
  it('a call that fails while it is authenticated is counted under its route\'s kind, not "unknown"', async () => {
    // "Protocol requests by kind and outcome": the kind of a call to /v1/key/pending is known from
    // its route (authenticate() is given it), yet every failure before the envelope is parsed
    // into the handler (a stranger's call, a store that refuses the nonce, a body over the limit)
    // is counted as kind="unknown", so an operator cannot tell which protocol step is failing.
    const set = fiveParties();
    const apps: PartyApp[] = [];
    const deps = [];
    for (let i = 0; i < 5; i++) {
      const d = await partyDeps(set, i, { dir, stores });
      deps.push(d);
      apps.push(await createPartyApp(d));
    }
    const client = inProcessClient(set, apps, { timeoutMs: 5_000 });
    const id = set.roster.parties[1]!.id;
    await deps[1]!.store.close();
    await expect(client.call(id, 'key.pending', 'after', {})).rejects.toThrow();
    const metrics = await (await apps[1]!.app.request('/metrics')).text();
    expect(metrics).toContain('aaps_party_requests_total{kind="key.pending",outcome="INTERNAL"} 1');
  });
});
