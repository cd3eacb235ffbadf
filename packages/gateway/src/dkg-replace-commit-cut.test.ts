/**
 * `aaps up` lets the holders of an unusable share (fewer than k hold a key, no public-package.json)
 * take a new DKG's key by restarting them with allow_key_replace on for that start only; round 3
 * checks the switch. A crash between commits (here: key.commit does not reach the two old holders)
 * leaves them pending, and the next start runs them with the switch off. The commit must not ask
 * for the switch again (it takes effect only over the key round 3 saw): the next start finishes it,
 * where it used to be FORBIDDEN and every start refused with two group keys among the parties.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { PartyStore } from '@aaps/agents';
import { bytesToHex, getCiphersuite, trustedDealer } from '@aaps/mpc-core';
import { afterAll, describe, expect, it } from 'vitest';
import { createPartyApp } from '../../agents/src/party/app.js';
import {
  type LoopbackServer,
  loopbackParties,
  saveDealtKey,
} from '../../agents/src/party/test-helpers/five-parties.js';
import { runDkg } from './coordinator-http.js';

const suite = getCiphersuite('FROST-ED25519-SHA512-v1');
const dir = mkdtempSync(join(tmpdir(), 'aaps-dkg-replace-commit-cut-'));
const stores: PartyStore[] = [];
const servers: LoopbackServer[] = [];

afterAll(async () => {
  for (const s of servers) s.close();
  await Promise.all(stores.map((s) => s.close()));
  rmSync(dir, { recursive: true, force: true });
});

describe('a replacing DKG whose commit a crash cut short at the old holders', () => {
  it('the next start (switch off again) finishes it', async () => {
    // Parties 0 and 1 hold a share of an old key (2 < k = 3): unusable, a DKG replaces it.
    let dealt: ReturnType<typeof trustedDealer> | undefined;
    const { set, deps, apps, handlers } = await loopbackParties({
      dir,
      stores,
      servers,
      prepare: async (d, i, parties) => {
        dealt ??= trustedDealer(suite, parties.roster.threshold);
        if (i < 2) await saveDealtKey(d.store, parties, dealt, i);
      },
    });
    let crash = true;
    for (let i = 0; i < 5; i++) {
      handlers[i] = async (req) => {
        const path = new URL(req.url).pathname;
        // The crash: the commits to the old holders never arrive.
        if (crash && i < 2 && path === '/v1/key/commit')
          return Response.json({ error: { code: 'UNAVAILABLE', message: 'gone' } }, { status: 503 });
        return apps[i]!.app.fetch(req);
      };
    }
    // What `aaps up` does: restart the holders with the switch on, then off again.
    const setSwitch = async (ids: readonly string[], on: boolean) => {
      for (const id of ids) {
        const i = set.roster.parties.findIndex((p) => p.id === id);
        deps[i] = { ...deps[i]!, config: { ...deps[i]!.config, allowKeyReplace: on } };
        apps[i] = await createPartyApp(deps[i]!);
      }
    };
    const dataDir = mkdtempSync(join(dir, 'gw-'));
    const log: string[] = [];
    const start = () =>
      runDkg({
        roster: set.roster,
        gatewayKey: set.gatewayKey,
        dataDir,
        log: (l) => log.push(l),
        allowReplace: async (holders) => {
          await setSwitch(holders, true);
          return () => setSwitch(holders, false);
        },
      });

    await expect(start()).rejects.toThrow();
    // Parties 2-4 took the new key; 0 and 1 verified it (pending, replace: true) but missed the commit.
    expect(apps.map((a) => a.state.pending !== undefined)).toEqual([true, true, false, false, false]);
    // A fresh start after the crash: the parties run with their own setting (off).
    for (let i = 0; i < 2; i++) apps[i] = await createPartyApp(deps[i]!);
    crash = false;
    let second: unknown;
    try {
      await start();
    } catch (e) {
      second = e;
    }
    expect(second, `log:\n${log.join('\n')}`).toBeUndefined();
    const keys = new Set(
      apps.map((a) => a.state.key && bytesToHex(a.state.key.publicPackage.groupPublicKey)),
    );
    expect(keys.size).toBe(1);
  }, 60_000);
});
