/**
 * Party error answers review: a party signs its successful answers and binds them to the request
 * (`in_reply_to`); its error answers must be as much its statement, or anything on the path could
 * forge one (a `NO_KEY` that makes a keyed party look keyless to the gateway's repair). The client
 * takes an error answer only when the party signed it for this very request; any other error
 * answer is no answer from the party (`UNAVAILABLE`, naming it), never the code it claims.
 * Real party apps (one keyless, one keyed, same identity) behind an intercepting transport.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { formatCheckpoint, MemoryMerkleTree } from '@aaps/evidence';
import {
  bytesToHex,
  getCiphersuite,
  PolicyRefusal,
  Round1CommitmentBatchCodec,
  SigningPackageCodec,
  trustedDealer,
} from '@aaps/mpc-core';
import { afterAll, describe, expect, it } from 'vitest';
import { PartyClient } from './client.js';
import type { HttpPostInit } from './http-post.js';
import type { PartyApp } from './party/app.js';
import { dealtPartyApps, fiveParties, partyAppsWithKeys } from './party/test-helpers/five-parties.js';
import type { PartyStore } from './store/level.js';

const dir = mkdtempSync(join(tmpdir(), 'aaps-client-error-auth-'));
const stores: PartyStore[] = [];

afterAll(async () => {
  for (const s of stores) await s.close();
  rmSync(dir, { recursive: true, force: true });
});

const set = fiveParties();
const party = set.roster.parties[4]!;

/** A client whose transport hands each request to `answer` (path and init). */
function clientVia(answer: (path: string, init: HttpPostInit) => Promise<Response>): PartyClient {
  return new PartyClient({
    roster: set.roster,
    caller: { id: 'gateway', key: set.gatewayKey },
    timeoutMs: 30_000,
    fetch: (url, init) => answer(url.pathname, init),
  });
}

const failure = (p: Promise<unknown>) =>
  p.then(
    () => expect.unreachable('the call was expected to fail'),
    (e: unknown) => e as { code?: string; message?: string; details?: Record<string, unknown> },
  );

const request = (app: PartyApp, path: string, init: HttpPostInit) =>
  Promise.resolve(app.app.request(path, init as RequestInit));

describe("PartyClient takes a party's error answer only as the party signed it for this request", () => {
  it('a forged NO_KEY answer (unsigned) is no answer from the party, not NO_KEY', async () => {
    const client = clientVia(async () =>
      Response.json({ error: { code: 'NO_KEY', message: 'this party holds no key yet' } }, { status: 409 }),
    );
    const e = await failure(client.call(party.id, 'key.info', 's-forged', {}));
    expect(e.code).toBe('UNAVAILABLE');
    expect(e.details).toMatchObject({ party: party.id, kind: 'key.info' });
  });

  it("a keyless party's real NO_KEY answer, replayed for a later request to it once it holds a key, is not NO_KEY", async () => {
    const dealt = trustedDealer(getCiphersuite('FROST-ED25519-SHA512-v1'), set.roster.threshold);
    const keyless = (await partyAppsWithKeys(set, () => undefined, { dir, stores })).apps[4]!;
    const keyed = (await partyAppsWithKeys(set, () => dealt, { dir, stores })).apps[4]!;
    let captured: { status: number; text: string } | undefined;
    const client = clientVia(async (path, init) => {
      if (captured === undefined) {
        const res = await request(keyless, path, init);
        captured = { status: res.status, text: await res.text() };
        return new Response(captured.text, { status: captured.status, headers: res.headers });
      }
      // The keyed party's answer is dropped; the keyless one's old answer is sent in its place.
      await request(keyed, path, init);
      return new Response(captured.text, {
        status: captured.status,
        headers: { 'content-type': 'application/json' },
      });
    });
    const first = await failure(client.call(party.id, 'key.info', 's-replay', {}));
    expect(first.code).toBe('NO_KEY');
    const second = await failure(client.call(party.id, 'key.info', 's-replay', {}));
    expect(second.code).toBe('UNAVAILABLE');
    expect(second.details).toMatchObject({ party: party.id, kind: 'key.info' });
  });
});

describe("PartyClient takes a party's refusal only as part of its error answer to this request", () => {
  it('a real signed refusal, replayed for a later call of the same kind and session, is no refusal', async () => {
    const suite = getCiphersuite('FROST-ED25519-SHA512-v1');
    const { set: s, apps } = await dealtPartyApps({ dir, stores });
    const indexOf = new Map(s.roster.parties.map((p, i) => [new URL(p.url).origin, i]));
    let replay: { status: number; text: string } | undefined;
    let captured: { status: number; text: string } | undefined;
    const client = new PartyClient({
      roster: s.roster,
      caller: { id: 'gateway', key: s.gatewayKey },
      timeoutMs: 30_000,
      fetch: async (url, init) => {
        const res = await Promise.resolve(
          apps[indexOf.get(url.origin)!]!.app.request(url.pathname, init as RequestInit),
        );
        if (replay !== undefined && url.pathname === '/v1/sign/round2')
          return new Response(replay.text, {
            status: replay.status,
            headers: { 'content-type': 'application/json' },
          });
        if (!res.ok && url.pathname === '/v1/sign/round2') {
          captured = { status: res.status, text: await res.text() };
          return new Response(captured.text, { status: captured.status, headers: res.headers });
        }
        return res;
      },
    });
    const party = s.roster.parties[0]!.id;
    /** Party 0's round two over a checkpoint of `t` at `size`, in `session`. */
    const round2 = async (session: string, t: MemoryMerkleTree, size: number) => {
      const commitments = await Promise.all(
        s.roster.parties.slice(0, 3).map(async (p) => {
          const drawn = await client.call<{ commitments: unknown }>(p.id, 'sign.commit', session, {
            count: 1,
          });
          return Round1CommitmentBatchCodec.fromJSON(drawn.commitments, suite.id).value.commitments[0]!;
        }),
      );
      const rootHash = t.root(size);
      const origin = 'aaps.test/replay';
      const message = new TextEncoder().encode(formatCheckpoint({ origin, size, rootHash, extensions: [] }));
      return client.call(party, 'sign.round2', session, {
        signing_package: SigningPackageCodec.toJSON(suite.id, { commitments, message }),
        subject: { kind: 'checkpoint', origin, tree_size: size, root_hash: bytesToHex(rootHash) },
      });
    };
    const tree = (salt: string) => {
      const t = new MemoryMerkleTree();
      for (let i = 0; i < 10; i++) t.append(new TextEncoder().encode(`${salt}leaf-${i}`));
      return t;
    };
    await round2('s-first', tree(''), 10);
    // Another history at the same size: the party refuses (signed), in session s-refused.
    const refused = await round2('s-refused', tree('other-'), 10).then(
      () => expect.unreachable('the party signed a fork'),
      (e: unknown) => e,
    );
    expect(refused).toBeInstanceOf(PolicyRefusal);
    expect(captured).toBeDefined();
    // A later round two of that session: its answer replaced by the old refusal.
    replay = captured;
    const later = (await round2('s-refused', tree(''), 10).then(
      () => expect.unreachable('the replayed refusal was taken as a share'),
      (e: unknown) => e,
    )) as { code?: string; details?: Record<string, unknown> };
    expect(later).not.toBeInstanceOf(PolicyRefusal);
    expect(later.code).toBe('UNAVAILABLE');
    expect(later.details).toMatchObject({ party, kind: 'sign.round2' });
  });
});
