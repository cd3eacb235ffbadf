/**
 * Round-1 packages (DKG, refresh) are signed by their sender and checked by every receiver, like
 * the sealed round-2 shares. A relay that shows a party a package of its own making in place of a
 * peer's (a valid proof of knowledge under any identifier is easy to make) is refused as an
 * inconsistent transcript that names no one, in round 2 and in round 3: the peer, whose signed
 * share matches the package it really sent, is not blamed. Round-2 shares are bound to their
 * sender's own round-1 package, so a share shown with another package the sender signed (a relay
 * that asked it for round 1 twice) blames no one either; a share that fails against the package
 * its sender signed and bound it to names the sender.
 */

import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  DkgRound1PackageCodec,
  DkgRound2PackageCodec,
  dkgRound1,
  getCiphersuite,
  identifierFromNumber,
  RefreshRound1PackageCodec,
  refreshRound1,
  SecretBytes,
} from '@aaps/mpc-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runDkgOverHttp } from '../../coordinate.js';
import { rosterDigest } from '../../roster.js';
import type { RpcKind } from '../../rpc.js';
import type { PartyStore } from '../../store/level.js';
import { createPartyApp, type PartyApp } from '../app.js';
import {
  coordinatorCall,
  type FiveParties,
  fiveParties,
  inProcessClient,
  type PartyAnswer,
  partyDeps,
} from '../test-helpers/five-parties.js';
import { round1Digest, type SealedItem, type SignedRound1, sealFor } from './sealed.js';

const suite = getCiphersuite('FROST-ED25519-SHA512-v1');
let dir: string;
const stores: PartyStore[] = [];
let set: FiveParties;
let apps: PartyApp[];
const id = (i: number) => set.roster.parties[i]!.id;
const fid = (i: number) => identifierFromNumber(suite, i + 1);

/** A call to party `i` as the coordinator makes it. */
const call = (
  i: number,
  kind: RpcKind,
  session: string,
  body: Record<string, unknown>,
): Promise<PartyAnswer> => coordinatorCall(set, apps, i, kind, session, body);

/** Fresh parties without keys (a DKG takes each party once). */
async function freshParties(): Promise<void> {
  apps = [];
  for (let i = 0; i < 5; i++) apps.push(await createPartyApp(await partyDeps(set, i, { dir, stores })));
}

/** Round 1 at every party: the signed packages as answered. */
async function round1(
  kind: RpcKind,
  session: string,
  body: Record<string, unknown>,
): Promise<SignedRound1[]> {
  const out: SignedRound1[] = [];
  for (let i = 0; i < 5; i++) {
    const r = await call(i, kind, session, body);
    expect(r.status, `round 1 at ${i}`).toBe(200);
    expect(typeof r.body.signature).toBe('string');
    out.push({ package: r.body.package, signature: r.body.signature as string });
  }
  return out;
}

/** Round 2 at every party, party i shown `seenBy(i)`; the sealed shares routed to their receivers. */
async function round2(
  kind: RpcKind,
  session: string,
  seenBy: (i: number) => unknown[],
): Promise<Map<string, SealedItem[]>> {
  const inbox = new Map<string, SealedItem[]>();
  for (let i = 0; i < 5; i++) {
    const r = await call(i, kind, session, { round1_packages: seenBy(i) });
    expect(r.status, `round 2 at ${i}`).toBe(200);
    for (const item of r.body.sealed as SealedItem[]) {
      const list = inbox.get(item.party) ?? [];
      list.push({ party: id(i), box: item.box, sig: item.sig });
      inbox.set(item.party, list);
    }
  }
  return inbox;
}

const dkgStart = () => ({ threshold: set.roster.threshold, roster_digest: rosterDigest(set.roster) });

/** A DKG round-1 package of the test's own making under party `i`'s identifier. */
const madeUpDkg = (i: number) =>
  DkgRound1PackageCodec.toJSON(
    suite.id,
    dkgRound1(suite, { identifier: fid(i), threshold: set.roster.threshold }).package,
  );

const replaced = (list: SignedRound1[], i: number, item: SignedRound1) =>
  list.map((p, j) => (j === i ? item : p));

function expectRelayBlamed(r: PartyAnswer): void {
  expect(r.status).not.toBe(200);
  expect(r.error?.code).toBe('INCONSISTENT_TRANSCRIPT');
  expect(r.error?.culprits ?? []).toEqual([]);
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'aaps-round1-signatures-'));
  set = fiveParties();
});

afterAll(async () => {
  await Promise.all(stores.map((s) => s.close()));
  rmSync(dir, { recursive: true, force: true });
});

describe('DKG round-1 packages', () => {
  it('a package the relay swapped in round 2 is refused with no one blamed, and round 2 can still run', async () => {
    await freshParties();
    const packages = await round1('dkg.round1', 'swap-r2', dkgStart());
    const forgeries = {
      'party 4 signature': { package: madeUpDkg(4), signature: packages[4]!.signature },
      unsigned: { package: madeUpDkg(4) } as SignedRound1,
      'party 3 signature': { package: packages[4]!.package, signature: packages[3]!.signature },
    };
    for (const [name, forged] of Object.entries(forgeries)) {
      const r = await call(0, 'dkg.round2', 'swap-r2', { round1_packages: replaced(packages, 4, forged) });
      expect(r.error?.message, name).toMatch(/not signed by|carries no signature/);
      expectRelayBlamed(r);
    }
    const all = await call(0, 'dkg.round2', 'swap-r2', { round1_packages: packages });
    expect(all.status).toBe(200);
  });

  it('a package swapped between round 2 and round 3 is refused with no one blamed', async () => {
    await freshParties();
    const packages = await round1('dkg.round1', 'swap-r3', dkgStart());
    const inbox = await round2('dkg.round2', 'swap-r3', () => packages);
    const forged = { package: madeUpDkg(4), signature: packages[4]!.signature };
    const r3 = await call(0, 'dkg.round3', 'swap-r3', {
      round1_packages: replaced(packages, 4, forged),
      sealed: inbox.get(id(0)),
    });
    expectRelayBlamed(r3);
    expect(r3.error?.culprits ?? []).not.toContain(fid(4));
  });

  it('a package signed for another session is refused', async () => {
    await freshParties();
    const packages = await round1('dkg.round1', 'session-a', dkgStart());
    const other = await call(4, 'dkg.round1', 'session-b', dkgStart());
    expect(other.status).toBe(200);
    const r = await call(0, 'dkg.round2', 'session-a', {
      round1_packages: replaced(packages, 4, other.body as unknown as SignedRound1),
    });
    expectRelayBlamed(r);
  });

  it('two packages a party signed for one session (asked twice): a share shown with the other blames no one', async () => {
    await freshParties();
    const first = await round1('dkg.round1', 'asked-twice', dkgStart());
    // The relay asks party 4 for round 1 again: a second package, signed as honestly as the first.
    const again = await call(4, 'dkg.round1', 'asked-twice', dkgStart());
    expect(again.status).toBe(200);
    const second = again.body as unknown as SignedRound1;
    // Party 4's shares come from its second polynomial; party 0 is shown its first package.
    const inbox = await round2('dkg.round2', 'asked-twice', (i) =>
      i === 4 ? first : i === 0 ? first : replaced(first, 4, second),
    );
    const r3 = await call(0, 'dkg.round3', 'asked-twice', {
      round1_packages: first,
      sealed: inbox.get(id(0)),
    });
    expectRelayBlamed(r3);
  });

  it('a share that fails against the package its sender signed and bound it to names the sender', async () => {
    await freshParties();
    const packages = await round1('dkg.round1', 'bad-share', dkgStart());
    const inbox = await round2('dkg.round2', 'bad-share', () => packages);
    // Party 4 (with its own keys, as only it could) sends party 0 a share that is not its
    // polynomial's, sealed and signed with its own round-1 package bound in.
    const four = await partyDeps(set, 4, { dir, stores });
    const wrong = sealFor(
      four,
      'dkg',
      'bad-share',
      set.roster.parties[0]!,
      DkgRound2PackageCodec,
      {
        sender: fid(4),
        receiver: fid(0),
        signingShare: new SecretBytes(suite.field.toBytes(suite.field.random(randomBytes))),
      },
      round1Digest(packages[4]!.package),
    );
    const sealed = (inbox.get(id(0)) ?? []).map((item) =>
      item.party === id(4) ? { ...wrong, party: id(4) } : item,
    );
    const r3 = await call(0, 'dkg.round3', 'bad-share', { round1_packages: packages, sealed });
    expect(r3.status).not.toBe(200);
    expect(r3.error?.code).toBe('INVALID_SECRET_SHARE');
    expect(r3.error?.culprits).toEqual([fid(4)]);
  });
});

describe('refresh round-1 packages', () => {
  it('a package the relay swapped is refused in round 2 and round 3 with no one blamed', async () => {
    await freshParties();
    await runDkgOverHttp(inProcessClient(set, apps), suite, { sessionId: 'keys' });
    const packages = await round1('refresh.round1', 'rf-swap', {});
    const forged = {
      package: RefreshRound1PackageCodec.toJSON(
        suite.id,
        refreshRound1(suite, { identifier: fid(4), threshold: set.roster.threshold }).package,
      ),
      signature: packages[4]!.signature,
    };
    expectRelayBlamed(
      await call(0, 'refresh.round2', 'rf-swap', { round1_packages: replaced(packages, 4, forged) }),
    );
    const inbox = await round2('refresh.round2', 'rf-swap', () => packages);
    expectRelayBlamed(
      await call(0, 'refresh.round3', 'rf-swap', {
        round1_packages: replaced(packages, 4, forged),
        sealed: inbox.get(id(0)),
      }),
    );
  });
});
