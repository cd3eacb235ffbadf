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

/**
 * Five dealt party apps in process behind a transport that lets a test rewrite party 0's answers
 * to `sign.round2` (`rewrite`: the answer's status and text in, what the client gets out), and
 * `round2(session, salt, size)`: party 0's round two over a checkpoint of a 10-leaf log (`salt`
 * changes every leaf) at `size`, after fresh commitments of parties 0-2 in `session`.
 */
async function checkpointSigners() {
  const suite = getCiphersuite('FROST-ED25519-SHA512-v1');
  const { set: s, apps } = await dealtPartyApps({ dir, stores });
  const indexOf = new Map(s.roster.parties.map((p, i) => [new URL(p.url).origin, i]));
  const answers: { status: number; text: string }[] = [];
  const t = {
    rewrite: undefined as
      | ((a: { status: number; text: string }) => { status: number; text: string })
      | undefined,
  };
  const client = new PartyClient({
    roster: s.roster,
    caller: { id: 'gateway', key: s.gatewayKey },
    timeoutMs: 30_000,
    fetch: async (url, init) => {
      const res = await Promise.resolve(
        apps[indexOf.get(url.origin)!]!.app.request(url.pathname, init as RequestInit),
      );
      if (url.pathname !== '/v1/sign/round2') return res;
      const answer = { status: res.status, text: await res.text() };
      answers.push(answer);
      const out = t.rewrite?.(answer) ?? answer;
      return new Response(out.text, { status: out.status, headers: { 'content-type': 'application/json' } });
    },
  });
  const party = s.roster.parties[0]!.id;
  const round2 = async (session: string, salt: string, size: number) => {
    const commitments = await Promise.all(
      s.roster.parties.slice(0, 3).map(async (p) => {
        const drawn = await client.call<{ commitments: unknown }>(p.id, 'sign.commit', session, { count: 1 });
        return Round1CommitmentBatchCodec.fromJSON(drawn.commitments, suite.id).value.commitments[0]!;
      }),
    );
    const log = new MemoryMerkleTree();
    for (let i = 0; i < 10; i++) log.append(new TextEncoder().encode(`${salt}leaf-${i}`));
    const rootHash = log.root(size);
    const origin = 'aaps.test/replay';
    const message = new TextEncoder().encode(formatCheckpoint({ origin, size, rootHash, extensions: [] }));
    return client.call(party, 'sign.round2', session, {
      signing_package: SigningPackageCodec.toJSON(suite.id, { commitments, message }),
      subject: { kind: 'checkpoint', origin, tree_size: size, root_hash: bytesToHex(rootHash) },
    });
  };
  const rejection = (p: Promise<unknown>) =>
    p.then(
      () => expect.unreachable('the party signed'),
      (e: unknown) => e as { code?: string; rule?: string; details?: Record<string, unknown> },
    );
  return { party, answers, t, round2, rejection };
}

describe("PartyClient takes a party's refusal only as part of its error answer to this request", () => {
  it('a real signed refusal, replayed for a later call of the same kind and session, is no refusal', async () => {
    const { party, answers, t, round2, rejection } = await checkpointSigners();
    await round2('s-first', '', 10);
    // Another history at the same size: the party refuses (signed), in session s-refused.
    expect(await rejection(round2('s-refused', 'other-', 10))).toBeInstanceOf(PolicyRefusal);
    const captured = answers.at(-1)!;
    // A later round two of that session: its answer replaced by the old refusal.
    t.rewrite = () => captured;
    const later = await rejection(round2('s-refused', '', 10));
    expect(later).not.toBeInstanceOf(PolicyRefusal);
    expect(later.code).toBe('UNAVAILABLE');
    expect(later.details).toMatchObject({ party, kind: 'sign.round2' });
  });

  it("the party's signed refusal of an earlier call, swapped into its error answer to this one, is not its refusal of this one", async () => {
    const { answers, t, round2, rejection } = await checkpointSigners();
    await round2('s-first', '', 10);
    const fork = await rejection(round2('s-swap', 'other-', 10));
    expect(fork.rule).toBe('checkpoint.fork');
    const forkRefusal = JSON.parse(answers.at(-1)!.text).refusal;
    // The next call of that session is refused for another rule; the old refusal is put in its answer.
    t.rewrite = (a) => ({
      status: a.status,
      text: JSON.stringify({ ...JSON.parse(a.text), refusal: forkRefusal }),
    });
    const later = await rejection(round2('s-swap', '', 9));
    expect(JSON.parse(answers.at(-1)!.text).error.rule).toBe('checkpoint.rollback');
    expect(later.rule).not.toBe('checkpoint.fork');
    expect(later).not.toBeInstanceOf(PolicyRefusal);
  });
});
