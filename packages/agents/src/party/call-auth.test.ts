/**
 * The party's check of the `AAPS-Call` header (call-auth.ts), before any body byte is read: a
 * request without the coordinator's header is 401 `UNAUTHENTICATED`, whatever its body, and its
 * body is never pulled; a header for another party or path, signed by another key, stale, or whose
 * length disagrees with the body is refused too; a length over the route's limit is 413 at once.
 * Refusals are counted each and logged coalesced per reason (rejection-log.ts).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { CALL_HEADER, callSigner } from '../call-auth.js';
import { memoryLogger } from '../logger.js';
import { makeRequest } from '../rpc.js';
import type { PartyStore } from '../store/level.js';
import { createPartyApp } from './app.js';
import { rejectionLog } from './rejection-log.js';
import { fiveParties, partyDeps } from './test-helpers/five-parties.js';

const dir = mkdtempSync(join(tmpdir(), 'aaps-call-auth-'));
const stores: PartyStore[] = [];
afterAll(async () => {
  await Promise.all(stores.map((s) => s.close()));
  rmSync(dir, { recursive: true, force: true });
});

const set = fiveParties();
const gateway = { id: 'gateway', key: set.gatewayKey };
const self = set.roster.parties[0]!.id;
const PATH = '/v1/key/info';

/** A body stream of `bytes` bytes that counts what was pulled from it. */
function counted(bytes: Uint8Array) {
  let pulled = 0;
  const body = new ReadableStream<Uint8Array>(
    {
      pull(c) {
        if (pulled >= bytes.length) return c.close();
        const chunk = bytes.subarray(pulled, pulled + 16 * 1024);
        pulled += chunk.length;
        c.enqueue(chunk);
      },
    },
    { highWaterMark: 0 },
  );
  return { body, pulled: () => pulled };
}

async function party() {
  const logger = memoryLogger('party');
  const app = await createPartyApp({ ...(await partyDeps(set, 0, { dir, stores })), logger });
  const rejected = (reason: string) =>
    Number(
      new RegExp(`aaps_party_rejected_requests_total\\{reason="${reason}"\\} (\\d+)`).exec(
        app.metrics.registry.render(),
      )?.[1] ?? 0,
    );
  const lines = () =>
    logger.lines
      .map((l) => JSON.parse(l) as Record<string, unknown>)
      .filter((e) => e.event === 'request.rejected');
  return { app, rejected, lines };
}

describe("a party's call header", () => {
  it('refuses a request without it 401 before pulling a byte of its body, however large', async () => {
    const { app, rejected } = await party();
    // 1 MiB of `[{},{},...]`: ~19 MB of heap once parsed; never read.
    const garbage = new TextEncoder().encode(`[${'{},'.repeat(349_524)}{}]`);
    const stream = counted(garbage);
    const res = await app.app.request(PATH, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'content-length': String(garbage.length) },
      body: stream.body,
      duplex: 'half',
    } as RequestInit);
    expect(res.status).toBe(401);
    const json = (await res.json()) as { error: { code: string; message: string } };
    expect(json.error.code).toBe('UNAUTHENTICATED');
    expect(json.error.message).toContain(CALL_HEADER);
    expect(stream.pulled()).toBe(0);
    expect(rejected('call_missing')).toBe(1);
  });

  it('answers the coordinator, and refuses headers that are not its call to this party and path', async () => {
    const { app, rejected } = await party();
    const env = makeRequest(gateway, self, 'key.info', 's', {}, { trace_id: 't' });
    const text = JSON.stringify(env);
    const post = (headers: Record<string, string>, body = text) =>
      app.app.request(PATH, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...headers },
        body,
      });
    const status = async (headers: Record<string, string>, body?: string) => {
      const res = await post(headers, body);
      return `${res.status} ${((await res.json()) as { error?: { code: string } }).error?.code ?? 'ok'}`;
    };
    const header = (
      over: Partial<{ key: typeof set.gatewayKey; party: string; path: string; length: number; at: Date }>,
    ) => ({
      [CALL_HEADER]: callSigner(
        { id: set.roster.gateway.id, key: over.key ?? set.gatewayKey },
        set.roster.parties,
      ).sign(
        over.party ?? self,
        { path: over.path ?? PATH, length: over.length ?? Buffer.byteLength(text) },
        over.at ?? new Date(),
      ),
    });
    // Made by another roster party (parties never call each other: its key with this party is not
    // the coordinator's), for another party, for another path: the tag does not verify here.
    expect(await status(header({ key: set.keys[1]! }))).toBe('401 UNAUTHENTICATED');
    expect(await status(header({ party: set.roster.parties[1]!.id }))).toBe('401 UNAUTHENTICATED');
    expect(await status(header({ path: '/v1/sign/commit' }))).toBe('401 UNAUTHENTICATED');
    expect(rejected('call_tag')).toBe(3);
    expect(await status({ [CALL_HEADER]: 'v1.1.2.3.4' })).toBe('401 UNAUTHENTICATED');
    expect(rejected('call_malformed')).toBe(1);
    expect(await status(header({ at: new Date(Date.now() - 3_600_000) }))).toBe('401 UNAUTHENTICATED');
    expect(rejected('call_stale')).toBe(1);
    // A body of another length than the header signs: refused, longer or shorter.
    expect(await status(header({ length: Buffer.byteLength(text) - 1 }))).toBe('413 PAYLOAD_TOO_LARGE');
    expect(await status(header({ length: Buffer.byteLength(text) + 1 }))).toBe('401 UNAUTHENTICATED');
    expect(await status({ ...header({}), 'content-length': '5' })).toBe('401 UNAUTHENTICATED');
    // Over the route's limit: 413 from the header alone.
    expect(await status(header({ length: 2 * 1024 * 1024 }))).toBe('413 PAYLOAD_TOO_LARGE');
    // The coordinator's own call passes, to the route (which answers that this party holds no key).
    expect(
      await status(
        callSigner({ id: set.roster.gateway.id, key: set.gatewayKey }, set.roster.parties).headers(
          self,
          PATH,
          text,
        ),
      ),
    ).toBe('409 NO_KEY');
  });

  it('counts every refusal but logs one line per reason a minute: 2,000 strangers add one line', async () => {
    const { app, rejected, lines } = await party();
    for (let i = 0; i < 2000; i++)
      await app.app.request(PATH, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: '{}',
      });
    expect(rejected('call_missing')).toBe(2000);
    expect(lines()).toHaveLength(1);
    expect(lines()[0]).toMatchObject({ level: 'warn', reason: 'call_missing', code: 'UNAUTHENTICATED' });
  });

  it('logs the count of what it left unlogged once the minute is over', () => {
    const logger = memoryLogger('party');
    let now = 0;
    const log = rejectionLog(logger, () => now);
    for (let i = 0; i < 500; i++) log.rejected('call_missing', { kind: 'key.info' });
    log.rejected('call_stale', { kind: 'key.info' });
    now = 59_999;
    log.rejected('call_missing', { kind: 'key.info' });
    now = 60_000;
    log.rejected('call_missing', { kind: 'key.info' });
    const events = logger.lines.map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(events.map((e) => [e.reason, e.suppressed])).toEqual([
      ['call_missing', undefined],
      ['call_stale', undefined],
      ['call_missing', 500],
    ]);
  });
});
