/**
 * Party error answers review (adversarial pass, O1): a party's signed error answer (`response`,
 * body `{status, error}`) and its signed refusal (`refusal`, body `{refused}`) are each a
 * `ProtocolResponse` signed by the party answering this very request, exactly as its success is.
 * Sent on alone with status 200 by anything on the path, either one passed for the party's
 * success: the coordinator took a checkpoint the party refused as witnessed, and named a party
 * that answered an error to `agg.deal` a proven culprit (its "signed answer" had no dealing).
 * Real party apps in process behind a transport that rewrites one party's error answers.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { getCiphersuite, ProtocolError, trustedDealer } from '@aaps/mpc-core';
import { afterAll, describe, expect, it } from 'vitest';
import { runAggregationOverHttp } from './aggregate.js';
import { PartyClient } from './client.js';
import { createPartyApp, type PartyApp } from './party/app.js';
import { fiveParties, partyAppsWithKeys, partyDeps, ROLES } from './party/test-helpers/five-parties.js';
import { frostIdentifier } from './roster.js';
import type { PartyStore } from './store/level.js';

const dir = mkdtempSync(join(tmpdir(), 'aaps-client-answer-outcome-'));
const stores: PartyStore[] = [];

afterAll(async () => {
  for (const s of stores) await s.close();
  rmSync(dir, { recursive: true, force: true });
});

const set = fiveParties();
const ids = set.roster.parties.map((p) => p.id);

/**
 * The gateway's client of `apps`; party 4's error answers on `path` are rewritten by `lift` (their
 * JSON in, the JSON sent on with status 200 out). `lifted` counts the answers rewritten.
 */
function liftingClient(
  apps: readonly PartyApp[],
  path: string,
  lift: (json: Record<string, unknown>) => unknown,
) {
  const indexOf = new Map(set.roster.parties.map((p, i) => [new URL(p.url).origin, i]));
  const t = { lifted: 0 };
  const client = new PartyClient({
    roster: set.roster,
    caller: { id: 'gateway', key: set.gatewayKey },
    timeoutMs: 60_000,
    fetch: async (url, init) => {
      const i = indexOf.get(url.origin)!;
      const res = await Promise.resolve(apps[i]!.app.request(url.pathname, init as RequestInit));
      if (i !== 4 || url.pathname !== path || res.ok) return res;
      t.lifted++;
      return Response.json(lift((await res.json()) as Record<string, unknown>), { status: 200 });
    },
  });
  return { client, t };
}

/** Five keyed party apps (one trusted dealing). */
const keyedApps = async () => {
  const dealt = trustedDealer(getCiphersuite('FROST-ED25519-SHA512-v1'), set.roster.threshold);
  return (await partyAppsWithKeys(set, () => dealt, { dir, stores })).apps;
};

/** A checkpoint note no group key signed: a keyed party refuses to witness it (`checkpoint.signature`). */
const UNSIGNED_NOTE =
  'aaps.test/outcome\n3\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n\n— aaps.test/outcome AAAA\n';

describe("a party's signed error answer or refusal is not its success", () => {
  it.each([
    ['error answer', 'response', 'w-lifted-error'],
    ['refusal', 'refusal', 'w-lifted-refusal'],
  ] as const)(
    'its signed %s to this request (%s), sent on alone with status 200, is no success',
    async (_, field, requestId) => {
      const apps = await keyedApps();
      const { client, t } = liftingClient(apps, '/v1/checkpoint/witness', (json) => json[field]);
      const out = await client.call(ids[4]!, 'checkpoint.witness', requestId, { note: UNSIGNED_NOTE }).then(
        (body) => ({ resolved: body }),
        (e: unknown) => ({ rejected: e as { code?: string } }),
      );
      expect(t.lifted).toBe(1);
      // The coordinator's witnessCheckpoint takes any success as "witnessed".
      expect(out).not.toHaveProperty('resolved');
    },
  );

  it('a party that answered agg.deal with an error (it is stopping) is not made a proven culprit by its error sent on as a 200 answer', async () => {
    const apps = await Promise.all(
      ROLES.map(async (_, i) => createPartyApp(await partyDeps(set, i, { dir, stores }))),
    );
    await apps[4]!.drain();
    const { client, t } = liftingClient(apps, '/v1/agg/deal', (json) => json.response);
    const e = await runAggregationOverHttp(client, {
      circuitId: 'cost-total',
      sessionId: 'agg-lifted-error',
      inputs: Object.fromEntries(ids.map((id, i) => [id, [100, 250, 0, 999, 1][i]!])),
    }).then(
      () => expect.unreachable('the aggregation was expected to fail: party 4 is stopping'),
      (err: unknown) => err,
    );
    expect(t.lifted).toBe(1);
    expect(e).toBeInstanceOf(ProtocolError);
    // Party 4 answered an error (signed, for this request): no proof it dealt badly.
    expect((e as ProtocolError).culprits).not.toContain(frostIdentifier(set.roster, set.roster.parties[4]!));
  });
});
