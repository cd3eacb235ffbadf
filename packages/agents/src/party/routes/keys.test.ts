/**
 * What a party refuses in key maintenance and checkpoint signing, driven in process: requests from
 * anyone but the coordinator; relayed boxes not signed by their claimed sender (the share-theft
 * path through repair: forged zero deltas); a repair step 2 for another lost party than step 1;
 * two roots signed for one checkpoint size by concurrent requests; and a key replaced without
 * its operator's consent.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { formatCheckpoint } from '@aaps/evidence';
import {
  DkgRound1PackageCodec,
  dkgRound1,
  getCiphersuite,
  hexToBytes,
  identifierFromNumber,
  PublicKeyPackageCodec,
  RepairDeltaCodec,
  Round1CommitmentBatchCodec,
  SealedBoxCodec,
  SecretBytes,
  SigningPackageCodec,
  seal,
  trustedDealer,
  x25519FromIdentityPublicKey,
} from '@aaps/mpc-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { callSigner } from '../../call-auth.js';
import { PartyClient } from '../../client.js';
import { runDkgOverHttp } from '../../coordinate.js';
import { publicPackageDigest } from '../../key-digest.js';
import { rosterDigest } from '../../roster.js';
import { makeRequest, type RpcKind } from '../../rpc.js';
import type { PartyStore } from '../../store/level.js';
import { createPartyApp, type PartyApp } from '../app.js';
import {
  coordinatorCall,
  dealtPartyApps,
  type FiveParties,
  type PartyAnswer,
  partyDeps,
  saveDealtKey,
} from '../test-helpers/five-parties.js';
import { relayAad } from './sealed.js';

const suite = getCiphersuite('FROST-ED25519-SHA512-v1');
let dir: string;
const stores: PartyStore[] = [];
let set: FiveParties;
let apps: PartyApp[];
/** The digest of the package every party holds: what a repair names. */
let pkgDigest: string;
const gateway = () => ({ id: 'gateway', key: set.gatewayKey });
const id = (i: number) => set.roster.parties[i]!.id;
const fid = (i: number) => identifierFromNumber(suite, i + 1);

/** A call to party `i` as the coordinator makes it (`from` signs the envelope), on `on`'s apps. */
const call = (
  i: number,
  kind: RpcKind,
  session: string,
  body: Record<string, unknown>,
  from: { id: string; key: FiveParties['gatewayKey'] } = gateway(),
  on: readonly PartyApp[] = apps,
): Promise<PartyAnswer> => coordinatorCall(set, on, i, kind, session, body, from);

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'aaps-party-keys-'));
  let dealt: Awaited<ReturnType<typeof dealtPartyApps>>['dealt'];
  ({ set, apps, dealt } = await dealtPartyApps({ dir, stores }));
  pkgDigest = publicPackageDigest(suite.id, dealt.publicPackage);
});

afterAll(async () => {
  await Promise.all(stores.map((s) => s.close()));
  rmSync(dir, { recursive: true, force: true });
});

describe('a party takes calls from the coordinator only', () => {
  it('refuses a genuine request signed by another party (403), for every kind', async () => {
    const peer = { id: id(4), key: set.keys[4]! };
    for (const [kind, body] of [
      ['key.info', {}],
      ['repair.step1', { helpers: [id(0), id(1), id(2)], lost: id(4) }],
      ['dkg.round1', { replace: true }],
      ['sign.commit', { count: 1 }],
    ] as const) {
      const r = await call(0, kind, 'peer', body, peer);
      expect(r.status, kind).toBe(403);
      expect(r.error?.message).toContain('only the coordinator');
    }
  });
});

describe('repair enrols nobody', () => {
  it("a helper refuses to rebuild a share for a roster party the key never gave one (threshold signing review's suspicion)", async () => {
    // A key dealt to the first four roster parties only (as a roster that gained a party before
    // its re-key): party 5 holds no share, so no repair may make one for it.
    const four = trustedDealer(suite, { min: 3, max: 4 });
    const own = mkdtempSync(join(tmpdir(), 'aaps-party-enrol-'));
    const mine: PartyStore[] = [];
    try {
      const deps = await partyDeps(set, 0, { dir: own, stores: mine });
      await saveDealtKey(deps.store, set, four, 0);
      const helper = [await createPartyApp(deps)];
      const r = await call(
        0,
        'repair.step1',
        'enrol',
        {
          helpers: [id(0), id(1), id(2)],
          lost: id(4),
          package_digest: publicPackageDigest(suite.id, four.publicPackage),
        },
        gateway(),
        helper,
      );
      expect(r.error?.code).toBe('UNKNOWN_IDENTIFIER');
      expect(r.error?.message).toContain(`${id(4)} holds no share of this key`);
      expect(r.body['sealed']).toBeUndefined();
    } finally {
      await Promise.all(mine.map((st) => st.close()));
      rmSync(own, { recursive: true, force: true });
    }
  });
});

describe('repair', () => {
  const helpers = () => [id(0), id(1), id(2)];

  /** A delta "from" helper `from` to helper `to`, sealed by someone who is not `from`. */
  function forgedDelta(session: string, from: number, to: number, lost: number) {
    const d = {
      sender: fid(from),
      receiver: fid(to),
      lost: fid(lost),
      helpers: [fid(0), fid(1), fid(2)],
      delta: new SecretBytes(suite.field.toBytes(0n)),
    };
    const receiver = set.roster.parties[to]!;
    const box = seal(
      x25519FromIdentityPublicKey(hexToBytes(receiver.identity_key)),
      RepairDeltaCodec.encode(suite.id, d),
      relayAad(`repair-delta@${pkgDigest}`, session, id(from), receiver.id, rosterDigest(set.roster)),
    );
    return {
      party: id(from),
      box: SealedBoxCodec.toJSON(suite.id, box),
      sig: Buffer.alloc(64).toString('base64'),
    };
  }

  it('helps only with the package it holds: a repair naming another is refused', async () => {
    for (const named of [undefined, 'ab'.repeat(32)]) {
      const r = await call(0, 'repair.step1', 'other-pkg', {
        helpers: helpers(),
        lost: id(4),
        package_digest: named,
      });
      expect(r.error?.code).toBe('INCONSISTENT_TRANSCRIPT');
      expect(r.error?.message).toContain(`this helper holds ${pkgDigest}`);
    }
  });

  it('keeps its own delta: step 1 seals deltas to the other helpers only', async () => {
    const r = await call(0, 'repair.step1', 'own', {
      helpers: helpers(),
      lost: id(4),
      package_digest: pkgDigest,
    });
    expect(r.status).toBe(200);
    const to = (r.body.sealed as { party: string }[]).map((x) => x.party).sort();
    expect(to).toEqual([id(1), id(2)].sort());
  });

  it('refuses deltas not signed by their claimed senders: no sigma for forged zero deltas', async () => {
    const session = 'forge';
    expect(
      (await call(0, 'repair.step1', session, { helpers: helpers(), lost: id(4), package_digest: pkgDigest }))
        .status,
    ).toBe(200);
    const r = await call(0, 'repair.step2', session, {
      helpers: helpers(),
      lost: id(4),
      package_digest: pkgDigest,
      sealed: [forgedDelta(session, 1, 0, 4), forgedDelta(session, 2, 0, 4)],
    });
    expect(r.status).toBeGreaterThanOrEqual(400);
    expect(r.error?.code).toBe('INCONSISTENT_TRANSCRIPT');
    expect(r.error?.message).toContain('not signed by');
    expect(r.body.sealed).toBeUndefined();
  });

  it('refuses a step 2 naming another lost party or other helpers than its step 1', async () => {
    const session = 'switch';
    const s1 = await Promise.all(
      [0, 1, 2].map((h) =>
        call(h, 'repair.step1', session, { helpers: helpers(), lost: id(4), package_digest: pkgDigest }),
      ),
    );
    const inbox = (h: number) =>
      s1.flatMap((r, from) =>
        (r.body.sealed as { party: string; box: unknown; sig: string }[])
          .filter((x) => x.party === id(h))
          .map((x) => ({ party: id(from), box: x.box, sig: x.sig })),
      );
    const other = await call(0, 'repair.step2', session, {
      helpers: helpers(),
      lost: id(3),
      package_digest: pkgDigest,
      sealed: inbox(0),
    });
    expect(other.status).toBe(400);
    expect(other.error?.message).toContain('another lost party');
    // The honest step 2 (same helpers, same lost party) still answers, once.
    const honest = await call(1, 'repair.step2', session, {
      helpers: helpers(),
      lost: id(4),
      package_digest: pkgDigest,
      sealed: inbox(1),
    });
    expect(honest.status).toBe(200);
    expect(
      (
        await call(1, 'repair.step2', session, {
          helpers: helpers(),
          lost: id(4),
          package_digest: pkgDigest,
          sealed: inbox(1),
        })
      ).status,
    ).toBe(404);
  });
});

describe('checkpoints', () => {
  it('two concurrent requests for one size with different roots: one share and one fork refusal, per party', async () => {
    const size = 10;
    const roots = ['aa'.repeat(32), 'bb'.repeat(32)];
    const signers = [0, 1, 2];
    const drawn = await Promise.all(
      signers.map(
        async (p) =>
          Round1CommitmentBatchCodec.fromJSON(
            (await call(p, 'sign.commit', 'ck', { count: 2 })).body.commitments,
            suite.id,
          ).value.commitments,
      ),
    );
    const packages = roots.map((root, j) => ({
      commitments: drawn.map((c) => c[j]!),
      message: new TextEncoder().encode(
        formatCheckpoint({ origin: 'aaps.test/log', size, rootHash: hexToBytes(root), extensions: [] }),
      ),
    }));
    for (const p of signers) {
      const calls = roots.map((root, j) => ({
        kind: 'sign.round2',
        session_id: `ck-${p}-${j}`,
        ctx: { trace_id: `t${j}` },
        body: {
          signing_package: SigningPackageCodec.toJSON(suite.id, packages[j]!),
          subject: { kind: 'checkpoint', origin: 'aaps.test/log', tree_size: size, root_hash: root },
        },
      }));
      // A batch runs its calls concurrently.
      const r = await call(p, 'batch', `ckb-${p}`, { calls });
      const results = r.body.results as { body?: unknown; error?: { code: string; message: string } }[];
      expect(
        results.filter((x) => x.body !== undefined),
        `party ${p}`,
      ).toHaveLength(1);
      expect(
        results.filter((x) => x.error?.message.includes('different root')),
        `party ${p}`,
      ).toHaveLength(1);
    }
  });
});

describe('replacing a key takes the coordinator and the operator', () => {
  it('refuses a DKG or a repair over a held key unless the operator allows it (403 FORBIDDEN)', async () => {
    const noReplace = await call(0, 'dkg.round1', 'rk-0', { replace: false });
    expect(noReplace.status).toBe(409);
    expect(noReplace.error?.code).toBe('KEY_EXISTS');
    const dkg = await call(0, 'dkg.round1', 'rk-1', {
      replace: true,
      threshold: set.roster.threshold,
      roster_digest: rosterDigest(set.roster),
    });
    expect(dkg.status).toBe(403);
    expect(dkg.error?.message).toContain('--allow-key-replace');
    // A repaired share of another group key is a re-key too.
    const other = trustedDealer(suite, set.roster.threshold).publicPackage;
    const repair = await call(0, 'repair.step3', 'rk-2', {
      replace: true,
      helpers: [],
      sealed: [],
      public_package: PublicKeyPackageCodec.toJSON(suite.id, other),
    });
    expect(repair.status).toBe(403);
    expect(repair.error?.message).toContain('--allow-key-replace');
  });

  it('repairs a share of the group key it holds without the switch (a party a refresh missed)', async () => {
    const held = PublicKeyPackageCodec.toJSON(suite.id, (await stores[0]!.loadKey())!.publicPackage);
    const ask = (replace: boolean) =>
      call(0, 'repair.step3', `rk-same-${replace}`, {
        replace,
        helpers: [],
        sealed: [],
        public_package: held,
      });
    const noReplace = await ask(false);
    expect(noReplace.status).toBe(409);
    expect(noReplace.error?.code).toBe('KEY_EXISTS');
    // Past the permission check: it fails on what it was sent (no helpers), not on the switch.
    const replace = await ask(true);
    expect(replace.status).toBe(400);
    expect(replace.error?.code).not.toBe('FORBIDDEN');
  });

  it('with allow_key_replace on, a DKG may replace it', async () => {
    const deps = await partyDeps(set, 0, { dir, stores });
    deps.config = { ...deps.config, allowKeyReplace: true };
    const held = trustedDealer(suite, set.roster.threshold);
    await saveDealtKey(deps.store, set, held, 0);
    const allowing = await createPartyApp(deps);
    const env = makeRequest(
      gateway(),
      id(0),
      'dkg.round1',
      'rk-3',
      {
        replace: true,
        threshold: set.roster.threshold,
        roster_digest: rosterDigest(set.roster),
      },
      { trace_id: 't' },
    );
    const text = JSON.stringify(env);
    const res = await allowing.app.request('/v1/dkg/round1', {
      method: 'POST',
      headers: callSigner({ id: 'gateway', key: set.gatewayKey }, set.roster.parties).headers(
        id(0),
        '/v1/dkg/round1',
        text,
      ),
      body: text,
    });
    expect(res.status).toBe(200);
  });

  it('a DKG started while a party had no key cannot overwrite the key another DKG gave it since', async () => {
    // Five key-less parties, reached in process through the client's transport.
    const fresh: PartyApp[] = [];
    for (let i = 0; i < 5; i++) fresh.push(await createPartyApp(await partyDeps(set, i, { dir, stores })));
    const route = (url: URL | string, init?: RequestInit) => {
      const u = new URL(String(url));
      const i = set.roster.parties.findIndex((p) => new URL(p.url).host === u.host);
      return Promise.resolve(fresh[i]!.app.request(u.pathname, init));
    };
    let held = 0;
    let release: () => void = () => {};
    const released = new Promise<void>((r) => {
      release = r;
    });
    const holding = async (url: URL | string, init?: RequestInit) => {
      if (String(url).endsWith('/dkg/round3')) {
        held++;
        await released;
      }
      return route(url, init);
    };
    const client = (fetch: typeof globalThis.fetch) =>
      new PartyClient({ roster: set.roster, caller: gateway(), timeoutMs: 30_000, fetch });
    const first = runDkgOverHttp(client(holding as typeof globalThis.fetch), suite, { sessionId: 'race-a' });
    first.catch(() => {});
    await expect.poll(() => held, { timeout: 10_000 }).toBe(5);
    const second = await runDkgOverHttp(client(route as typeof globalThis.fetch), suite, {
      sessionId: 'race-b',
    });
    release();
    await expect(first).rejects.toMatchObject({ code: 'KEY_EXISTS' });
    const c = client(route as typeof globalThis.fetch);
    for (const p of set.roster.parties) {
      const info = await c.call<{ group_public_key: string }>(p.id, 'key.info', 'after', {});
      expect(info.group_public_key).toBe(second.groupPublicKeyHex);
    }
  });
});

describe('refresh', () => {
  it('takes the whole roster: round 2 over a subset of the parties is refused', async () => {
    const packages: unknown[] = [];
    for (let i = 0; i < 5; i++) {
      const r = await call(i, 'refresh.round1', 'rf-subset', {});
      expect(r.status).toBe(200);
      packages.push(r.body);
    }
    const subset = await call(0, 'refresh.round2', 'rf-subset', { round1_packages: packages.slice(0, 3) });
    expect(subset.status).toBe(400);
    expect(subset.error?.message).toContain('each of the 4 other roster parties');
    const doubled = await call(0, 'refresh.round2', 'rf-subset', {
      round1_packages: [...packages.slice(0, 4), packages[1]],
    });
    expect(doubled.status).toBe(400);
    const all = await call(0, 'refresh.round2', 'rf-subset', { round1_packages: packages });
    expect(all.status).toBe(200);
  });
});

describe('DKG', () => {
  it('round 2 takes one package from each other roster party, checked before anything is used', async () => {
    const fresh: PartyApp[] = [];
    for (let i = 0; i < 5; i++) fresh.push(await createPartyApp(await partyDeps(set, i, { dir, stores })));
    const start = { threshold: set.roster.threshold, roster_digest: rosterDigest(set.roster) };
    const packages: unknown[] = [];
    for (let i = 0; i < 5; i++) {
      const r = await call(i, 'dkg.round1', 'dkg-peers', start, gateway(), fresh);
      expect(r.status).toBe(200);
      packages.push(r.body);
    }
    // A well-formed package from identifier 6, who is not in the roster, in place of party 5's.
    const outsider = {
      package: DkgRound1PackageCodec.toJSON(
        suite.id,
        dkgRound1(suite, { identifier: fid(5), threshold: set.roster.threshold }).package,
      ),
      signature: '',
    };
    const wrongSets = {
      subset: packages.slice(0, 3),
      doubled: [...packages.slice(0, 4), packages[1]],
      outsider: [...packages.slice(0, 4), outsider],
    };
    for (const [name, round1_packages] of Object.entries(wrongSets)) {
      const r = await call(0, 'dkg.round2', 'dkg-peers', { round1_packages }, gateway(), fresh);
      expect(r.status, name).toBe(400);
      expect(r.error?.message, name).toContain(
        'a DKG needs one package from each of the 4 other roster parties',
      );
    }
    // Nothing was used up: round 2 with the whole roster still runs.
    const all = await call(0, 'dkg.round2', 'dkg-peers', { round1_packages: packages }, gateway(), fresh);
    expect(all.status).toBe(200);
    expect(all.body.sealed).toHaveLength(4);
  });
});
