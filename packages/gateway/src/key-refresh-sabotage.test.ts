/**
 * One malicious party cannot split the honest parties across share epochs with a refresh.
 *
 * 3-of-5. Party 2 (the attacker, holding only its own identity key and share) deals honest
 * round-2 zero shares to parties 3 and 4 and garbage (correctly sealed and signed by itself) to
 * parties 0 and 1, and refuses to help any repair. Parties 0 and 1 refuse the refresh (naming
 * party 2); 2, 3 and 4 verified theirs but keep it pending, and with no statement from 0 and 1
 * nobody commits: every party keeps its old share. Before the two-phase commit, 2, 3 and 4
 * applied it at once (k of them), the gateway tried to repair 0 and 1 from 2, 3, 4, party 2
 * refused, and no three honest parties held shares of one sharing.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PartyClient, type PartyStore } from '@aaps/agents';
import {
  canonicalize,
  getCiphersuite,
  PublicKeyPackageCodec,
  RefreshRound2PackageCodec,
  SecretBytes,
  type SignedEnvelope,
  trustedDealer,
} from '@aaps/mpc-core';
import { afterAll, describe, expect, it } from 'vitest';
import { round1Digest, type SealedItem, sealFor } from '../../agents/src/party/routes/sealed.js';
import {
  fiveParties,
  partyAppsWithKeys,
  partyErrorResponse,
} from '../../agents/src/party/test-helpers/five-parties.js';
import { makeResponse, type RpcRequestPayload } from '../../agents/src/rpc.js';
import { refreshAcrossParties } from './key-refresh.js';

const suite = getCiphersuite('FROST-ED25519-SHA512-v1');
const dir = mkdtempSync(join(tmpdir(), 'aaps-review-hostage-'));
const stores: PartyStore[] = [];

afterAll(async () => {
  await Promise.all(stores.map((s) => s.close()));
  rmSync(dir, { recursive: true, force: true });
});

describe('a refresh one party turns against the others', () => {
  it('after the refresh, k honest parties still hold shares of one sharing', async () => {
    const set = fiveParties();
    const dealt = trustedDealer(suite, set.roster.threshold);
    const { apps, deps } = await partyAppsWithKeys(set, () => dealt, { dir, stores });
    const BAD = 2;
    const victims = [set.roster.parties[0]!, set.roster.parties[1]!];
    let ownDigest = '';
    const resign = (init: RequestInit | undefined, body: Record<string, unknown>) => {
      const request = JSON.parse(String(init!.body)) as SignedEnvelope<RpcRequestPayload>;
      const forged = makeResponse({ id: set.roster.parties[BAD]!.id, key: set.keys[BAD]! }, request, body);
      return new Response(JSON.stringify(forged), { headers: { 'content-type': 'application/json' } });
    };
    const fetch = async (url: URL | string, init?: RequestInit) => {
      const u = new URL(String(url));
      const i = set.roster.parties.findIndex((p) => new URL(p.url).host === u.host);
      if (i === BAD && u.pathname.startsWith('/v1/repair/')) {
        // The attacker (the party itself, signing) does not help repair anyone.
        return partyErrorResponse(set, i, String(init?.body), 403, {
          error: { code: 'FORBIDDEN', message: 'no' },
        });
      }
      const res = await apps[i]!.app.request(u.pathname, init);
      if (i !== BAD || res.status !== 200) return res;
      if (u.pathname === '/v1/refresh/round1') {
        const json = (await res.clone().json()) as { payload: { body: { package: unknown } } };
        ownDigest = round1Digest(json.payload.body.package);
        return res;
      }
      if (u.pathname === '/v1/refresh/round2') {
        const request = JSON.parse(String(init!.body)) as SignedEnvelope<RpcRequestPayload>;
        const answer = (await res.json()) as { payload: { body: { sealed: SealedItem[] } } };
        const sealed = answer.payload.body.sealed.map((item) => {
          const to = victims.find((v) => v.id === item.party);
          if (!to) return item;
          const garbage = {
            sender: dealt.keyPackages[BAD]!.identifier,
            receiver: dealt.keyPackages[set.roster.parties.indexOf(to)]!.identifier,
            zeroShare: new SecretBytes(suite.field.toBytes(12345n)),
          };
          return sealFor(
            deps[BAD]!,
            'refresh',
            request.payload.session_id,
            to,
            RefreshRound2PackageCodec,
            garbage,
            ownDigest,
          );
        });
        return resign(init, { sealed });
      }
      return res;
    };
    const client = new PartyClient({
      roster: set.roster,
      caller: { id: 'gateway', key: set.gatewayKey },
      timeoutMs: 30_000,
      fetch: fetch as typeof globalThis.fetch,
    });
    const lines: string[] = [];
    const outcome = await refreshAcrossParties({
      client,
      roster: set.roster,
      suite,
      current: dealt.publicPackage,
      say: (l) => lines.push(l),
    });
    // What each honest party now holds.
    const honest = [0, 1, 3, 4];
    const held = honest.map((i) =>
      canonicalize(PublicKeyPackageCodec.toJSON(suite.id, apps[i]!.state.key!.publicPackage)),
    );
    const oldText = canonicalize(PublicKeyPackageCodec.toJSON(suite.id, dealt.publicPackage));
    const largest = Math.max(...held.map((t) => held.filter((x) => x === t).length));
    expect(
      largest,
      `honest parties 0,1,3,4 hold ${JSON.stringify(held.map((t) => (t === oldText ? 'old' : 'new')))}; outcome: ${outcome.failed?.message}`,
    ).toBeGreaterThanOrEqual(set.roster.threshold.min);
    // Nobody changed: the refresh failed naming party 2, and every honest party is on the old share.
    expect(held.every((t) => t === oldText)).toBe(true);
    expect(outcome.failed?.details).toMatchObject({ claimed_culprits: [dealt.keyPackages[BAD]!.identifier] });
  });
});
