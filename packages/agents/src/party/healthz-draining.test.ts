/**
 * A stopping party refuses every new call (`party is shutting down`), so its `/healthz` must not
 * tell a readiness probe or a load balancer it is ready: 503 UNAVAILABLE with `Retry-After`, and
 * `status: "draining"` beside the usual fields, as the gateway answers 503 while it stops.
 *
 * Real parts: a party app on a LevelDB store, reached through app.request.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { PartyStore } from '../store/level.js';
import { createPartyApp } from './app.js';
import { fiveParties, partyDeps } from './test-helpers/five-parties.js';

const dir = mkdtempSync(join(tmpdir(), 'aaps-healthz-draining-'));
const opened: PartyStore[] = [];
afterAll(async () => {
  await Promise.all(opened.map((s) => s.close()));
  rmSync(dir, { recursive: true, force: true });
});

describe('party /healthz while it stops', () => {
  it('is 200 ok while it serves, then 503 UNAVAILABLE (status draining, Retry-After) once it drains', async () => {
    const set = fiveParties();
    const party = await createPartyApp(await partyDeps(set, 0, { dir, stores: opened }));
    const before = await party.app.request('/healthz');
    expect(before.status).toBe(200);
    expect(await before.json()).toMatchObject({ status: 'ok', party: set.roster.parties[0]!.id });
    await party.drain(1000);
    const after = await party.app.request('/healthz');
    expect(after.status).toBe(503);
    expect(after.headers.get('retry-after')).toBe('1');
    expect(await after.json()).toMatchObject({
      status: 'draining',
      party: set.roster.parties[0]!.id,
      error: { code: 'UNAVAILABLE', message: 'the party is stopping; retry' },
    });
  });
});
