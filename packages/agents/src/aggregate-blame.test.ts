/**
 * Blame in `runAggregationOverHttp` (review-aggregation.md R1, R2): cheaters are named only when
 * the coordinator can prove it. A party's error body is not signed, so the parties it names are a
 * claim; in round 1 the party whose own deal fails is the culprit; in round 2 an evaluator that
 * fails or accuses is left out and the outputs open from the others while t agree; a dealer is
 * named when its signed dealing or signed share boxes fail a check the coordinator runs itself.
 * Five in-process party apps (`app.request`, no ports); a misbehaving party rewrites its own
 * answers (re-signed with its own identity key, as a compromised party would).
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
  type InputShare,
  loadCircuit,
  loadFastBackends,
  ProtocolError,
  type SignedEnvelope,
  signEnvelope,
} from '@aaps/mpc-core';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type AggregationRunOptions, runAggregationOverHttp } from './aggregate.js';
import { callSigner } from './call-auth.js';
import { PartyClient } from './client.js';
import { partyIdsOf } from './coordinate.js';
import { createPartyApp, type PartyApp } from './party/app.js';
import {
  aggregationParties,
  ChannelKeys,
  SHIPPED_CIRCUITS_DIR,
  type SignedDealing,
  sealShares,
  signDealerPayload,
} from './party/routes/aggregation.js';
import {
  fiveParties,
  partyDeps,
  ROLES,
  signedAsParty,
  withDarkBoxes,
} from './party/test-helpers/five-parties.js';
import { frostIdentifier, rosterDigest } from './roster.js';
import type { PartyStore } from './store/level.js';

const dir = mkdtempSync(join(tmpdir(), 'aaps-agg-blame-'));
const set = fiveParties();
const { roster, gatewayKey, keys } = set;
const stores: PartyStore[] = [];
let apps: PartyApp[];

const MONITORING = 0;
const PROBLEM_SOLVER = 1;
const STRATEGY = 2;
const QA = 3;
const AUDIT = 4;
/** Each department's cost (cents) in `cost-total`, whose one output is their sum. */
const COSTS = [100, 250, 0, 999, 1];
const TOTAL = 1350n;

const rng = (n: number) => new Uint8Array(randomBytes(n));
const idOf = (i: number) => roster.parties[i]!.id;
const identifierOf = (i: number) => frostIdentifier(roster, roster.parties[i]!);

/** How misbehaving party `party` answers one of its calls: its own answer in, what it sends out. */
type Answer = (res: Response, sessionId: string, party: number) => Promise<Response>;
/** Per party, per request path, its misbehaviour. */
const misbehave = new Map<number, Map<string, Answer>>();

/** What the relay (the coordinator's transport) changes in a request to party `i`, or nothing. */
type RelayChange = (i: number, path: string, body: Record<string, unknown>) => Record<string, unknown>;
let relay: RelayChange | undefined;

/** The gateway's request with its body changed by `relay`, signed again by the gateway. */
function relayed(i: number, path: string, init: RequestInit | undefined): RequestInit | undefined {
  if (!relay) return init;
  const env = JSON.parse(String(init?.body)) as SignedEnvelope<{ body: Record<string, unknown> }>;
  const { signature: _drop, ...meta } = env.meta as typeof env.meta & { signature?: string };
  const changed = signEnvelope(
    { ...env, meta, payload: { ...env.payload, body: relay(i, path, env.payload.body) } } as never,
    gatewayKey.secretKey,
  );
  const text = JSON.stringify(changed);
  // The gateway signs its call header over the changed body's length too.
  return {
    ...init,
    headers: callSigner({ id: 'gateway', key: gatewayKey }, roster.parties).headers(idOf(i), path, text),
    body: text,
  };
}

const fetchApp: typeof fetch = async (input, init) => {
  const url = new URL(String(input));
  const i = roster.parties.findIndex((p) => new URL(p.url).host === url.host);
  const res = await apps[i]!.app.request(url.pathname, relayed(i, url.pathname, init));
  const answer = misbehave.get(i)?.get(url.pathname);
  if (!answer) return res;
  const request = JSON.parse(String(init?.body)) as { payload: { session_id: string } };
  // A misbehaving party's error answer is its own: signed by it for this request.
  return signedAsParty(set, i, String(init?.body), await answer(res, request.payload.session_id, i));
};

const client = () => new PartyClient({ roster, caller: { id: 'gateway', key: gatewayKey }, fetch: fetchApp });

/** Run `f` with the given parties misbehaving on `path` as `answer` says. */
async function withMisbehaving<T>(
  parties: readonly number[],
  path: string,
  answer: Answer,
  f: () => Promise<T>,
): Promise<T> {
  for (const i of parties) misbehave.set(i, new Map([[path, answer]]));
  try {
    return await f();
  } finally {
    for (const i of parties) misbehave.delete(i);
  }
}

/** An error body naming `culprits` (signed by the party in `fetchApp`: its claim). */
const errorBody =
  (code: string, culprits: readonly string[] = [], status = 422): Answer =>
  async () =>
    new Response(JSON.stringify({ error: { code, message: 'refused', culprits } }), {
      status,
      headers: { 'content-type': 'application/json' },
    });

/** The party's own answer with its body rewritten, signed again with the party's identity key. */
const signedRewrite =
  (rewrite: (body: Record<string, unknown>, sessionId: string) => Record<string, unknown>): Answer =>
  async (res, sessionId, party) => {
    if (!res.ok) return res;
    const env = (await res.json()) as SignedEnvelope<{ body: Record<string, unknown> }>;
    const { signature: _drop, ...meta } = env.meta as typeof env.meta & { signature?: string };
    const forged = signEnvelope(
      { ...env, meta, payload: { ...env.payload, body: rewrite(env.payload.body, sessionId) } } as never,
      keys[party]!.secretKey,
    );
    return new Response(JSON.stringify(forged), {
      status: 200,
      headers: { 'content-type': 'application/json' },
    });
  };

const run = (sessionId: string, extra: Partial<AggregationRunOptions> = {}) =>
  runAggregationOverHttp(client(), {
    circuitId: 'cost-total',
    sessionId,
    inputs: Object.fromEntries(roster.parties.map((p, i) => [p.id, COSTS[i]!])),
    ...extra,
  });

/**
 * Dealer `dealer`'s answer to `agg.deal` with its boxes for `receivers` sealed under another pair's
 * channel key (quality assurance's): signed by the dealer, so every check the coordinator can make
 * passes, and they never open.
 */
function darkBoxesFrom(dealer: number, receivers: readonly number[]): Answer {
  return signedRewrite((body, sessionId) => withDarkBoxes(set, dealer, receivers, sessionId, body));
}

async function failureOf(p: Promise<unknown>): Promise<ProtocolError> {
  const e = await p.then(
    () => expect.unreachable('expected the run to fail'),
    (x: unknown) => x,
  );
  expect(e).toBeInstanceOf(ProtocolError);
  return e as ProtocolError;
}

/**
 * Party `party`'s answer to `agg.deal` replaced by a dealing of `value` to `input` made under
 * `circuit` (its own payload with those commitments and proof, and `payload` fields changed; its
 * decoding hints passed through `hints`), signed with its own identity key, with share boxes
 * sealed and signed to match.
 */
function forgedDealing(
  party: number,
  input: string,
  circuit: ReturnType<typeof loadCircuit>,
  value: number,
  payloadFields: Record<string, unknown> = {},
  hints: (h: Uint8Array) => Uint8Array = (h) => h,
): Answer {
  const dealer = idOf(party);
  return signedRewrite((body, sessionId) => {
    const session = createAggregationSession(getCiphersuite(roster.ciphersuite), {
      circuit,
      sessionId,
      threshold: roster.threshold.min,
      parties: aggregationParties(roster),
    });
    const d = dealInput(session, { input, dealer: identifierOf(party), value }, rng);
    const own = JSON.parse((body.dealing as SignedDealing).payload) as Record<string, unknown>;
    const payload = JSON.stringify({
      ...own,
      commitments: base64Encode(concatBytes(...d.commitments)),
      hints: base64Encode(hints(concatBytes(...(d.hints ?? [])))),
      proofs: [d.rangeProof ? base64Encode(d.rangeProof) : null],
      ...payloadFields,
    });
    const channels = new ChannelKeys(keys[party]!, dealer);
    return {
      dealing: signDealerPayload(keys[party]!, payload),
      sealed: roster.parties.map((receiver) =>
        sealShares({
          identity: keys[party]!,
          channels,
          session: sessionId,
          dealer,
          receiver,
          rosterDigest: rosterDigest(roster),
          payload,
          shares: [d.shares[frostIdentifier(roster, receiver)]!],
        }),
      ),
    };
  });
}

/**
 * Strategy's answer to agg.deal: a dealing of 1.5e9 (over cost-total's 1e9 maximum) made under a
 * circuit whose ranges it widened, so its range proof cannot fit the real one.
 */
function strategyOverRange(): Answer {
  const shipped = JSON.parse(readFileSync(join(SHIPPED_CIRCUITS_DIR, 'cost-total.json'), 'utf8')) as {
    inputs: Record<string, unknown>[];
  };
  const widened = loadCircuit({
    ...shipped,
    inputs: shipped.inputs.map((i) => ({ ...i, range: { min: 0, max: 2_000_000_000 } })),
  });
  return forgedDealing(STRATEGY, 'cost.strategy', widened, 1_500_000_000);
}

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

describe('round 2 (agg.evaluate): an evaluator that fails or accuses is left out', () => {
  it('one party framing an honest dealer is left out, the outputs open from the others, nobody is blamed (R1)', async () => {
    const framing = errorBody('INVALID_DEALING', [identifierOf(MONITORING)]);
    for (const session of ['frame-1', 'frame-2']) {
      const out = await withMisbehaving([AUDIT], '/v1/agg/evaluate', framing, () => run(session));
      expect(out.result.total_cost).toBe(TOTAL);
      expect(out.culprits).toEqual([]);
      expect(out.openers).not.toContain(idOf(AUDIT));
      expect(out.leftOut).toEqual([
        { party: idOf(AUDIT), code: 'INVALID_DEALING', claimedCulprits: [idOf(MONITORING)] },
      ]);
    }
  });

  it('with n - t parties failing or accusing, the t others still open the outputs', async () => {
    const out = await withMisbehaving(
      [QA, AUDIT],
      '/v1/agg/evaluate',
      errorBody('INVALID_RANGE_PROOF', [identifierOf(STRATEGY)]),
      () => run('frame-two'),
    );
    expect(out.result.total_cost).toBe(TOTAL);
    expect(out.culprits).toEqual([]);
    expect(out.openers).toEqual([idOf(MONITORING), idOf(PROBLEM_SOLVER), idOf(STRATEGY)]);
    expect(out.leftOut.map((l) => [l.party, l.claimedCulprits])).toEqual([
      [idOf(QA), [idOf(STRATEGY)]],
      [idOf(AUDIT), [idOf(STRATEGY)]],
    ]);
  });

  it('below t agreeing evaluators the run fails naming nobody as proven; accusers and claims are listed apart', async () => {
    // (Fewer than t accusers leave t others, which open the outputs: the test above.)
    // t accusers: still no proof (culprits stay empty), but at most t - 1 faulty parties means one
    // of them is honest, so the dealer is named by their claims (INVALID_DEALING). Here all three
    // lie, which takes t colluding parties: the trust the threshold expresses.
    const e = await failureOf(
      withMisbehaving(
        [STRATEGY, QA, AUDIT],
        '/v1/agg/evaluate',
        errorBody('INVALID_DEALING', [identifierOf(MONITORING)]),
        () => run('frame-three'),
      ),
    );
    expect(e.code).toBe('INVALID_DEALING');
    expect(e.culprits).toEqual([]);
    expect(e.details['parties']).toEqual([]);
    expect(e.details['named_by_claims']).toEqual([
      { dealer: idOf(MONITORING), accusers: [idOf(STRATEGY), idOf(QA), idOf(AUDIT)].sort() },
    ]);
    expect(e.message).toContain(`${idOf(MONITORING)} dealt shares that 3 evaluators could not use`);
    expect(e.details['evaluators']).toEqual([idOf(MONITORING), idOf(PROBLEM_SOLVER)]);
    expect(e.details['accusers']).toEqual([idOf(STRATEGY), idOf(QA), idOf(AUDIT)]);
    expect(e.details['claimed_culprits']).toEqual([identifierOf(MONITORING)]);
    expect(e.details['claimed_parties']).toEqual([idOf(MONITORING)]);
  });

  it('below t because parties do not answer: their code (worth trying again), nobody blamed', async () => {
    const e = await failureOf(
      withMisbehaving(
        [PROBLEM_SOLVER, QA, AUDIT],
        '/v1/agg/evaluate',
        errorBody('UNAVAILABLE', [], 503),
        () => run('gone-three'),
      ),
    );
    expect(e.code).toBe('UNAVAILABLE');
    expect(e.culprits).toEqual([]);
    expect(e.details['unavailable']).toEqual([idOf(PROBLEM_SOLVER), idOf(QA), idOf(AUDIT)]);
  });

  it('evaluators that sign an answer over other dealings are proven and named: beside t others, or failing the run', async () => {
    const otherDealings = signedRewrite((body) => ({ ...body, dealings_digest: 'ab'.repeat(32) }));
    const one = await withMisbehaving([QA], '/v1/agg/evaluate', otherDealings, () => run('digest-one'));
    expect(one.result.total_cost).toBe(TOTAL);
    expect(one.culprits).toEqual([idOf(QA)]);
    const e = await failureOf(
      withMisbehaving([STRATEGY, QA, AUDIT], '/v1/agg/evaluate', otherDealings, () => run('digest-three')),
    );
    expect(e.code).toBe('QUORUM_UNREACHABLE');
    expect(e.culprits).toEqual([identifierOf(STRATEGY), identifierOf(QA), identifierOf(AUDIT)]);
    expect(e.details['accusers']).toEqual([]);
  });

  it('an evaluator that signs wrong result share bytes is named by the opening, and the others open', async () => {
    const wrong = signedRewrite((body) => ({
      ...body,
      result_shares: (body.result_shares as { output: string; share: string; blinding: string }[]).map(
        (r) => ({
          ...r,
          blinding: r.share,
        }),
      ),
    }));
    const out = await withMisbehaving([MONITORING], '/v1/agg/evaluate', wrong, () => run('wrong-shares'));
    expect(out.result.total_cost).toBe(TOTAL);
    expect(out.culprits).toEqual([idOf(MONITORING)]);
  });

  it('an evaluator that signs an answer without one result share per output is named and left out, the others open', async () => {
    // Each answer carries the right dealings_digest, signed by the party itself.
    const shapes: [string, (shares: unknown[]) => unknown][] = [
      ['none', () => []],
      ['missing', () => undefined],
      ['not-a-list', () => 'none'],
      ['twice', (shares) => [...shares, ...shares]],
      ['other-output', (shares) => shares.map((r) => ({ ...(r as object), output: 'other' }))],
    ];
    for (const [name, shape] of shapes) {
      const answer = signedRewrite((body) => ({
        ...body,
        result_shares: shape(body.result_shares as unknown[]),
      }));
      const out = await withMisbehaving([MONITORING], '/v1/agg/evaluate', answer, () =>
        run(`shares-${name}`),
      );
      expect(out.result.total_cost).toBe(TOTAL);
      expect(out.culprits).toEqual([idOf(MONITORING)]);
      expect(out.openers).not.toContain(idOf(MONITORING));
      expect(out.leftOut).toEqual([
        { party: idOf(MONITORING), code: 'INVALID_OPENING', claimedCulprits: [] },
      ]);
    }
  });

  it('n - t + 1 evaluators signing answers without result shares fail the run naming them (they do not count toward t)', async () => {
    const empty = signedRewrite((body) => ({ ...body, result_shares: 'none' }));
    const e = await failureOf(
      withMisbehaving([STRATEGY, QA, AUDIT], '/v1/agg/evaluate', empty, () => run('shares-none-three')),
    );
    expect(e.code).toBe('QUORUM_UNREACHABLE');
    expect(e.culprits).toEqual([identifierOf(STRATEGY), identifierOf(QA), identifierOf(AUDIT)]);
    expect(e.details['parties']).toEqual([idOf(STRATEGY), idOf(QA), idOf(AUDIT)]);
    expect(e.details['evaluators']).toEqual([idOf(MONITORING), idOf(PROBLEM_SOLVER)]);
    expect(e.details['accusers']).toEqual([]);
  });

  it('a dealer whose signed dealing fails the public checks is proven and named, not the parties that refused it', async () => {
    // Strategy deals 1.5e9 (over the 1e9 maximum) under a circuit whose ranges it widened: its
    // range proof cannot fit the real one. Every honest evaluator refuses; the coordinator checks
    // the signed dealing itself.
    const forge = strategyOverRange();
    const e = await failureOf(withMisbehaving([STRATEGY], '/v1/agg/deal', forge, () => run('forged-range')));
    expect(e.code).toBe('INVALID_RANGE_PROOF');
    expect(e.culprits).toEqual([identifierOf(STRATEGY)]);
    expect(e.details['parties']).toEqual([idOf(STRATEGY)]);
  });

  it('a dealer that signs one wrong decoding hint (all else right) is the only party named, no honest receiver "proven" a liar', async () => {
    // The hint fails every receiver's batched check. It is a public fault of the dealer
    // (checkPublicDealing decodes with the hints), so receivers do not complain about it: a
    // complaint would be judged by the shares, which check out, and "prove" the receiver a liar.
    const costTotal = loadCircuit(
      JSON.parse(readFileSync(join(SHIPPED_CIRCUITS_DIR, 'cost-total.json'), 'utf8')),
    );
    const spoilC1 = (h: Uint8Array) => {
      const out = Uint8Array.from(h);
      out[32] = out[32]! ^ 1; // the hint of C_1: one bit off; C_1 itself is right
      return out;
    };
    const forge = forgedDealing(STRATEGY, 'cost.strategy', costTotal, 7, {}, spoilC1);
    const e = await failureOf(withMisbehaving([STRATEGY], '/v1/agg/deal', forge, () => run('bad-hint')));
    expect(e.details['parties']).toEqual([idOf(STRATEGY)]);
  });
});

describe('round 1 (agg.deal): a party is a culprit only for what its signed answer proves', () => {
  it('an error answer to agg.deal blames nobody: neither the party it names nor the one it came from (R1b)', async () => {
    // An error body is unsigned: anything on the path could have sent it, in either party's name.
    const e = await failureOf(
      withMisbehaving([AUDIT], '/v1/agg/deal', errorBody('INVALID_DEALING', [identifierOf(STRATEGY)]), () =>
        run('frame-deal'),
      ),
    );
    expect(e.code).toBe('INVALID_DEALING');
    expect(e.culprits).toEqual([]);
    expect(e.details['parties']).toEqual([]);
    expect(e.details['refused']).toEqual([idOf(AUDIT)]);
    expect(e.details['errors']).toEqual([
      { party: idOf(AUDIT), code: 'INVALID_DEALING', claimed_culprits: [identifierOf(STRATEGY)] },
    ]);
  });

  it('an honest party whose request arrived too slowly (408) is listed unavailable, not blamed', async () => {
    const e = await failureOf(
      withMisbehaving([QA], '/v1/agg/deal', errorBody('REQUEST_TIMEOUT', [], 408), () => run('slow-deal')),
    );
    expect(e.code).toBe('REQUEST_TIMEOUT');
    expect(e.culprits).toEqual([]);
    expect(e.details['unavailable']).toEqual([idOf(QA)]);
  });

  it('a party that provides an input but answers with no dealing is named', async () => {
    const e = await failureOf(
      withMisbehaving(
        [QA],
        '/v1/agg/deal',
        signedRewrite(() => ({ dealing: null, sealed: [] })),
        () => run('no-dealing'),
      ),
    );
    expect(e.code).toBe('INVALID_DEALING');
    expect(e.culprits).toEqual([identifierOf(QA)]);
  });

  it('a party that does not answer is listed unavailable, not blamed, and the code says try again', async () => {
    const e = await failureOf(
      withMisbehaving(
        [PROBLEM_SOLVER],
        '/v1/agg/deal',
        errorBody('UNAVAILABLE', [identifierOf(AUDIT)], 503),
        () => run('gone-deal'),
      ),
    );
    expect(e.code).toBe('UNAVAILABLE');
    expect(e.culprits).toEqual([]);
    expect(e.details['unavailable']).toEqual([idOf(PROBLEM_SOLVER)]);
  });
});

describe('the subject a dealer signs: the one it was sent', () => {
  it('a dealer that signs its dealing on another subject is named before round 2', async () => {
    const circuit = loadCircuit(
      JSON.parse(readFileSync(join(SHIPPED_CIRCUITS_DIR, 'cost-total.json'), 'utf8')),
    );
    // Sent a sealed input, audit signs that it dealt on a derived subject: the evaluators could
    // only refuse the round blaming nobody; the coordinator knows what it sent.
    const forge = forgedDealing(AUDIT, 'cost.audit', circuit, COSTS[AUDIT]!, { subject: 'ab'.repeat(32) });
    const e = await failureOf(withMisbehaving([AUDIT], '/v1/agg/deal', forge, () => run('other-subject')));
    expect(e.code).toBe('INVALID_DEALING');
    expect(e.culprits).toEqual([identifierOf(AUDIT)]);
    // Signed honestly, the same forged round opens: the check is the subject alone.
    const honest = forgedDealing(AUDIT, 'cost.audit', circuit, COSTS[AUDIT]!);
    const out = await withMisbehaving([AUDIT], '/v1/agg/deal', honest, () => run('same-subject'));
    expect(out.result.total_cost).toBe(TOTAL);
  });
});

describe('complaints: a dealer whose box opens to shares its commitments refute', () => {
  /**
   * Party `party`'s own dealing, with its boxes for `receivers` sealed over `boxOf` of its shares of
   * another value (default: that share alone).
   */
  const badSharesFor = (
    party: number,
    receivers: readonly number[],
    boxOf: (share: InputShare) => InputShare[] = (share) => [share],
  ): Answer =>
    signedRewrite((body, sessionId) => {
      const session = createAggregationSession(getCiphersuite(roster.ciphersuite), {
        circuit: loadCircuit(JSON.parse(readFileSync(join(SHIPPED_CIRCUITS_DIR, 'cost-total.json'), 'utf8'))),
        sessionId,
        threshold: roster.threshold.min,
        parties: aggregationParties(roster),
      });
      const other = dealInput(
        session,
        { input: `cost.${ROLES[party]}`, dealer: identifierOf(party), value: 5 },
        rng,
      );
      const payload = (body.dealing as SignedDealing).payload;
      const channels = new ChannelKeys(keys[party]!, idOf(party));
      const sealed = (body.sealed as { party: string }[]).map((item) => {
        const r = roster.parties.findIndex((p) => p.id === item.party);
        if (!receivers.includes(r)) return item;
        return sealShares({
          identity: keys[party]!,
          channels,
          session: sessionId,
          dealer: idOf(party),
          receiver: roster.parties[r]!,
          rosterDigest: rosterDigest(roster),
          payload,
          shares: boxOf(other.shares[identifierOf(r)]!),
        });
      });
      return { ...body, sealed };
    });

  it('bad shares to n - t + 1 receivers: the run fails naming the dealer, proved by their signed complaints', async () => {
    const e = await failureOf(
      withMisbehaving(
        [PROBLEM_SOLVER],
        '/v1/agg/deal',
        badSharesFor(PROBLEM_SOLVER, [STRATEGY, QA, AUDIT]),
        () => run('complaint-three'),
      ),
    );
    expect(e.code).toBe('INVALID_DEALING');
    expect(e.culprits).toEqual([identifierOf(PROBLEM_SOLVER)]);
    expect(e.details['parties']).toEqual([idOf(PROBLEM_SOLVER)]);
    expect(e.details['complaints']).toEqual(
      [STRATEGY, QA, AUDIT].map((r) => ({
        receiver: idOf(r),
        dealer: idOf(PROBLEM_SOLVER),
        proven: 'dealer',
      })),
    );
  });

  it('bad shares to one receiver: the others open the outputs, the dealer is named, the receiver left out', async () => {
    const out = await withMisbehaving([MONITORING], '/v1/agg/deal', badSharesFor(MONITORING, [AUDIT]), () =>
      run('complaint-one'),
    );
    expect(out.result.total_cost).toBe(TOTAL);
    expect(out.culprits).toEqual([idOf(MONITORING)]);
    expect(out.openers).not.toContain(idOf(AUDIT));
    expect(out.leftOut.map((l) => [l.party, l.code])).toEqual([[idOf(AUDIT), 'INVALID_DEALING']]);
    expect(out.complaints).toEqual([{ receiver: idOf(AUDIT), dealer: idOf(MONITORING), proven: 'dealer' }]);
  });

  it('law: bad shares from any dealer to any receivers name that dealer and nobody else', async () => {
    let run_ = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 0, max: 4 }),
        fc.subarray([0, 1, 2, 3, 4], { minLength: 1 }),
        async (dealer, targets) => {
          const receivers = targets.filter((r) => r !== dealer);
          fc.pre(receivers.length > 0);
          const outcome = await withMisbehaving(
            [dealer],
            '/v1/agg/deal',
            badSharesFor(dealer, receivers),
            () => run(`complaint-law-${run_++}`),
          ).then(
            (out) => ({ culprits: out.culprits, total: out.result.total_cost }),
            (e: unknown) => ({
              culprits: partyIdsOf(roster, (e as ProtocolError).culprits),
              total: undefined,
            }),
          );
          expect(outcome.culprits).toEqual([idOf(dealer)]);
          // Outvoted while t receivers got good shares: the outputs still open.
          if (receivers.length <= roster.parties.length - roster.threshold.min)
            expect(outcome.total).toBe(TOTAL);
        },
      ),
      { numRuns: 6 },
    );
  });

  it('a wrong-length box is still named when another dealer fails a range proof: both dealers are proven', async () => {
    // Problem solver seals monitoring, QA and audit a box twice as long as its inputs (a complaint each);
    // strategy's dealing fails its range proof (public: INVALID_RANGE_PROOF).
    const forge = strategyOverRange();
    // Not strategy's box: it trusts its own (bad) range proof, so only the others see it fail.
    const longBoxes = badSharesFor(PROBLEM_SOLVER, [MONITORING, QA, AUDIT], (share) => [share, share]);
    const both: Answer = (res, sid, party) =>
      party === STRATEGY ? forge(res, sid, party) : longBoxes(res, sid, party);
    const e = await failureOf(
      withMisbehaving([STRATEGY, PROBLEM_SOLVER], '/v1/agg/deal', both, () => run('review-two-dealers')),
    );
    // Both dealers are proven: strategy by its public dealing, problem solver by the complaints.
    expect(e.culprits).toContain(identifierOf(STRATEGY));
    expect(e.culprits).toContain(identifierOf(PROBLEM_SOLVER));
  });

  it('a receiver that signs a false or unreadable complaint is named, and the others open the outputs', async () => {
    const answers: Record<string, (digest: unknown) => Record<string, unknown>> = {
      'wrong-key': (d) => ({
        complaints: [{ dealer: idOf(MONITORING), key: base64Encode(rng(32)) }],
        dealings_digest: d,
      }),
      'own-box': (d) => ({
        complaints: [{ dealer: idOf(QA), key: base64Encode(rng(32)) }],
        dealings_digest: d,
      }),
      stranger: (d) => ({
        complaints: [{ dealer: 'mallory-agent', key: base64Encode(rng(32)) }],
        dealings_digest: d,
      }),
      empty: (d) => ({ complaints: [], dealings_digest: d }),
      'not-a-list': (d) => ({ complaints: 'all of them', dealings_digest: d }),
    };
    for (const [name, answer] of Object.entries(answers)) {
      const out = await withMisbehaving(
        [QA],
        '/v1/agg/evaluate',
        signedRewrite((body) => answer(body.dealings_digest)),
        () => run(`false-complaint-${name}`),
      );
      expect(out.result.total_cost).toBe(TOTAL);
      expect(out.culprits).toEqual([idOf(QA)]);
      expect(out.complaints?.every((c) => c.receiver === idOf(QA) && c.proven === 'receiver')).toBe(true);
    }
  });
});

describe('share boxes (R2): checked when the dealer answers agg.deal', () => {
  type Box = { party: string; box: string; sig: string };
  /** The box with one bit of its signature flipped. */
  const spoiled = (item: Box): Box => {
    const sig = Buffer.from(item.sig, 'base64');
    sig[0]! ^= 1;
    return { ...item, sig: sig.toString('base64') };
  };
  const boxesRewritten = (change: (sealed: Box[]) => Box[]): Answer =>
    signedRewrite((body) => ({ ...body, sealed: change(body.sealed as Box[]) }));

  it('a dealer whose boxes for n - t + 1 receivers carry bad signatures is named (R2)', async () => {
    const e = await failureOf(
      withMisbehaving(
        [PROBLEM_SOLVER],
        '/v1/agg/deal',
        boxesRewritten((sealed) => sealed.map((b, k) => (k >= 2 ? spoiled(b) : b))),
        () => run('boxes-three'),
      ),
    );
    expect(e.code).toBe('INVALID_DEALING');
    expect(e.culprits).toEqual([identifierOf(PROBLEM_SOLVER)]);
    expect(e.details['parties']).toEqual([idOf(PROBLEM_SOLVER)]);
    expect(e.details['errors']).toEqual([
      {
        party: idOf(PROBLEM_SOLVER),
        code: 'INVALID_DEALING',
        share_boxes: {
          missing: [],
          duplicated: [],
          badly_signed: [idOf(STRATEGY), idOf(QA), idOf(AUDIT)],
          unexpected: 0,
        },
      },
    ]);
  });

  it("a dealer that spoils only the strategy party's box is named, not left to stall pooled risk (R2b)", async () => {
    const e = await failureOf(
      withMisbehaving(
        [MONITORING],
        '/v1/agg/deal',
        boxesRewritten((sealed) => sealed.map((b) => (b.party === idOf(STRATEGY) ? spoiled(b) : b))),
        () => run('boxes-strategy', { confirm: true }),
      ),
    );
    expect(e.code).toBe('INVALID_DEALING');
    expect(e.culprits).toEqual([identifierOf(MONITORING)]);
  });

  it('a dealer whose signed boxes for n - t + 1 receivers never open is named by their claims, not a stall naming nobody', async () => {
    // Audit deals honestly but seals its boxes for three receivers under another pair's channel
    // key: they are signed by audit (the coordinator's checks pass) and never open. Which of the
    // two sealed it wrong, nobody but them can tell, so it is no proof; but three receivers (t)
    // cannot all be lying while fewer than t parties are faulty.
    const dark = darkBoxesFrom(AUDIT, [MONITORING, PROBLEM_SOLVER, STRATEGY]);
    const e = await failureOf(withMisbehaving([AUDIT], '/v1/agg/deal', dark, () => run('dark-boxes')));
    expect(e.code).toBe('INVALID_DEALING');
    expect(e.details['named_by_claims']).toEqual([
      { dealer: idOf(AUDIT), accusers: [idOf(MONITORING), idOf(PROBLEM_SOLVER), idOf(STRATEGY)].sort() },
    ]);
    expect(e.message).toContain(`${idOf(AUDIT)} dealt shares that 3 evaluators could not use`);
    // The same dealer spoiling fewer boxes (two) is no stall: the three others open the outputs.
    const fewer = darkBoxesFrom(AUDIT, [MONITORING, PROBLEM_SOLVER]);
    const out = await withMisbehaving([AUDIT], '/v1/agg/deal', fewer, () => run('dark-two'));
    expect(out.result.total_cost).toBe(TOTAL);
  });

  it('a dealer that omits a box, sends two for one receiver, or one for a party outside the roster is named', async () => {
    const changes: Record<string, (sealed: Box[]) => Box[]> = {
      omitted: (sealed) => sealed.filter((b) => b.party !== idOf(QA)),
      duplicated: (sealed) => [...sealed, sealed[0]!],
      stranger: (sealed) => [...sealed, { ...sealed[0]!, party: 'mallory-agent' }],
      none: () => [],
    };
    for (const [name, change] of Object.entries(changes)) {
      const e = await failureOf(
        withMisbehaving([AUDIT], '/v1/agg/deal', boxesRewritten(change), () => run(`boxes-${name}`)),
      );
      expect(e.code).toBe('INVALID_DEALING');
      expect(e.culprits).toEqual([identifierOf(AUDIT)]);
    }
  });

  it('a box changed on the way: its receiver refuses and is left out, no dealer is blamed, the others open', async () => {
    relay = (i, path, body) => {
      if (i !== QA || path !== '/v1/agg/evaluate') return body;
      const [first, ...rest] = body.shares as Box[];
      return { ...body, shares: [spoiled(first!), ...rest] };
    };
    try {
      const out = await run('relay-changed');
      expect(out.result.total_cost).toBe(TOTAL);
      expect(out.culprits).toEqual([]);
      expect(out.leftOut).toEqual([
        { party: idOf(QA), code: 'INCONSISTENT_TRANSCRIPT', claimedCulprits: [] },
      ]);
    } finally {
      relay = undefined;
    }
  });
});

describe('agg.confirm: a refused record says which check and which field failed', () => {
  it('the 400 body carries the check (details.check) and the field (fields), in the {error:{code,message}} shape', async () => {
    const answers: { status: number; body: unknown }[] = [];
    const keep: Answer = async (res) => {
      answers.push({ status: res.status, body: await res.clone().json() });
      return res;
    };
    relay = (i, path, body) =>
      i === MONITORING && path === '/v1/agg/confirm'
        ? { record: (body.record as string).replace(/"threshold":(\d+)/, '"threshold":"$1"') }
        : body;
    try {
      const out = await withMisbehaving([MONITORING], '/v1/agg/confirm', keep, () =>
        run('confirm-field', { confirm: true }),
      );
      expect(out.confirmed).toEqual(roster.parties.slice(1).map((p) => p.id));
    } finally {
      relay = undefined;
    }
    expect(answers).toHaveLength(1);
    expect(answers[0]!.status).toBe(400);
    const error = {
      code: 'VERIFICATION_FAILED',
      message: expect.stringMatching(/^malformed record \(record\.threshold: /),
      fields: ['record.threshold'],
      details: { check: 'aggregation.format' },
    };
    // Beside it, the same error signed by the party for this request (party error answers review).
    expect(answers[0]!.body).toEqual({
      error,
      response: expect.objectContaining({
        payload: expect.objectContaining({ kind: 'agg.confirm', body: { status: 400, error } }),
      }),
    });
  });
});
