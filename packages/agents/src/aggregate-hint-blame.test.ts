/**
 * A dealer that signs a wrong decoding hint (commitments, shares and range proofs all correct)
 * is named, and nobody else: the hint fails every receiver's batched check, and it is a public
 * fault of the dealer (`checkPublicDealing` decodes with the hints), so receivers do not complain
 * about it (a complaint would be judged by the shares, which check out, "proving" the honest
 * receiver a liar) and the coordinator names the dealer from its signed dealing alone.
 */

import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  base64Encode,
  concatBytes,
  createAggregationSession,
  dealInput,
  getCiphersuite,
  loadCircuit,
  loadFastBackends,
  ProtocolError,
  type SignedEnvelope,
  signEnvelope,
} from '@aaps/mpc-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runAggregationOverHttp } from './aggregate.js';
import { PartyClient } from './client.js';
import { createPartyApp, type PartyApp } from './party/app.js';
import {
  aggregationParties,
  ChannelKeys,
  SHIPPED_CIRCUITS_DIR,
  type SignedDealing,
  sealShares,
  signDealerPayload,
} from './party/routes/aggregation.js';
import { fiveParties, partyDeps, ROLES } from './party/test-helpers/five-parties.js';
import { frostIdentifier, rosterDigest } from './roster.js';
import type { PartyStore } from './store/level.js';

const dir = mkdtempSync(join(tmpdir(), 'aaps-agg-hint-blame-'));
const set = fiveParties();
const { roster, gatewayKey, keys } = set;
const stores: PartyStore[] = [];
let apps: PartyApp[];

const STRATEGY = 2;
const COSTS = [100, 250, 0, 999, 1];
const rng = (n: number) => new Uint8Array(randomBytes(n));
const idOf = (i: number) => roster.parties[i]!.id;
const identifierOf = (i: number) => frostIdentifier(roster, roster.parties[i]!);

/** Strategy's own agg.deal answer replaced by a correct dealing whose hint for C_1 is spoiled. */
async function badHintDeal(res: Response, sessionId: string): Promise<Response> {
  const party = STRATEGY;
  const env = (await res.json()) as SignedEnvelope<{ body: Record<string, unknown> }>;
  const { signature: _drop, ...meta } = env.meta as typeof env.meta & { signature?: string };
  const circuit = loadCircuit(
    JSON.parse(readFileSync(join(SHIPPED_CIRCUITS_DIR, 'cost-total.json'), 'utf8')),
  );
  const session = createAggregationSession(getCiphersuite(roster.ciphersuite), {
    circuit,
    sessionId,
    threshold: roster.threshold.min,
    parties: aggregationParties(roster),
  });
  const d = dealInput(session, { input: 'cost.strategy', dealer: identifierOf(party), value: 7 }, rng);
  const hints = concatBytes(...(d.hints ?? []));
  hints[32] = hints[32]! ^ 1; // the hint of C_1: one bit off; C_1 itself is right
  const own = JSON.parse((env.payload.body.dealing as SignedDealing).payload) as Record<string, unknown>;
  const payload = JSON.stringify({
    ...own,
    commitments: base64Encode(concatBytes(...d.commitments)),
    hints: base64Encode(hints),
    proofs: [d.rangeProof ? base64Encode(d.rangeProof) : null],
  });
  const channels = new ChannelKeys(keys[party]!, idOf(party));
  const body = {
    dealing: signDealerPayload(keys[party]!, payload),
    sealed: roster.parties.map((receiver) =>
      sealShares({
        identity: keys[party]!,
        channels,
        session: sessionId,
        dealer: idOf(party),
        receiver,
        rosterDigest: rosterDigest(roster),
        payload,
        shares: [d.shares[frostIdentifier(roster, receiver)]!],
      }),
    ),
  };
  const forged = signEnvelope(
    { ...env, meta, payload: { ...env.payload, body } } as never,
    keys[party]!.secretKey,
  );
  return new Response(JSON.stringify(forged), {
    status: 200,
    headers: { 'content-type': 'application/json' },
  });
}

const fetchApp: typeof fetch = async (input, init) => {
  const url = new URL(String(input));
  const i = roster.parties.findIndex((p) => new URL(p.url).host === url.host);
  const res = await apps[i]!.app.request(url.pathname, init);
  if (i === STRATEGY && url.pathname === '/v1/agg/deal' && res.ok) {
    const request = JSON.parse(String(init?.body)) as { payload: { session_id: string } };
    return badHintDeal(res, request.payload.session_id);
  }
  return res;
};

beforeAll(async () => {
  await loadFastBackends();
  apps = await Promise.all(
    ROLES.map(async (_, i) => createPartyApp(await partyDeps(set, i, { dir, stores }))),
  );
});

afterAll(async () => {
  await Promise.all(stores.map((s) => s.close()));
  rmSync(dir, { recursive: true, force: true });
});

describe('aggregation: a dealer with a spoiled decoding hint', () => {
  it('is the only party named; no honest receiver is "proven" a liar', async () => {
    const client = new PartyClient({ roster, caller: { id: 'gateway', key: gatewayKey }, fetch: fetchApp });
    const e = await runAggregationOverHttp(client, {
      circuitId: 'cost-total',
      sessionId: 'bad-hint',
      inputs: Object.fromEntries(roster.parties.map((p, i) => [p.id, COSTS[i]!])),
    }).then(
      () => expect.unreachable('the round cannot open with a dealing every receiver refuses'),
      (x: unknown) => x,
    );
    expect(e).toBeInstanceOf(ProtocolError);
    const err = e as ProtocolError;
    // Only the dealer that published the bad hint may be named.
    expect(err.details['parties']).toEqual([idOf(STRATEGY)]);
  });
});
