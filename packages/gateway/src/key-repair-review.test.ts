/**
 * Review of the operator's key repair (`repairParties`, `POST /v1/keys/repair`): a repair needs
 * only the parties repaired and k holders, so one other party's answer must not stop it.
 * - 3-of-5, parties 1-4 hold the key, party 0 lost it; party 4 answers `key.info` with a signed
 *   answer that holds no public package (a buggy or hostile party): party 0 is still repaired by
 *   parties 1-3 (before, the gateway failed the whole repair: '$: undefined is not JSON', a 400 as
 *   if the operator's request were bad).
 * - A party on another sharing of the group key, found by a signing that went on without it, is
 *   repaired in the background (stale-sharing.ts); a `keys refresh` asked meanwhile must not leave
 *   that repair to land after it: its last step would put the package from before the refresh
 *   back at the party, which then no longer signs with the others.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { makeResponse, memoryLogger, type PartyStore } from '@aaps/agents';
import {
  applyRefresh,
  bytesToHex,
  canonicalize,
  getCiphersuite,
  PublicKeyPackageCodec,
  refreshDealer,
  trustedDealer,
} from '@aaps/mpc-core';
import { afterAll, describe, expect, it } from 'vitest';
import {
  fiveParties,
  inProcessClient,
  partyAppsWithKeys,
} from '../../agents/src/party/test-helpers/five-parties.js';
import { createHttpCoordinator } from './coordinator-http.js';
import { repairParties } from './key-repair.js';

const suite = getCiphersuite('FROST-ED25519-SHA512-v1');
const dir = mkdtempSync(join(tmpdir(), 'aaps-repair-review-'));
const stores: PartyStore[] = [];

afterAll(async () => {
  await Promise.all(stores.map((s) => s.close()));
  rmSync(dir, { recursive: true, force: true });
});

describe('repair while another party answers key.info without a package', () => {
  it('repairs the lost party from the three holders, the odd answer counted as no answer', async () => {
    const set = fiveParties();
    const dealt = trustedDealer(suite, set.roster.threshold);
    const { apps } = await partyAppsWithKeys(set, (i) => (i !== 0 ? dealt : undefined), { dir, stores });
    const ids = set.roster.parties.map((p) => p.id);
    const client = inProcessClient(set, apps, {
      timeoutMs: 30_000,
      // Party 4 signs an answer to key.info that carries its group key but no public package.
      intercept: (i, path, init) => {
        if (i !== 4 || path !== '/v1/key/info') return undefined;
        const request = JSON.parse(String(init?.body));
        return Response.json(
          makeResponse({ id: ids[4]!, key: set.keys[4]! }, request, {
            group_public_key: bytesToHex(dealt.publicPackage.groupPublicKey),
          }),
        );
      },
    });
    const said: string[] = [];
    const out = await repairParties({
      client,
      roster: set.roster,
      publicPackage: PublicKeyPackageCodec.toJSON(suite.id, dealt.publicPackage),
      groupKey: bytesToHex(dealt.publicPackage.groupPublicKey),
      parties: [ids[0]!],
      session: 'review-survey',
      say: (l) => said.push(l),
    });
    expect(out.repaired, `${JSON.stringify(out.failed)}\n${said.join('\n')}`).toEqual([ids[0]]);
    expect(apps[0]!.state.key).toBeDefined();
  }, 30_000);
});

describe('a background repair of a stale party and a refresh asked meanwhile', () => {
  it('leaves every party on the refreshed package', async () => {
    const set = fiveParties({ url: (i) => `http://race-${i}.test` });
    const dealt = trustedDealer(suite, set.roster.threshold);
    // A second sharing of the same group key: parties 1-4 hold it, party 0 the dealer's (stale).
    const zero = refreshDealer(
      suite,
      dealt.publicPackage,
      dealt.keyPackages.map((k) => k.identifier),
    );
    const fresh = dealt.keyPackages.map((kp, i) =>
      applyRefresh(suite, kp, dealt.publicPackage, zero.shares[i]!),
    );
    const current = { keyPackages: fresh.map((f) => f.keyPackage), publicPackage: zero.publicPackage };
    const { apps } = await partyAppsWithKeys(set, (i) => (i === 0 ? dealt : current), { dir, stores });
    const ids = set.roster.parties.map((p) => p.id);
    const stale = ids[0]!;
    const indexOf = new Map(set.roster.parties.map((p, i) => [new URL(p.url).origin, i]));
    // The first repair step 3 (the background repair's) is held until the test lets it go.
    let held: (() => void) | undefined;
    let heldSeen: () => void = () => {};
    const stepHeld = new Promise<void>((resolve) => {
      heldSeen = resolve;
    });
    let holding = true;
    let heldAnswered: () => void = () => {};
    const answered = new Promise<void>((resolve) => {
      heldAnswered = resolve;
    });
    const fetchTo: typeof fetch = async (input, init) => {
      const url = new URL(String(input instanceof Request ? input.url : input));
      const i = indexOf.get(url.origin)!;
      if (holding && url.pathname === '/v1/repair/step3') {
        holding = false;
        await new Promise<void>((resolve) => {
          held = resolve;
          heldSeen();
        });
        const res = await apps[i]!.app.request(url.pathname, init as RequestInit);
        heldAnswered();
        return res;
      }
      return apps[i]!.app.request(url.pathname, init as RequestInit);
    };
    const logger = memoryLogger();
    const coordinator = createHttpCoordinator({
      roster: set.roster,
      gatewayKey: set.gatewayKey,
      publicPackage: PublicKeyPackageCodec.toJSON(suite.id, current.publicPackage),
      logger,
      timeoutMs: 30_000,
      fetch: fetchTo,
    });
    // Signings until one asks the stale party (its share fails; k others sign all the same).
    const rootHash = new Uint8Array(32);
    for (let n = 1; n <= 20 && held === undefined; n++) {
      const r = await coordinator.signCheckpoint({ origin: 'aaps.test/race', treeSize: 1, rootHash });
      if (r.misbehaved.some((m) => m.party === stale)) await stepHeld;
    }
    expect(held, logger.lines.join('\n')).toBeDefined();
    // The operator refreshes while that repair is under way (run, or refused while it runs).
    const refreshed = await coordinator.refreshKeys!({ reason: 'schedule' }).then(
      () => 'refreshed',
      (e: unknown) => (e instanceof Error ? e.message : String(e)),
    );
    held!();
    // The background repair's last step reaches the party.
    await answered;
    const packages = apps.map((a) =>
      canonicalize(PublicKeyPackageCodec.toJSON(suite.id, a.state.key!.publicPackage)),
    );
    const gateway = canonicalize((await coordinator.keys()).parties.map((p) => p.verifying_share));
    const partyShares = canonicalize(apps.map((a) => bytesToHex(a.state.key!.keyPackage.verifyingShare)));
    // Whether the refresh ran or was refused, every party and the gateway are on one package.
    expect(new Set(packages).size, refreshed).toBe(1);
    expect(partyShares).toBe(gateway);
  }, 30_000);
});
