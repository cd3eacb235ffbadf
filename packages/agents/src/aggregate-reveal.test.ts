/**
 * The complaint step and exclusion in `runAggregationOverHttp` (aggregate-reveal.ts, the party's
 * `agg.reveal`): a dealer whose boxes some receivers cannot open reveals their shares, signed, and
 * they evaluate with them; a dealer that will not (or reveals shares its commitments refute, or
 * that t receivers claim against) is excluded when the round cannot open otherwise and the circuit
 * gives its inputs public substitutes. Five in-process party apps (`app.request`, no ports), on
 * `approval-tally` (substitutes: no vote, a veto) and `cost-total` (none); a misbehaving party
 * rewrites its own answers, re-signed with its own identity key.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  type AapsError,
  base64Decode,
  loadFastBackends,
  ProtocolError,
  type SignedEnvelope,
  signEnvelope,
  utf8,
  verifyAggregation,
} from '@aaps/mpc-core';
import { sha256 } from '@noble/hashes/sha2.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runAggregationOverHttp } from './aggregate.js';
import { PartyClient } from './client.js';
import { createPartyApp, type PartyApp } from './party/app.js';
import type { PartyDeps } from './party/context.js';
import {
  type RevealedShares,
  type SignedDealing,
  signRevealedShares,
  signRevealRequest,
} from './party/routes/aggregation.js';
import {
  fiveParties,
  partyDeps,
  ROLES,
  signedAsParty,
  withDarkBoxes,
} from './party/test-helpers/five-parties.js';
import { rosterDigest } from './roster.js';
import type { PartyStore } from './store/level.js';

const dir = mkdtempSync(join(tmpdir(), 'aaps-agg-reveal-'));
const set = fiveParties();
const { roster, gatewayKey, keys } = set;
const stores: PartyStore[] = [];
let deps: PartyDeps[];
let apps: PartyApp[];

const MONITORING = 0;
const PROBLEM_SOLVER = 1;
const STRATEGY = 2;
const QA = 3;
const AUDIT = 4;
const VOTES = [1, 1, 1, 0, 1];
const VETOES = [0, 0, 1, 0, 0];
const idOf = (i: number) => roster.parties[i]!.id;

/** One party's answer to one call: the request, and the app's own handling of it. */
type Answer = (
  request: { sessionId: string; body: Record<string, unknown> },
  app: () => Promise<Response>,
  party: number,
) => Promise<Response>;
/** Per party, per request path, its misbehaviour. */
const misbehave = new Map<number, Map<string, Answer>>();
/** Calls per party and path, to tell a first `agg.evaluate` from a second. */
const calls = new Map<string, number>();

const fetchApp: typeof fetch = async (input, init) => {
  const url = new URL(String(input));
  const i = roster.parties.findIndex((p) => new URL(p.url).host === url.host);
  const key = `${i} ${url.pathname}`;
  calls.set(key, (calls.get(key) ?? 0) + 1);
  const app = () => Promise.resolve(apps[i]!.app.request(url.pathname, init));
  const answer = misbehave.get(i)?.get(url.pathname);
  if (!answer) return app();
  const env = JSON.parse(String(init?.body)) as {
    payload: { session_id: string; body: Record<string, unknown> };
  };
  // A misbehaving party's error answer is its own: signed by it for this request.
  return signedAsParty(
    set,
    i,
    String(init?.body),
    await answer({ sessionId: env.payload.session_id, body: env.payload.body }, app, i),
  );
};

const client = () => new PartyClient({ roster, caller: { id: 'gateway', key: gatewayKey }, fetch: fetchApp });

function setMisbehaving(party: number, path: string, answer: Answer): void {
  const m = misbehave.get(party) ?? new Map<string, Answer>();
  m.set(path, answer);
  misbehave.set(party, m);
}

const errorResponse = (code: string, status: number) =>
  new Response(JSON.stringify({ error: { code, message: 'refused', culprits: [] } }), {
    status,
    headers: { 'content-type': 'application/json' },
  });

/** The party's own answer with its body rewritten, signed again with the party's identity key. */
const signedRewrite =
  (rewrite: (body: Record<string, unknown>, sessionId: string) => Record<string, unknown>): Answer =>
  async (request, app, party) => {
    const res = await app();
    if (!res.ok) return res;
    const env = (await res.json()) as SignedEnvelope<{ body: Record<string, unknown> }>;
    const { signature: _drop, ...meta } = env.meta as typeof env.meta & { signature?: string };
    const forged = signEnvelope(
      {
        ...env,
        meta,
        payload: { ...env.payload, body: rewrite(env.payload.body, request.sessionId) },
      } as never,
      keys[party]!.secretKey,
    );
    return new Response(JSON.stringify(forged), {
      status: 200,
      headers: { 'content-type': 'application/json' },
    });
  };

/** The dealers' signed payloads per session, seen in their `agg.deal` answers (for a forged reveal). */
const lastDealing = new Map<string, string>();
function payloadDigestOf(sessionId: string): Uint8Array {
  const payload = lastDealing.get(sessionId);
  if (payload === undefined) throw new Error(`no dealing seen for ${sessionId}`);
  return sha256(utf8(payload));
}

/** `dealer`'s `agg.deal` answer with its boxes for `receivers` sealed under another pair's key: they never open. */
function darkBoxesFrom(dealer: number, receivers: readonly number[]): Answer {
  return signedRewrite((body, sessionId) => {
    lastDealing.set(sessionId, (body.dealing as SignedDealing).payload);
    return withDarkBoxes(set, dealer, receivers, sessionId, body);
  });
}

/** The first `agg.evaluate` to this party never arrives (503 from the path); later ones do. */
const unreachableOnce: Answer = async (request, app, party) => {
  void request;
  if ((calls.get(`${party} /v1/agg/evaluate`) ?? 0) <= 1) return errorResponse('UNAVAILABLE', 503);
  return app();
};

const inputs = Object.fromEntries(
  roster.parties.map((p, i) => [p.id, { [`vote.${p.role}`]: VOTES[i]!, [`veto.${p.role}`]: VETOES[i]! }]),
);

const run = (sessionId: string, circuitId = 'approval-tally') =>
  runAggregationOverHttp(client(), {
    circuitId,
    sessionId,
    inputs:
      circuitId === 'approval-tally'
        ? inputs
        : Object.fromEntries(roster.parties.map((p, i) => [p.id, (i + 1) * 100])),
    confirm: true,
  });

beforeAll(async () => {
  await loadFastBackends();
  deps = await Promise.all(ROLES.map((_, i) => partyDeps(set, i, { dir, stores })));
  apps = await Promise.all(deps.map((d) => createPartyApp(d)));
});

afterAll(async () => {
  await Promise.all(stores.map((s) => s.close()));
  rmSync(dir, { recursive: true, force: true });
});

function reset(): void {
  misbehave.clear();
  calls.clear();
}

describe('the complaint step: a dealer reveals the shares its receivers could not open', () => {
  it('strategy boxes dark for two receivers, audit down at first: strategy reveals, the round opens with its input', async () => {
    reset();
    setMisbehaving(STRATEGY, '/v1/agg/deal', darkBoxesFrom(STRATEGY, [MONITORING, PROBLEM_SOLVER]));
    setMisbehaving(AUDIT, '/v1/agg/evaluate', unreachableOnce);
    try {
      // Audit, unreachable at first, is asked again; monitoring and problem solver evaluate with
      // the shares strategy revealed to them.
      const out = await run('reveal-good');
      expect(out.result).toEqual({ approvals: 4n, vetoes: 1n });
      expect(out.reveals).toEqual([
        {
          dealer: idOf(STRATEGY),
          receivers: [idOf(MONITORING), idOf(PROBLEM_SOLVER)].sort(),
          outcome: 'revealed',
        },
      ]);
      expect(out.excluded).toBeUndefined();
      expect(out.record.v).toBe(1);
      expect(out.culprits).toEqual([]);
      expect(out.leftOut).toEqual([]);
      expect(verifyAggregation(out.record).outputs.map((o) => o.value)).toEqual([4n, 1n]);
      // The two receivers evaluated with the revealed shares, so they can confirm the record.
      expect(out.confirmed).toEqual(expect.arrayContaining([idOf(MONITORING), idOf(PROBLEM_SOLVER)]));
    } finally {
      reset();
    }
  });
});

describe('exclusion: a dealer that will not reveal, or reveals refuted shares', () => {
  it('a dealer that refuses to reveal to fewer than t receivers is not excluded: the round opens with its input from the others', async () => {
    reset();
    setMisbehaving(STRATEGY, '/v1/agg/deal', darkBoxesFrom(STRATEGY, [MONITORING, PROBLEM_SOLVER]));
    setMisbehaving(STRATEGY, '/v1/agg/reveal', async () => errorResponse('FORBIDDEN', 403));
    setMisbehaving(AUDIT, '/v1/agg/evaluate', unreachableOnce);
    try {
      // Monitoring and problem solver saw its boxes fail; strategy refuses to reveal, and two
      // signed requests are fewer than t, so nobody else may leave it out (a coordinator could
      // otherwise exclude at will and read the others' inputs). Audit, unreachable at first, is
      // asked again: with strategy and QA it makes t, and the round opens with every input.
      const out = await run('reveal-refused');
      expect(out.result).toEqual({ approvals: 4n, vetoes: 1n });
      expect(out.excluded).toBeUndefined();
      expect(out.record.v).toBe(1);
      expect(out.reveals).toEqual([
        {
          dealer: idOf(STRATEGY),
          receivers: [idOf(MONITORING), idOf(PROBLEM_SOLVER)].sort(),
          outcome: 'refused',
        },
      ]);
      expect(out.leftOut.map((l) => l.party).sort()).toEqual([idOf(MONITORING), idOf(PROBLEM_SOLVER)].sort());
    } finally {
      reset();
    }
  });

  it('a dealer that reveals shares its commitments refute is a culprit', async () => {
    reset();
    setMisbehaving(STRATEGY, '/v1/agg/deal', darkBoxesFrom(STRATEGY, [MONITORING]));
    setMisbehaving(
      STRATEGY,
      '/v1/agg/reveal',
      signedRewrite((body, sessionId) => {
        const revealed = (body.revealed as RevealedShares[]).map((item) => {
          const plain = base64Decode(item.shares, 'shares');
          plain[0]! ^= 1;
          return signRevealedShares({
            identity: keys[STRATEGY]!,
            session: sessionId,
            dealer: idOf(STRATEGY),
            receiver: item.party,
            rosterDigest: rosterDigest(roster),
            payloadDigest: payloadDigestOf(sessionId),
            plain,
          });
        });
        return { revealed };
      }),
    );
    try {
      const out = await run('reveal-refuted');
      expect(out.culprits).toEqual([idOf(STRATEGY)]);
      expect(out.reveals).toEqual([
        { dealer: idOf(STRATEGY), receivers: [idOf(MONITORING)], outcome: 'refuted' },
      ]);
      // Four others evaluated with its (consistent) shares: the round opens without excluding it.
      expect(out.result).toEqual({ approvals: 4n, vetoes: 1n });
      expect(out.excluded).toBeUndefined();
    } finally {
      reset();
    }
  });

  it('t or more receivers that cannot open a dealer: excluded (named_by_claims) on approval-tally', async () => {
    reset();
    setMisbehaving(
      STRATEGY,
      '/v1/agg/deal',
      darkBoxesFrom(STRATEGY, [MONITORING, PROBLEM_SOLVER, QA, AUDIT]),
    );
    try {
      const out = await run('dark-all');
      expect(out.result).toEqual({ approvals: 3n, vetoes: 1n });
      expect(out.excluded?.map((x) => [x.party, x.reason])).toEqual([[idOf(STRATEGY), 'named_by_claims']]);
      expect(out.culprits).toEqual([]);
      expect(verifyAggregation(out.record).outputs.map((o) => o.value)).toEqual([3n, 1n]);
    } finally {
      reset();
    }
  });

  it('a circuit without substitutes (cost-total) keeps failing, naming the dealer', async () => {
    reset();
    setMisbehaving(
      STRATEGY,
      '/v1/agg/deal',
      darkBoxesFrom(STRATEGY, [MONITORING, PROBLEM_SOLVER, QA, AUDIT]),
    );
    try {
      const e = await run('dark-all-cost', 'cost-total').then(
        () => expect.unreachable('expected the run to fail'),
        (x: unknown) => x as ProtocolError,
      );
      expect(e).toBeInstanceOf(ProtocolError);
      expect(e.code).toBe('INVALID_DEALING');
      expect((e.details.named_by_claims as { dealer: string }[]).map((c) => c.dealer)).toEqual([
        idOf(STRATEGY),
      ]);
    } finally {
      reset();
    }
  });
});

describe('agg.reveal on the dealer: never the shares of t receivers of one session', () => {
  /** Strategy's agg.deal answer as it is, its payload recorded (to sign reveal requests over). */
  const recordDeal = signedRewrite((body, sessionId) => {
    lastDealing.set(sessionId, (body.dealing as SignedDealing).payload);
    return body;
  });
  /** Each receiver's own signed request (or `signer`'s, to forge one). */
  const requestsOf = (session: string, receivers: number[], signer?: number) =>
    Object.fromEntries(
      receivers.map((r) => [
        idOf(r),
        signRevealRequest({
          identity: keys[signer ?? r]!,
          session,
          dealer: idOf(STRATEGY),
          receiver: idOf(r),
          rosterDigest: rosterDigest(roster),
          payloadDigest: payloadDigestOf(session),
        }),
      ]),
    );
  const reveal = (
    session: string,
    receivers: number[],
    requests: Record<string, string> = requestsOf(session, receivers),
    party = STRATEGY,
  ) =>
    client().call<{ revealed: RevealedShares[] }>(idOf(party), 'agg.reveal', session, {
      receivers: receivers.map(idOf),
      requests,
    });
  const outcomeOf = (p: Promise<unknown>) =>
    p.then(
      () => 'answered',
      (e: unknown) => `${(e as AapsError).code} ${(e as AapsError).message}`,
    );

  it("reveals only against the receivers' own signed requests", async () => {
    reset();
    setMisbehaving(STRATEGY, '/v1/agg/deal', recordDeal);
    await run('request-1');
    // The coordinator's word is not enough: no request, or one signed by another party.
    expect(await outcomeOf(reveal('request-1', [MONITORING], {}))).toMatch(
      /^FORBIDDEN .*no signed reveal request/,
    );
    expect(
      await outcomeOf(reveal('request-1', [MONITORING], requestsOf('request-1', [MONITORING], QA))),
    ).toMatch(/^FORBIDDEN .*no signed reveal request/);
    const { revealed } = await reveal('request-1', [MONITORING]);
    expect(revealed.map((r) => r.party)).toEqual([idOf(MONITORING)]);
    reset();
  });

  it('refuses t or more in one call, across two calls, and across a restart', async () => {
    reset();
    setMisbehaving(STRATEGY, '/v1/agg/deal', recordDeal);
    await run('limit-1');
    await run('limit-2');
    await run('limit-3');
    const limit = /^FORBIDDEN .*would reveal 3 receivers/;
    // t = 3: two receivers are fine, three in one call are not.
    expect(await outcomeOf(reveal('limit-1', [MONITORING, PROBLEM_SOLVER, QA]))).toMatch(limit);
    const two = await reveal('limit-1', [MONITORING, PROBLEM_SOLVER]);
    expect(two.revealed.map((r) => r.party)).toEqual([idOf(MONITORING), idOf(PROBLEM_SOLVER)]);
    // A third receiver in a later call makes three.
    expect(await outcomeOf(reveal('limit-1', [AUDIT]))).toMatch(limit);
    // The same two again reveal nothing new: allowed.
    expect(await outcomeOf(reveal('limit-1', [MONITORING]))).toBe('answered');
    // Never its own share, never a party outside the roster.
    expect(await outcomeOf(reveal('limit-2', [STRATEGY]))).toMatch(/^INVALID_ARGUMENT/);
    // Across a restart (fresh handlers, same store): the count is kept.
    expect(await outcomeOf(reveal('limit-2', [MONITORING, QA]))).toBe('answered');
    apps[STRATEGY] = await createPartyApp(deps[STRATEGY]!);
    expect(await outcomeOf(reveal('limit-2', [AUDIT]))).toMatch(limit);
    // Below the limit after the restart: the shares are gone (kept in memory only).
    expect(await outcomeOf(reveal('limit-3', [AUDIT]))).toMatch(/^NOT_FOUND/);
    // A session it never dealt.
    expect(await outcomeOf(reveal('never-dealt', [AUDIT], {}, MONITORING))).toMatch(/^NOT_FOUND/);
    reset();
  });
});
