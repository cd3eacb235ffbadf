/**
 * A DKG participant that misbehaves in round 2 towards one peer only: party 2 (an attacker holding
 * its own identity key) answers round 2 with its box for party 1 left out, or signed for another
 * receiver. The coordinator checks every outbox before relaying (`coordinate.ts`): it names party
 * 2 and runs no round 3. Before that check, party 1's round 3 failed naming no one ("expected 4
 * packages", or "the relay changed or forged it") while the others took the key.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type AapsError, getCiphersuite, identifierFromNumber, type SignedEnvelope } from '@aaps/mpc-core';
import { afterAll, describe, expect, it } from 'vitest';
import { PartyClient } from '../../client.js';
import { runDkgOverHttp } from '../../coordinate.js';
import { makeResponse, type RpcRequestPayload } from '../../rpc.js';
import type { PartyStore } from '../../store/level.js';
import { createPartyApp, type PartyApp } from '../app.js';
import { fiveParties, partyDeps } from '../test-helpers/five-parties.js';
import type { SealedItem } from './sealed.js';

const suite = getCiphersuite('FROST-ED25519-SHA512-v1');
const dir = mkdtempSync(join(tmpdir(), 'aaps-review-dkg-'));
const stores: PartyStore[] = [];

afterAll(async () => {
  await Promise.all(stores.map((s) => s.close()));
  rmSync(dir, { recursive: true, force: true });
});

/** Five key-less parties and a client whose fetch lets party `bad` rewrite its round-2 answer. */
async function setUp(bad: number, rewrite: (sealed: SealedItem[], victim: string) => SealedItem[]) {
  const set = fiveParties();
  const apps: PartyApp[] = [];
  for (let i = 0; i < 5; i++) apps.push(await createPartyApp(await partyDeps(set, i, { dir, stores })));
  const victim = set.roster.parties[1]!.id;
  const fetch = async (url: URL | string, init?: RequestInit) => {
    const u = new URL(String(url));
    const i = set.roster.parties.findIndex((p) => new URL(p.url).host === u.host);
    const res = await apps[i]!.app.request(u.pathname, init);
    if (i !== bad || !u.pathname.endsWith('/dkg/round2') || res.status !== 200) return res;
    // The attacker controls its own process: it signs whatever answer it likes.
    const request = JSON.parse(String(init!.body)) as SignedEnvelope<RpcRequestPayload>;
    const answer = (await res.json()) as { payload: { body: { sealed: SealedItem[] } } };
    const body = { sealed: rewrite(answer.payload.body.sealed, victim) };
    const forged = makeResponse({ id: set.roster.parties[bad]!.id, key: set.keys[bad]! }, request, body);
    return new Response(JSON.stringify(forged), { headers: { 'content-type': 'application/json' } });
  };
  const client = new PartyClient({
    roster: set.roster,
    caller: { id: 'gateway', key: set.gatewayKey },
    timeoutMs: 30_000,
    fetch: fetch as typeof globalThis.fetch,
  });
  return { set, apps, client };
}

/** Who the error names: its culprits, or those a party claimed (the client keeps them apart). */
const named = (e: AapsError): unknown[] => [
  ...((e as { culprits?: unknown[] }).culprits ?? []),
  ...(((e.details as { claimed_culprits?: unknown[] } | undefined)?.claimed_culprits ?? []) as unknown[]),
];

async function dkgError(client: PartyClient, session: string): Promise<AapsError> {
  try {
    await runDkgOverHttp(client, suite, { sessionId: session });
  } catch (e) {
    return e as AapsError;
  }
  throw new Error('the DKG succeeded');
}

describe('a DKG participant that withholds or mis-seals one round-2 box', () => {
  it('withheld box: the coordinator names the sender before any party takes the key', async () => {
    const { apps, client } = await setUp(2, (sealed, victim) => sealed.filter((s) => s.party !== victim));
    const err = await dkgError(client, 'withhold');
    // Party 2 (identifier 3) is the culprit: the coordinator saw its answer lacked a box for party 1.
    expect(named(err)).toContain(identifierFromNumber(suite, 3));
    // Found before round 3: nobody holds a key of a DKG that failed.
    expect(apps.map((a) => a.state.key !== undefined)).toEqual([false, false, false, false, false]);
    // No round 3 ran: no party even holds the key pending.
    expect(apps.map((a) => a.state.pending !== undefined)).toEqual([false, false, false, false, false]);
  });

  it('box sealed under another binding: the coordinator names the sender, not "the relay"', async () => {
    // Party 2 sends party 1 its box for party 0 re-labelled (its signature is over party 0's AAD).
    const { apps, client } = await setUp(2, (sealed, victim) => {
      const other = sealed.find((s) => s.party !== victim)!;
      return sealed.map((s) => (s.party === victim ? { ...other, party: victim } : s));
    });
    const err = await dkgError(client, 'mis-seal');
    expect(err.message).not.toContain('the relay changed or forged it');
    expect(named(err)).toContain(identifierFromNumber(suite, 3));
    expect(apps.map((a) => a.state.key !== undefined)).toEqual([false, false, false, false, false]);
    // No round 3 ran: no party even holds the key pending.
    expect(apps.map((a) => a.state.pending !== undefined)).toEqual([false, false, false, false, false]);
  });
});
