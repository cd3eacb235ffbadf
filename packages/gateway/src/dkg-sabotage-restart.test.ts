/**
 * A first DKG one party sabotages leaves no key anywhere, so the next start cannot take it as the
 * group key and be held hostage by that party.
 *
 * 3-of-5 party apps on real HTTP ports, driven by the gateway's `runDkg` (what `aaps gateway` /
 * `aaps up` run at start-up). Party 2 (the attacker: its own process and identity key only) seals
 * garbage round-2 shares to parties 0 and 1. Their round 3 refuses (naming party 2); parties 2, 3, 4
 * verified theirs but keep it pending: with no statement from 0 and 1 nobody commits. Before the
 * two-phase commit, 2, 3 and 4 installed the key; the next start took it (k holders) and tried to
 * repair 0 and 1 from helpers 2, 3, 4, and party 2 refused to help: every start failed.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { PartyStore } from '@aaps/agents';
import {
  bytesToHex,
  DkgRound2PackageCodec,
  getCiphersuite,
  identifierFromNumber,
  SecretBytes,
  type SignedEnvelope,
} from '@aaps/mpc-core';
import { afterAll, describe, expect, it } from 'vitest';
import { round1Digest, type SealedItem, sealFor } from '../../agents/src/party/routes/sealed.js';
import {
  type LoopbackServer,
  loopbackParties,
  partyErrorResponse,
} from '../../agents/src/party/test-helpers/five-parties.js';
import { makeResponse, type RpcRequestPayload } from '../../agents/src/rpc.js';
import { runDkg } from './coordinator-http.js';

const suite = getCiphersuite('FROST-ED25519-SHA512-v1');
const dir = mkdtempSync(join(tmpdir(), 'aaps-review-dkg-hostage-'));
const stores: PartyStore[] = [];
const servers: LoopbackServer[] = [];

afterAll(async () => {
  for (const s of servers) s.close();
  await Promise.all(stores.map((s) => s.close()));
  rmSync(dir, { recursive: true, force: true });
});

describe('a first DKG sabotaged by one party', () => {
  it('the next start does not hand the group key to the saboteur', async () => {
    const BAD = 2;
    const { set, deps, apps, handlers } = await loopbackParties({ dir, stores, servers });
    const victims = [set.roster.parties[0]!, set.roster.parties[1]!];
    let ownDigest = '';
    let sabotage = true;
    for (let i = 0; i < 5; i++) {
      handlers[i] = async (req) => {
        const path = new URL(req.url).pathname;
        if (i !== BAD) return apps[i]!.app.fetch(req);
        const text = await req.text();
        // The saboteur itself refuses (signed by it) to help any repair.
        if (path.startsWith('/v1/repair/'))
          return partyErrorResponse(set, i, text, 403, { error: { code: 'FORBIDDEN', message: 'no' } });
        const res = await apps[i]!.app.request(path, { method: 'POST', headers: req.headers, body: text });
        if (res.status !== 200) return res;
        if (path === '/v1/dkg/round1') {
          const json = (await res.clone().json()) as { payload: { body: { package: unknown } } };
          ownDigest = round1Digest(json.payload.body.package);
          return res;
        }
        if (path !== '/v1/dkg/round2' || !sabotage) return res;
        const request = JSON.parse(text) as SignedEnvelope<RpcRequestPayload>;
        const answer = (await res.json()) as { payload: { body: { sealed: SealedItem[] } } };
        const sealed = answer.payload.body.sealed.map((item) => {
          const to = victims.find((v) => v.id === item.party);
          if (!to) return item;
          return sealFor(
            deps[BAD]!,
            'dkg',
            request.payload.session_id,
            to,
            DkgRound2PackageCodec,
            {
              sender: identifierFromNumber(suite, BAD + 1),
              receiver: identifierFromNumber(suite, to.index),
              signingShare: new SecretBytes(suite.field.toBytes(777n)),
            },
            ownDigest,
          );
        });
        const forged = makeResponse({ id: set.roster.parties[BAD]!.id, key: set.keys[BAD]! }, request, {
          sealed,
        });
        return Response.json(forged);
      };
    }
    const gatewayKey = set.gatewayKey;
    const dataDir = mkdtempSync(join(dir, 'gw-'));
    const log: string[] = [];
    const start = () => runDkg({ roster: set.roster, gatewayKey, dataDir, log: (l) => log.push(l) });

    const named = { details: { claimed_culprits: [identifierFromNumber(suite, BAD + 1)] } };
    // First start: the DKG fails at parties 0 and 1, which name party 2; nobody holds its key.
    await expect(start()).rejects.toMatchObject(named);
    expect(apps.map((a) => a.state.key)).toEqual([undefined, undefined, undefined, undefined, undefined]);
    // The key 2, 3 and 4 verified is pending there, and no start commits it (0 and 1 never vouched).
    expect(apps.map((a) => a.state.pending !== undefined)).toEqual([false, false, true, true, true]);
    // Second start, the attacker still at it: a new DKG, which fails naming it again (it is not
    // the key of the first, held to ransom by a repair party 2 refuses).
    await expect(start()).rejects.toMatchObject(named);
    expect(apps.map((a) => a.state.key)).toEqual([undefined, undefined, undefined, undefined, undefined]);
    // Once it deals honestly (or is replaced), a start gets every party one key.
    sabotage = false;
    let third: unknown;
    try {
      await start();
    } catch (e) {
      third = e;
    }
    expect(third, `log:\n${log.join('\n')}`).toBeUndefined();
    const keys = new Set(
      apps.map((a) => a.state.key && bytesToHex(a.state.key.publicPackage.groupPublicKey)),
    );
    expect(keys.size).toBe(1);
    expect([...keys][0]).toBeDefined();
    expect(apps.map((a) => a.state.pending)).toEqual([undefined, undefined, undefined, undefined, undefined]);
  }, 60_000);
});
