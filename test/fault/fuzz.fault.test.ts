/**
 * Bad input: fast-check sends malformed, oversized, deeply nested, wrongly typed, wrongly signed,
 * path-traversal and header-injection requests to every endpoint of a running gateway (`aaps up`,
 * endpoints read from its `GET /v1/openapi.json`) and of one of its party processes. Every answer
 * must be 4xx with `{error:{code,message}}` (reads may succeed), never 5xx; nothing is stored (no
 * incident, no log entry, no nonce, no key change) and both processes stay up.
 */

import { mkdtempSync, rmSync } from 'node:fs';
import { createConnection } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  callSigner,
  freePort,
  loadOrCreateDataKey,
  loadOrCreateIdentityKey,
  makeRequest,
  PartyStore,
  parseRoster,
  RPC_KINDS,
  RPC_PATHS,
  type RpcKind,
  readJsonFile,
} from '@aaps/agents';
import { generateIdentityKey, signEnvelope } from '@aaps/mpc-core';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type AapsProcess, isAlive, killAllAaps, startAaps } from '../helpers/aaps.js';
import { incidentSignal } from '../helpers/incidents.js';
import { type Figure, recordResult } from '../helpers/results.js';
import { reproduce, SEED, scaled } from '../helpers/settings.js';

const RUNS = scaled(250, 4000);
const BODYLESS = new Set<RpcKind>(['key.info', 'key.pending', 'refresh.round1']);
const GITHUB_SECRET = 'fault-fuzz-github-secret';

let dir: string;
let dataDir: string;
let port: number;
let up: AapsProcess;
const figures: Figure[] = [];

interface Seen {
  sent: number;
  byStatus: Record<string, number>;
  serverErrors: string[];
  badShape: string[];
  accepted: string[];
  hung: number;
  parserRejects: number;
}
const newSeen = (): Seen => ({
  sent: 0,
  byStatus: {},
  serverErrors: [],
  badShape: [],
  accepted: [],
  hung: 0,
  parserRejects: 0,
});

interface FuzzRequest {
  method: string;
  path: string;
  headers: Record<string, string>;
  body?: string;
}

/** Send one request; classify the answer. `mayRead`: a 2xx is fine (a read that found nothing to refuse). */
async function send(req: FuzzRequest, seen: Seen, base: string, mayRead: boolean): Promise<void> {
  seen.sent++;
  let res: Response;
  try {
    res = await fetch(new URL(req.path, base), {
      method: req.method,
      headers: req.headers,
      ...(req.body === undefined || req.method === 'GET' ? {} : { body: req.body }),
      signal: AbortSignal.timeout(10_000),
      redirect: 'manual',
    });
  } catch (e) {
    // fetch refuses some inputs itself (bad header values): nothing reached the server.
    if ((e as Error).name === 'TimeoutError') seen.hung++;
    seen.byStatus['client-refused'] = (seen.byStatus['client-refused'] ?? 0) + 1;
    return;
  }
  const text = await res.text();
  seen.byStatus[res.status] = (seen.byStatus[res.status] ?? 0) + 1;
  const what = `${req.method} ${req.path.slice(0, 120)} -> ${res.status}`;
  if (res.status >= 500) seen.serverErrors.push(`${what} ${text.slice(0, 200)}`);
  if (res.status < 400) {
    if (!mayRead) seen.accepted.push(what);
    return;
  }
  try {
    const b = JSON.parse(text) as { error?: { code?: unknown; message?: unknown } };
    if (typeof b.error?.code !== 'string' || typeof b.error?.message !== 'string') seen.badShape.push(what);
  } catch {
    seen.badShape.push(`${what} (not JSON: ${text.slice(0, 60)})`);
  }
}

/** A raw HTTP/1.1 request over a socket (for what fetch refuses to send). */
function raw(host: string, p: number, text: string): Promise<string> {
  return new Promise((res) => {
    const s = createConnection({ host, port: p });
    let out = '';
    s.setTimeout(5_000, () => s.destroy());
    s.on('data', (d) => {
      out += d.toString();
    });
    s.on('close', () => res(out));
    s.on('error', () => res(out));
    s.write(text);
  });
}

const traversal = fc.constantFrom(
  '../../../../etc/passwd',
  '..%2f..%2f..%2fetc%2fpasswd',
  '%2e%2e%2f%2e%2e%2fapi-token',
  '....//....//api-token',
  '%00',
  'inc-%00..%2f',
  '%252e%252e%252f',
  '..\\..\\windows\\win.ini',
  'x'.repeat(5000),
  '%E2%80%AE',
  '%0d%0aSet-Cookie:%20injected=1',
  '%0d%0aX-Injected:%201',
);
const segment = fc.oneof(
  traversal,
  fc.string({ maxLength: 40 }).map(encodeURIComponent),
  fc.integer().map(String),
  fc.constantFrom('-1', '1e309', '9007199254740993', 'NaN', ''),
);
const query = fc.oneof(
  fc.constant(''),
  fc
    .dictionary(fc.constantFrom('state', 'limit', 'cursor', 'first', 'second', 'tree_size', 'x'), segment, {
      maxKeys: 3,
    })
    .map(
      (d) =>
        `?${Object.entries(d)
          .map(([k, v]) => `${k}=${v}`)
          .join('&')}`,
    ),
);

/** Bodies that are wrong in every way the brief names. */
function badBodies(rosterPartyId: string) {
  const nested = (depth: number, open: string, close: string) => open.repeat(depth) + close.repeat(depth);
  const envelope = incidentSignal('image', 'fuzz') as {
    meta: Record<string, unknown>;
    payload: Record<string, unknown>;
  };
  return fc.oneof(
    { weight: 4, arbitrary: fc.json().map((j) => j) },
    { weight: 4, arbitrary: fc.anything().map((a) => JSON.stringify(a) ?? 'undefined') },
    { weight: 2, arbitrary: fc.string({ maxLength: 200 }) },
    {
      weight: 1,
      arbitrary: fc.constantFrom('{', '{"meta":', '[1,2', '\u0000', 'null', '""', '{}', '[]', 'true'),
    },
    {
      weight: 1,
      arbitrary: fc.constantFrom(
        nested(20_000, '[', ']'),
        nested(20_000, '{"a":', '}').replace(/\}$/, '1}'),
        `{"meta":${nested(5_000, '{"x":', '}').replace(/\}$/, '1}')}}`,
      ),
    },
    { weight: 1, arbitrary: fc.constantFrom(`{"pad":"${'x'.repeat(3 * 1024 * 1024)}"}`) },
    {
      // An envelope with its fields replaced by wrongly typed values.
      weight: 3,
      arbitrary: fc
        .record({
          field: fc.constantFrom(
            'meta',
            'context',
            'payload',
            'meta.timestamp',
            'meta.message_type',
            'meta.idempotency_key',
            'payload.affected_resources',
            'payload.severity',
          ),
          value: fc.anything(),
        })
        .map(({ field, value }) => {
          const e = structuredClone(envelope) as Record<string, Record<string, unknown>>;
          const [a, b] = field.split('.') as [string, string | undefined];
          if (b === undefined) e[a] = value as Record<string, unknown>;
          else e[a]![b] = value;
          return JSON.stringify(e) ?? '{}';
        }),
    },
    {
      // Wrongly signed: garbage signature, a stranger's signature, a stranger claiming a roster party.
      weight: 3,
      arbitrary: fc.constantFrom('garbage', 'stranger', 'impostor').map((how) => {
        const e = structuredClone(envelope) as { meta: Record<string, unknown> };
        if (how === 'garbage')
          return JSON.stringify({ ...e, meta: { ...e.meta, signature: 'ed25519:AAAA' } });
        if (how === 'impostor') e.meta.source_agent = rosterPartyId;
        return JSON.stringify(signEnvelope(e as never, generateIdentityKey().secretKey));
      }),
    },
  );
}

describe('bad input against the gateway and a party', () => {
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'aaps-fault-fuzz-'));
    dataDir = join(dir, 'data');
    port = await freePort();
    up = await startAaps({
      command: 'up',
      dataDir,
      port,
      env: { AAPS_GITHUB_WEBHOOK_SECRET: GITHUB_SECRET },
    });
  }, 120_000);

  afterAll(async () => {
    await killAllAaps();
    rmSync(dir, { recursive: true, force: true });
    recordResult({
      suite: 'fuzz',
      order: 6,
      title: 'Bad input fuzz',
      command: reproduce('test/fault/fuzz.fault.test.ts'),
      figures,
      notes: [
        `fast-check (seed ${SEED}) draws the endpoint, path parameters (traversal, encoded NUL and CRLF, 5000-character ids), query strings, the bearer token (none, wrong, malformed, valid), the content type and the body (JSON of any shape, truncated JSON, 20 000-deep nesting, 3 MiB bodies, envelopes with wrongly typed fields, garbage or stranger signatures, a stranger claiming a roster identity).`,
        'Party requests are also sent as properly signed envelopes (the gateway key) carrying bodies of the wrong shape, so the checks behind authentication are reached.',
        'A party answers an unknown path with the 404 error shape (test `party: an unknown path answers 404 with the error shape`).',
        'Raw-socket requests carry CR/LF in the request target and header values; requests the Node HTTP parser itself rejects are answered with the error shape too (400 DECODE_FAILED, packages/gateway/src/cli/http-server.ts), and a bare answer is counted apart.',
      ],
    });
  });

  it('gateway: every bad request is 4xx with the error shape, nothing stored, still up', async () => {
    const api = (path: string) =>
      fetch(new URL(path, up.url), {
        headers: { authorization: `Bearer ${up.token}` },
        signal: AbortSignal.timeout(10_000),
      });
    const spec = (await (await api('/v1/openapi.json')).json()) as {
      paths: Record<string, Record<string, unknown>>;
    };
    const endpoints = Object.entries(spec.paths).flatMap(([path, ops]) =>
      Object.keys(ops).map((m) => ({ method: m.toUpperCase(), path })),
    );
    const roster = parseRoster(readJsonFile(join(dataDir, 'roster.json'), 'roster'));
    const seen = newSeen();
    const countIncidents = async () =>
      ((await (await api('/v1/incidents?limit=100')).json()) as { incidents: unknown[] }).incidents.length;
    const before = await countIncidents();
    await fc.assert(
      fc.asyncProperty(
        fc.record({
          endpoint: fc.constantFrom(...endpoints),
          wrongMethod: fc.boolean(),
          params: fc.array(segment, { minLength: 2, maxLength: 2 }),
          query,
          auth: fc.constantFrom('none', 'wrong', 'malformed', 'valid', 'valid'),
          contentType: fc.constantFrom(
            'application/json',
            'application/json',
            'text/plain',
            'application/cbor',
            '',
          ),
          body: badBodies(roster.parties[0]!.id),
          ghSig: fc.constantFrom('none', 'garbage', 'sha256=00'),
        }),
        async (r) => {
          let i = 0;
          const path = r.endpoint.path.replace(/\{[^}]+\}/g, () => r.params[i++] ?? 'x') + r.query;
          const method = r.wrongMethod ? (r.endpoint.method === 'GET' ? 'DELETE' : 'PUT') : r.endpoint.method;
          const headers: Record<string, string> = {};
          if (r.contentType) headers['content-type'] = r.contentType;
          if (r.auth === 'valid') headers.authorization = `Bearer ${up.token}`;
          if (r.auth === 'wrong') headers.authorization = `Bearer ${'0'.repeat(64)}`;
          if (r.auth === 'malformed') headers.authorization = 'Basic Zm9vOmJhcg==';
          if (r.ghSig !== 'none') headers['x-hub-signature-256'] = r.ghSig;
          headers['x-github-event'] = 'push';
          // A read with a valid token may find something to return; any write must be refused.
          const open = r.endpoint.path === '/healthz' || r.endpoint.path === '/metrics';
          const mayRead = method === 'GET' && (r.auth === 'valid' || open);
          await send({ method, path, headers, body: r.body }, seen, up.url, mayRead);
        },
      ),
      { numRuns: RUNS, seed: SEED, endOnFailure: true },
    );
    // What fetch will not send: CR/LF in the target and in header values, and obs-fold.
    const host = new URL(up.url);
    const rawAnswers = await Promise.all(
      [
        `GET /v1/incidents/x%0d%0aSet-Cookie:%20injected=1 HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${up.token}\r\nConnection: close\r\n\r\n`,
        `GET /v1/incidents/x\r\nSet-Cookie: injected=1 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`,
        `GET /v1/keys HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${up.token}\rX-Injected: 1\r\nConnection: close\r\n\r\n`,
        `GET /v1/keys HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer x\r\n injected-fold\r\nConnection: close\r\n\r\n`,
        `POST /v1/incidents HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${up.token}\r\nContent-Type: application/json\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n0\r\n\r\n`,
        `GET /v1/../../etc/passwd HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${up.token}\r\nConnection: close\r\n\r\n`,
      ].map((t) => raw(host.hostname, Number(host.port), t)),
    );
    let injected = 0;
    for (const a of rawAnswers) {
      seen.sent++;
      const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(a)?.[1] ?? 0);
      seen.byStatus[`raw ${status}`] = (seen.byStatus[`raw ${status}`] ?? 0) + 1;
      if (status >= 500) seen.serverErrors.push(`raw -> ${status}`);
      if (status > 0 && status < 400) seen.accepted.push(`raw -> ${status}`);
      if (/^set-cookie:\s*injected/im.test(a) || /^x-injected:/im.test(a)) injected++;
      if (status >= 400 && !a.includes('"error"')) seen.parserRejects++;
    }
    const after = await countIncidents();
    const cp = await api('/v1/log/checkpoint');
    const health = await fetch(new URL('/healthz', up.url));
    figures.push(
      { name: 'gateway: requests sent', value: seen.sent },
      { name: 'gateway: answers by status', value: JSON.stringify(seen.byStatus) },
      { name: 'gateway: 5xx answers', value: seen.serverErrors.length, goal: 0 },
      { name: 'gateway: 4xx answers without {error:{code,message}}', value: seen.badShape.length, goal: 0 },
      { name: 'gateway: refused-worthy requests accepted (2xx/3xx)', value: seen.accepted.length, goal: 0 },
      { name: 'gateway: requests that hung past 10 s', value: seen.hung, goal: 0 },
      {
        name: 'gateway: raw-socket answers without {error:{code,message}} (Node parser refusals included)',
        value: seen.parserRejects,
        goal: 0,
      },
      { name: 'gateway: injected response headers', value: injected, goal: 0 },
      { name: 'gateway: incidents stored by the fuzz', value: after - before, goal: 0 },
      {
        name: 'gateway: still up (healthz 200, process alive)',
        value: String(health.status === 200 && isAlive(up.pid)),
        goal: 'true',
      },
    );
    expect(seen.serverErrors, seen.serverErrors.join('\n')).toEqual([]);
    expect(seen.badShape, seen.badShape.join('\n')).toEqual([]);
    expect(seen.accepted, seen.accepted.join('\n')).toEqual([]);
    expect(seen.hung).toBe(0);
    expect(injected).toBe(0);
    expect(after).toBe(before);
    expect(cp.status).toBe(404);
    expect(health.status).toBe(200);
  }, 300_000);

  it('party: every bad request is 4xx with the error shape, no nonce or key stored, still up', async () => {
    const roster = parseRoster(readJsonFile(join(dataDir, 'roster.json'), 'roster'));
    const target = roster.parties[0]!;
    const gatewayKey = loadOrCreateIdentityKey(join(dataDir, 'gateway', 'identity.key'), false);
    /** Headers and body as the coordinator's transport sends them (its signed call header). */
    const withCall = (path: string, body: string) => ({
      headers: callSigner({ id: roster.gateway.id, key: gatewayKey }, roster.parties).headers(
        target.id,
        path,
        body,
      ),
      body,
    });
    const keyInfo = async () =>
      (await (
        await fetch(new URL(RPC_PATHS['key.info'], target.url), {
          method: 'POST',
          ...withCall(
            RPC_PATHS['key.info'],
            JSON.stringify(
              makeRequest(
                { id: 'gateway', key: gatewayKey },
                target.id,
                'key.info',
                'k',
                {},
                { trace_id: 'k' },
              ),
            ),
          ),
        })
      ).json()) as { payload: { body: { verifying_share: string } } };
    const shareBefore = (await keyInfo()).payload.body.verifying_share;
    const seen = newSeen();
    // Kinds that read no body (key information, the start of a refresh) are not fuzzed by body;
    // a commitment request gets only counts that are wrong; every other kind gets anything.
    const bodyFor = (kind: RpcKind) =>
      kind === 'sign.commit'
        ? fc.record({
            count: fc.oneof(fc.constantFrom<unknown>(0, -1, 257, 1.5, 1e9, '1', [1], {}), fc.string()),
          })
        : fc
            .dictionary(fc.string({ maxLength: 12 }), fc.jsonValue(), { maxKeys: 5 })
            // A member named `__proto__` (fast-check makes one now and then) cannot be signed:
            // canonical JSON refuses it, so `makeRequest` would throw before anything is sent.
            // Such bytes sent raw are `raw-bad`'s and aggregation-hostile.test.ts's to try.
            .filter((b) => !JSON.stringify(b).includes('"__proto__"'));
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(...RPC_KINDS.filter((k) => !BODYLESS.has(k))).chain((kind) =>
          fc.record({
            kind: fc.constant(kind),
            how: fc.constantFrom(
              'signed-bad-body',
              'signed-bad-body',
              'unsigned',
              'stranger',
              'raw-bad',
              'wrong-target',
              'wrong-path',
              'no-call-header',
            ),
            body: bodyFor(kind),
            rawBody: badBodies(target.id),
            session: fc.oneof(fc.string({ maxLength: 30 }), traversal),
          }),
        ),
        async (r) => {
          const sign = (key = gatewayKey, to = target.id) =>
            makeRequest(
              { id: 'gateway', key },
              to,
              r.kind,
              r.session || 's',
              r.body as Record<string, unknown>,
              { trace_id: 'fuzz' },
            );
          let body: string;
          const path = RPC_PATHS[r.kind];
          switch (r.how) {
            case 'signed-bad-body':
              body = JSON.stringify(sign());
              break;
            case 'unsigned': {
              const { signature: _s, ...meta } = sign().meta;
              body = JSON.stringify({ ...sign(), meta });
              break;
            }
            case 'stranger':
              body = JSON.stringify(sign(generateIdentityKey()));
              break;
            case 'wrong-target':
              body = JSON.stringify(sign(gatewayKey, roster.parties[1]!.id));
              break;
            default:
              body = r.rawBody;
          }
          // Past the call header (as the coordinator sends), so the envelope checks are fuzzed;
          // without it, refused from the headers.
          const headers =
            r.how === 'no-call-header'
              ? { 'content-type': 'application/json' }
              : callSigner({ id: roster.gateway.id, key: gatewayKey }, roster.parties).headers(
                  target.id,
                  path,
                  body,
                );
          await send({ method: 'POST', path, headers, body }, seen, target.url, false);
        },
      ),
      { numRuns: RUNS, seed: SEED, endOnFailure: true },
    );
    const health = await fetch(new URL('/healthz', target.url));
    const shareAfter = (await keyInfo()).payload.body.verifying_share;
    // The party's own records: stop everything and read its LevelDB.
    await up.stop();
    const pdir = join(dataDir, 'parties', target.id);
    const store = await PartyStore.open(
      join(pdir, 'db'),
      loadOrCreateDataKey(join(pdir, 'data.key'), false),
      target.id,
    );
    let nonces = 0;
    let used = 0;
    let shares = 0;
    try {
      nonces = await store.count();
      used = (await store.usedCommitments()).length;
      shares = (await store.auditTrail(100_000)).filter((e) => e.event === 'sign.share').length;
    } finally {
      await store.close();
    }
    figures.push(
      { name: 'party: requests sent', value: seen.sent },
      { name: 'party: answers by status', value: JSON.stringify(seen.byStatus) },
      { name: 'party: 5xx answers', value: seen.serverErrors.length, goal: 0 },
      { name: 'party: 4xx answers without {error:{code,message}}', value: seen.badShape.length, goal: 0 },
      { name: 'party: bad requests accepted (2xx)', value: seen.accepted.length, goal: 0 },
      {
        name: 'party: nonces, used commitments and shares in its store afterwards',
        value: `${nonces}, ${used}, ${shares}`,
        goal: '0, 0, 0',
      },
      { name: 'party: key share unchanged', value: String(shareAfter === shareBefore), goal: 'true' },
      {
        name: 'party: still up after the fuzz (healthz)',
        value: String(health.status === 200),
        goal: 'true',
      },
    );
    expect(seen.serverErrors, seen.serverErrors.join('\n')).toEqual([]);
    expect(seen.badShape, seen.badShape.join('\n')).toEqual([]);
    expect(seen.accepted, seen.accepted.join('\n')).toEqual([]);
    expect([nonces, used, shares]).toEqual([0, 0, 0]);
    expect(shareAfter).toBe(shareBefore);
    expect(health.status).toBe(200);
  }, 300_000);

  // Known issue (reported to the lead): the party app has no not-found handler, so an unknown
  // path gets Hono's plain-text 404 instead of the `{error:{code,message}}` shape.
  it('party: an unknown path answers 404 with the error shape', async () => {
    const roster = parseRoster(readJsonFile(join(dataDir, 'roster.json'), 'roster'));
    const target = roster.parties[0]!;
    const restarted = await startAaps({ command: 'up', dataDir, port });
    try {
      const res = await fetch(new URL('/v1/sign/commit/../../etc/passwd', target.url), {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: '{}',
      });
      expect(res.status).toBe(404);
      const body = (await res.json()) as { error?: { code?: string } };
      expect(typeof body.error?.code).toBe('string');
    } finally {
      await restarted.stop();
    }
  }, 120_000);
});
