/**
 * Hostile bodies at a party's aggregation routes (`agg.deal`, `agg.evaluate`, `agg.confirm`,
 * `agg.reveal`), sent by the coordinator itself (signed, so they reach the handlers): every one is
 * refused with a 4xx `{error: {code, message}}`, never a 500, and leaves nothing behind that
 * blocks the good request that follows.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  bytesToHex,
  encodeAggregationRecordJson,
  generateIdentityKey,
  loadFastBackends,
  utf8,
} from '@aaps/mpc-core';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runAggregationOverHttp } from '../../aggregate.js';
import { callSigner } from '../../call-auth.js';
import { PartyClient } from '../../client.js';
import { defaultPolicy } from '../../policy/defaults.js';
import { rosterDigest } from '../../roster.js';
import { makeRequest, type RpcKind } from '../../rpc.js';
import type { PartyStore } from '../../store/level.js';
import { createPartyApp, type PartyApp } from '../app.js';
import { signInputStatement } from '../signed-input.js';
import { fiveParties, partyDeps, ROLES } from '../test-helpers/five-parties.js';
import {
  inputAad,
  readCircuitCatalog,
  type SealedShares,
  SHIPPED_CIRCUITS_DIR,
  type SignedDealing,
  sealToParty,
} from './aggregation.js';

const dir = mkdtempSync(join(tmpdir(), 'aaps-agg-hostile-'));
const set = fiveParties();
const { roster, gatewayKey } = set;
const digest = rosterDigest(roster);
const stores: PartyStore[] = [];
const circuits = readCircuitCatalog([SHIPPED_CIRCUITS_DIR]);
const ct = circuits.get('cost-total')!;
const wr = circuits.get('weighted-risk')!;
const SUBJECT = {
  incident_id: 'inc-h',
  action: 'image_rollback',
  namespace: 'shop',
  factors: { blast_radius: 1, urgency: 'P2', environment: 'staging' },
};

let apps: PartyApp[];
let client: PartyClient;
/** The last answer each party gave: status and JSON body. */
const last: { status: number; json: unknown }[] = [];

beforeAll(async () => {
  await loadFastBackends();
  apps = await Promise.all(
    ROLES.map(async (_, i) => createPartyApp(await partyDeps(set, i, { dir, stores, rosterDigest: digest }))),
  );
  const fetchApp = async (input: URL | string, init: RequestInit) => {
    const url = new URL(String(input));
    const i = roster.parties.findIndex((p) => new URL(p.url).host === url.host);
    const res = await apps[i]!.app.request(url.pathname, init);
    last[i] = { status: res.status, json: await res.clone().json() };
    return res;
  };
  client = new PartyClient({ roster, caller: { id: 'gateway', key: gatewayKey }, fetch: fetchApp as never });
});

afterAll(async () => {
  await Promise.all((apps ?? []).map((a) => a.drain(0)));
  await Promise.all(stores.map((s) => s.close()));
  rmSync(dir, { recursive: true, force: true });
});

const ctx = { trace_id: 'hostile' };
/** More runs on demand: AGG_HOSTILE_SCALE=10. */
const SCALE = Number(process.env['AGG_HOSTILE_SCALE'] ?? 1);

/** Whether `v` holds a member named `__proto__` at any depth (as `JSON.parse` makes one). */
function hasProtoMember(v: unknown): boolean {
  if (v === null || typeof v !== 'object') return false;
  if (!Array.isArray(v) && Object.hasOwn(v, '__proto__')) return true;
  return Object.values(v).some(hasProtoMember);
}

/**
 * Calls party `i`; the answer's status and body, whatever it was. A body with a member named
 * `__proto__` cannot be signed (canonical JSON refuses the name: JavaScript objects do not keep
 * it), so the sender refuses it, naming it, and no party sees it; such a run is then skipped
 * (`fc.pre`). What a party does with those bytes sent raw is tested on its own below.
 */
async function answer(i: number, kind: RpcKind, session: string, body: unknown) {
  delete last[i];
  if (hasProtoMember(body)) {
    await expect(
      client.call(roster.parties[i]!.id, kind, session, body as Record<string, unknown>, ctx),
    ).rejects.toThrow(/__proto__/);
    expect(last[i], `${kind}: an unsignable body reached the party`).toBeUndefined();
    fc.pre(false);
  }
  try {
    await client.call(roster.parties[i]!.id, kind, session, body as Record<string, unknown>, ctx);
  } catch {
    // the status and body are what count
  }
  expect(last[i], `${kind}: the request reached the party`).toBeDefined();
  return last[i]!;
}

function expectRefused(a: { status: number; json: unknown }, label: string) {
  const error = (a.json as { error?: { code?: unknown; message?: unknown } }).error;
  expect(
    a.status >= 400 && a.status < 500,
    `${label}: status ${a.status} ${JSON.stringify(a.json).slice(0, 300)}`,
  ).toBe(true);
  expect(typeof error?.code, label).toBe('string');
  expect(typeof error?.message, label).toBe('string');
}

function sealedInput(i: number, session: string, value: unknown = 100 * (i + 1)): string {
  const p = roster.parties[i]!;
  const text = JSON.stringify({ values: { [`cost.${ROLES[i]}`]: value } });
  return sealToParty(p, new TextEncoder().encode(text), inputAad(session, 'gateway', p.id, digest));
}

/** Any JSON value, including the awkward ones. */
const hostile = fc.oneof(
  fc.jsonValue(),
  fc.constantFrom(
    null,
    true,
    -1,
    0,
    1e308,
    Number.MAX_SAFE_INTEGER,
    '',
    'x'.repeat(5000),
    '__proto__',
    'constructor',
    'toString',
    [],
    {},
    [null],
    [[]],
    [{}],
    { __proto__: 1 },
    { toString: 1 },
  ),
);

/** `base` with one path (field, or field of an item) replaced by `value`, or deleted (undefined). */
function mutate(base: Record<string, unknown>, path: readonly (string | number)[], value: unknown): unknown {
  const copy = structuredClone(base) as Record<string, unknown>;
  let at: Record<string | number, unknown> = copy;
  for (const k of path.slice(0, -1)) at = at[k] as Record<string | number, unknown>;
  const key = path[path.length - 1]!;
  if (value === undefined && Array.isArray(at)) at.splice(Number(key), 1);
  else if (value === undefined) delete at[key];
  else at[key] = value;
  return copy;
}

describe('agg.deal refuses hostile bodies with 4xx and keeps the session id usable', () => {
  it('arbitrary bodies and bodies with one field replaced', async () => {
    let n = 0;
    const good = (s: string) => ({ circuit: ct.id, circuit_digest: ct.digestHex, input: sealedInput(0, s) });
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          hostile.map((v) => ({ kind: 'whole' as const, v })),
          fc.record({
            kind: fc.constant('field' as const),
            field: fc.constantFrom('circuit', 'circuit_digest', 'input', 'derive'),
            v: fc.option(hostile, { nil: undefined }),
          }),
        ),
        async (m) => {
          const session = `deal-h-${n++}`;
          const body =
            m.kind === 'whole'
              ? m.v
              : m.field === 'derive' && m.v === undefined
                ? undefined
                : mutate(good(session), [m.field], m.v);
          if (body === undefined) return;
          const a = await answer(0, 'agg.deal', session, body);
          if (a.status === 200) return; // a mutation that happens to stay a good body
          expectRefused(a, `deal ${JSON.stringify(body).slice(0, 200)}`);
          // The session id stays free: the good body deals.
          const ok = await answer(0, 'agg.deal', session, good(session));
          expect(ok.status, JSON.stringify(ok.json).slice(0, 300)).toBe(200);
        },
      ),
      { numRuns: 40 * SCALE },
    );
  });

  it('sealed inputs holding hostile values', async () => {
    let n = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          hostile,
          fc.bigInt().map((b) => b.toString()),
          fc.constantFrom('1e3', '0x10', ' 5', '5 ', '-0', '+5', '05', '1.5', '99999999999999999999999999'),
        ),
        async (v) => {
          const session = `deal-v-${n++}`;
          const a = await answer(0, 'agg.deal', session, {
            circuit: ct.id,
            circuit_digest: ct.digestHex,
            input: sealedInput(0, session, v),
          });
          if (a.status === 200) return;
          expectRefused(a, `value ${JSON.stringify(v).slice(0, 100)}`);
        },
      ),
      { numRuns: 60 * SCALE },
    );
  });

  it('derive subjects with hostile fields', async () => {
    let n = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(
          ['incident_id'],
          ['action'],
          ['namespace'],
          ['factors'],
          ['factors', 'blast_radius'],
          ['factors', 'urgency'],
          ['factors', 'environment'],
        ),
        fc.option(hostile, { nil: undefined }),
        async (path, v) => {
          const session = `derive-h-${n++}`;
          const derive = mutate(SUBJECT, path, v);
          const a = await answer(1, 'agg.deal', session, {
            circuit: wr.id,
            circuit_digest: wr.digestHex,
            derive,
          });
          if (a.status === 200) return;
          expectRefused(a, `derive ${JSON.stringify(derive).slice(0, 200)}`);
        },
      ),
      { numRuns: 60 * SCALE },
    );
  });
});

describe('agg.deal refuses hostile sealed boxes (what the box holds), with and without input_signers', () => {
  it('plain and signed boxes with hostile contents', async () => {
    const signerKey = generateIdentityKey();
    const policy = defaultPolicy(ROLES[3]!);
    const withSigners = await createPartyApp({
      ...(await partyDeps(set, 3, {
        dir,
        stores,
        rosterDigest: digest,
        policy: {
          ...policy,
          aggregation: { input_signers: [{ id: 'finance', public_key: bytesToHex(signerKey.publicKey) }] },
        } as never,
      })),
    });
    const signedLast: { status: number; json: unknown }[] = [];
    const signedClient = new PartyClient({
      roster,
      caller: { id: 'gateway', key: gatewayKey },
      fetch: (async (input: URL | string, init: RequestInit) => {
        const res = await withSigners.app.request(new URL(String(input)).pathname, init);
        signedLast[0] = { status: res.status, json: await res.clone().json() };
        return res;
      }) as never,
    });
    const p3 = roster.parties[3]!;
    const seal = (session: string, plain: Uint8Array) =>
      sealToParty(p3, plain, inputAad(session, 'gateway', p3.id, digest));
    const goodStatement = (session: string) => ({
      type: 'aaps-agg-signed-input/v1',
      session,
      party: p3.id,
      roster: digest,
      circuit: ct.digestHex,
      signer: 'finance',
      values: { [`cost.${ROLES[3]}`]: '12345' },
    });
    const box = fc.oneof(
      hostile.map((v) => JSON.stringify(v) ?? 'null'),
      fc.string(),
      fc.uint8Array({ maxLength: 64 }).map((b) => Buffer.from(b).toString('latin1')),
      hostile.map((v) => JSON.stringify({ values: v }) ?? '{}'),
      hostile.map((v) => JSON.stringify({ values: { [`cost.${ROLES[3]}`]: v } }) ?? '{}'),
      fc
        .record({
          path: fc.constantFrom<(string | number)[]>(
            ['type'],
            ['session'],
            ['party'],
            ['roster'],
            ['circuit'],
            ['signer'],
            ['values'],
            ['values', `cost.${ROLES[3]}`],
            ['extra'],
          ),
          v: fc.option(hostile, { nil: undefined }),
          sig: fc.option(hostile, { nil: undefined }),
          real: fc.boolean(),
        })
        .map((m) => ({ ...m, kind: 'statement' as const })),
    );
    let n = 0;
    await fc.assert(
      fc.asyncProperty(box, async (b) => {
        const session = `box-h-${n++}`;
        let text: string;
        if (typeof b === 'string') text = b;
        else {
          const statement = mutate(goodStatement(session), b.path, b.v) as never;
          const sig = b.real
            ? signInputStatement(goodStatement(session) as never, signerKey.secretKey).sig
            : b.sig;
          text = JSON.stringify({ statement, ...(sig === undefined ? {} : { sig }) });
        }
        const body = { circuit: ct.id, circuit_digest: ct.digestHex, input: seal(session, utf8(text)) };
        for (const [c, lastOf] of [
          [client, () => last[3]!],
          [signedClient, () => signedLast[0]!],
        ] as const) {
          delete last[3];
          delete signedLast[0];
          try {
            await c.call(p3.id, 'agg.deal', session, body, ctx);
          } catch {
            // judged by status below
          }
          const a = lastOf();
          expect(a, 'the request reached the party').toBeDefined();
          if (a.status === 200) continue;
          expectRefused(a, `box ${text.slice(0, 200)}`);
        }
        // The session id stays free at the party with signers: a good signed box deals.
        const good = seal(
          session,
          utf8(JSON.stringify(signInputStatement(goodStatement(session) as never, signerKey.secretKey))),
        );
        if (signedLast[0]!.status !== 200) {
          try {
            await signedClient.call(
              p3.id,
              'agg.deal',
              session,
              { circuit: ct.id, circuit_digest: ct.digestHex, input: good },
              ctx,
            );
          } catch {
            // judged below
          }
          expect(signedLast[0]!.status, JSON.stringify(signedLast[0]!.json).slice(0, 300)).toBe(200);
        }
      }),
      { numRuns: 40 * SCALE },
    );
    await withSigners.drain(0);
  });
});

describe('a body with a duplicated key', () => {
  /** Party 0's answer to `text`, sent as the coordinator sends a call. */
  async function raw(text: string) {
    const res = await apps[0]!.app.request('/v1/agg/deal', {
      method: 'POST',
      headers: callSigner({ id: 'gateway', key: gatewayKey }, roster.parties).headers(
        roster.parties[0]!.id,
        '/v1/agg/deal',
        text,
      ),
      body: text,
    });
    return { status: res.status, json: (await res.json()) as unknown };
  }
  const signed = (session: string) =>
    JSON.stringify(
      makeRequest(
        { id: 'gateway', key: gatewayKey },
        roster.parties[0]!.id,
        'agg.deal',
        session,
        { circuit: ct.id, circuit_digest: ct.digestHex, input: sealedInput(0, session) },
        ctx,
      ),
    );

  // JSON.parse keeps the last of two equal keys and other parsers the first: a party refuses
  // either order (400 DECODE_FAILED naming the key) before the signature is checked, so neither an
  // earlier hostile value the signature does not cover nor a later one is ever read.
  it('an earlier hostile value is refused (400 naming the key), and the session id stays free', async () => {
    const good = signed('dup-1');
    const text = good.replace('"body":{', '"body":{"circuit":"approval-tally","circuit_digest":7,');
    expect(text).toContain('"circuit":"approval-tally"');
    const a = await raw(text);
    expectRefused(a, 'duplicate key before');
    expect((a.json as { error: { code: string; fields: string[] } }).error).toMatchObject({
      code: 'DECODE_FAILED',
      fields: ['payload.body.circuit'],
    });
    expect((await raw(good)).status).toBe(200);
  });

  it('a later value the signature does not cover is refused (400 naming the key), and the session id stays free', async () => {
    const good = signed('dup-2');
    const text = good.replace(/\}\}\}$/, ',"circuit":"approval-tally"}}}');
    expect(text).not.toBe(good);
    const a = await raw(text);
    expectRefused(a, 'duplicate key after');
    expect((a.json as { error: { code: string } }).error.code).toBe('DECODE_FAILED');
    expect((await raw(good)).status).toBe(200);
  });

  it('a member named __proto__, which no sender can sign, is refused (4xx), and the session id stays free', async () => {
    const good = signed('proto-1');
    for (const text of [
      good.replace('"body":{', '"body":{"__proto__":{"circuit":"approval-tally"},'),
      good.replace(/\}\}\}$/, ',"__proto__":{}}}}'),
      good.replace('"meta":{', '"meta":{"__proto__":{},'),
    ]) {
      expect(text).not.toBe(good);
      expectRefused(await raw(text), `__proto__ in ${text.slice(0, 60)}`);
    }
    expect((await raw(good)).status).toBe(200);
  });
});

describe('agg.evaluate, agg.reveal and agg.confirm refuse hostile bodies with 4xx; the good request still works', () => {
  it('agg.evaluate', async () => {
    const session = 'eval-h';
    const dealt = (await Promise.all(
      ROLES.map((_, i) =>
        client.call(
          roster.parties[i]!.id,
          'agg.deal',
          session,
          { circuit: ct.id, circuit_digest: ct.digestHex, input: sealedInput(i, session) },
          ctx,
        ),
      ),
    )) as unknown as { dealing: SignedDealing; sealed: SealedShares[] }[];
    const me = roster.parties[0]!.id;
    const good = {
      dealings: dealt.map((d) => d.dealing),
      shares: dealt.map((d, i) => {
        const item = d.sealed.find((s) => s.party === me)!;
        return { party: roster.parties[i]!.id, box: item.box, sig: item.sig };
      }),
    };
    const paths: (string | number)[][] = [
      ['dealings'],
      ['shares'],
      ['excluded'],
      ['revealed'],
      ['dealings', 0],
      ['dealings', 3],
      ['dealings', 1, 'payload'],
      ['dealings', 1, 'sig'],
      ['shares', 0],
      ['shares', 2],
      ['shares', 2, 'party'],
      ['shares', 2, 'box'],
      ['shares', 2, 'sig'],
    ];
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          hostile.map((v) => ({ path: undefined, v })),
          fc.record({ path: fc.constantFrom(...paths), v: fc.option(hostile, { nil: undefined }) }),
        ),
        async (m) => {
          // Absent or empty, `excluded` and `revealed` are a plain first round: a good body.
          const optional = m.path?.length === 1 && m.path[0] !== 'dealings' && m.path[0] !== 'shares';
          if (optional && (m.v === undefined || (Array.isArray(m.v) && m.v.length === 0))) return;
          const body = m.path === undefined ? m.v : mutate(good, m.path, m.v);
          const a = await answer(0, 'agg.evaluate', session, body);
          expect(a.status, 'a hostile body must not evaluate').not.toBe(200);
          expectRefused(a, `evaluate ${JSON.stringify(body).slice(0, 200)}`);
        },
      ),
      { numRuns: 80 * SCALE },
    );
    const ids = roster.parties.map((p) => p.id);
    const d = good.dealings;
    const structural: [string, unknown][] = [
      ['a dealing twice, one missing', { ...good, dealings: [d[0], d[0], d[2], d[3], d[4]] }],
      ['a dealing twice, none missing', { ...good, dealings: [...d, d[1]] }],
      ['own dealing missing', { ...good, dealings: d.slice(1) }],
      ['no dealings', { ...good, dealings: [] }],
      ['a box twice', { ...good, shares: [...good.shares, good.shares[1]] }],
      ['a box missing', { ...good, shares: good.shares.slice(0, 4) }],
      [
        'a box under another dealer',
        { ...good, shares: good.shares.map((x, i) => (i === 2 ? { ...x, party: ids[3] } : x)) },
      ],
      ['a dealer excluded on the coordinator word', { ...good, excluded: [ids[3]] }],
      ['a dealer excluded twice', { ...good, excluded: [ids[3], ids[3]] }],
      ['itself excluded', { ...good, excluded: [ids[0]] }],
      ['a stranger excluded', { ...good, excluded: ['nobody'] }],
      [
        'an exclusion with hostile proofs',
        {
          ...good,
          excluded: [ids[3]],
          exclusion_proofs: { [ids[3]!]: { [ids[1]!]: 'AAAA', [ids[2]!]: 7, [ids[4]!]: null } },
        },
      ],
      [
        'revealed shares never asked for',
        { ...good, revealed: [{ party: ids[3], shares: 'AAAA', sig: 'AAAA' }] },
      ],
      ['revealed shares of wrong types', { ...good, revealed: [{ party: ids[3], shares: 5, sig: [] }] }],
      [
        'revealed shares twice',
        {
          ...good,
          revealed: [
            { party: ids[3], shares: '', sig: '' },
            { party: ids[3], shares: '', sig: '' },
          ],
        },
      ],
      [
        'revealed and excluded',
        { ...good, excluded: [ids[3]], revealed: [{ party: ids[3], shares: '', sig: '' }] },
      ],
    ];
    // Dealer 1's signed dealing (and box) from another round, relayed into this one.
    const other = (await client.call(
      ids[1]!,
      'agg.deal',
      'eval-h-other',
      { circuit: ct.id, circuit_digest: ct.digestHex, input: sealedInput(1, 'eval-h-other') },
      ctx,
    )) as unknown as { dealing: SignedDealing; sealed: SealedShares[] };
    const otherBox = other.sealed.find((x) => x.party === me)!;
    structural.push(
      ['a dealing of another round', { ...good, dealings: d.map((x, i) => (i === 1 ? other.dealing : x)) }],
      [
        'a dealing and box of another round',
        {
          dealings: d.map((x, i) => (i === 1 ? other.dealing : x)),
          shares: good.shares.map((x, i) =>
            i === 1 ? { party: ids[1], box: otherBox.box, sig: otherBox.sig } : x,
          ),
        },
      ],
      [
        'a box of another round',
        {
          ...good,
          shares: good.shares.map((x, i) =>
            i === 1 ? { party: ids[1], box: otherBox.box, sig: otherBox.sig } : x,
          ),
        },
      ],
    );
    for (const [label, body] of structural) {
      const a = await answer(0, 'agg.evaluate', session, body);
      expect(a.status, `${label}: must not evaluate`).not.toBe(200);
      expectRefused(a, label);
    }
    for (const s of ['__proto__', 'constructor', 'x'.repeat(4000), '', 'eval-h/../x']) {
      expectRefused(await answer(0, 'agg.evaluate', s, good), `session ${s.slice(0, 20)}`);
      expectRefused(await answer(0, 'agg.confirm', s, { record: 'x' }), `confirm session ${s.slice(0, 20)}`);
      expectRefused(
        await answer(0, 'agg.reveal', s, { receivers: [ids[1]], requests: {} }),
        `reveal session ${s.slice(0, 20)}`,
      );
      if (!/^[A-Za-z0-9._:-]{1,128}$/.test(s))
        expectRefused(
          await answer(0, 'agg.deal', s, {
            circuit: ct.id,
            circuit_digest: ct.digestHex,
            input: sealedInput(0, s),
          }),
          `deal session ${s.slice(0, 20)}`,
        );
    }
    const ok = await answer(0, 'agg.evaluate', session, good);
    expect(ok.status, JSON.stringify(ok.json).slice(0, 300)).toBe(200);
  });

  it('agg.reveal', async () => {
    const session = 'reveal-h';
    await client.call(
      roster.parties[2]!.id,
      'agg.deal',
      session,
      { circuit: ct.id, circuit_digest: ct.digestHex, input: sealedInput(2, session) },
      ctx,
    );
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          hostile,
          fc.record({ receivers: hostile, requests: hostile }),
          fc.record({
            receivers: fc.subarray(roster.parties.map((p) => p.id)),
            requests: fc.oneof(
              hostile,
              fc.dictionary(fc.constantFrom(...roster.parties.map((p) => p.id)), hostile),
            ),
          }),
        ),
        async (body) => {
          const a = await answer(2, 'agg.reveal', session, body);
          expect(a.status, 'nothing is revealed without signed requests').not.toBe(200);
          expectRefused(a, `reveal ${JSON.stringify(body).slice(0, 200)}`);
        },
      ),
      { numRuns: 80 * SCALE },
    );
  });

  it('a round under a session id named like an Object property runs and is confirmed', async () => {
    for (const sessionId of ['__proto__', 'constructor', 'hasOwnProperty']) {
      const outcome = await runAggregationOverHttp(client, {
        circuitId: wr.id,
        sessionId,
        derive: SUBJECT,
        circuits,
        confirm: true,
      } as never);
      expect(outcome.confirmed?.length, sessionId).toBe(5);
    }
  });

  it('agg.confirm', async () => {
    const outcome = await runAggregationOverHttp(client, {
      circuitId: ct.id,
      sessionId: 'confirm-h',
      inputs: Object.fromEntries(roster.parties.map((p, i) => [p.id, i + 1])),
      circuits,
    });
    const text = encodeAggregationRecordJson(outcome.record);
    const record = JSON.parse(text) as Record<string, unknown>;
    const paths: (string | number)[][] = [
      ['v'],
      ['suite'],
      ['sessionId'],
      ['threshold'],
      ['parties'],
      ['parties', 0],
      ['parties', 0, 'id'],
      ['circuit'],
      ['inputs'],
      ['inputs', 1],
      ['inputs', 1, 'commitmentHex'],
      ['inputs', 1, 'rangeProofHex'],
      ['outputs'],
      ['outputs', 0, 'value'],
      ['outputs', 0, 'blindingHex'],
      ['excluded'],
    ];
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          hostile.map((v) => v),
          fc.record({ record: hostile }),
          fc
            .record({ path: fc.constantFrom(...paths), v: fc.option(hostile, { nil: undefined }) })
            .map((m) => ({ record: JSON.stringify(mutate(record, m.path, m.v)) })),
        ),
        async (body) => {
          if (
            typeof (body as { record?: unknown })?.record === 'string' &&
            (body as { record: string }).record === text
          )
            return;
          const a = await answer(0, 'agg.confirm', 'confirm-h', body);
          expect(a.status, 'a hostile record must not be confirmed').not.toBe(200);
          expectRefused(a, `confirm ${JSON.stringify(body).slice(0, 200)}`);
        },
      ),
      { numRuns: 80 * SCALE },
    );
    const ok = await answer(0, 'agg.confirm', 'confirm-h', { record: text });
    expect(ok.status, JSON.stringify(ok.json).slice(0, 300)).toBe(200);
  });
});
