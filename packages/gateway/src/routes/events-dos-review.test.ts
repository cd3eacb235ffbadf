/**
 * Event streams are bounded (stream-slots.ts, incidents.ts). Found by review: `GET
 * /v1/incidents/:id/events` took every stream it was asked for; each costs the gateway tens of KiB
 * of heap for as long as its client keeps the socket (one that never reads keeps it for good: an
 * open incident's stream only ever gets keep-alives). In the review's run, one `read` token opening
 * streams to one `awaiting_human` incident, never reading, took an `aaps up` gateway started as
 * `npm start` starts it (--max-old-space-size=160) down with "FATAL ERROR: Reached heap limit" at
 * about 5,300 streams, in under a minute. Now a token holds at most 100 (429 past that), the
 * gateway 1000 (503), both with Retry-After; a stream gives its slot back when its client goes,
 * and ends after its lifetime (30 minutes), so one that never reads is let go too.
 */
import { type AddressInfo, connect, type Socket } from 'node:net';
import { serve } from '@hono/node-server';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { GatewayAppConfig } from '../app.js';
import { json, makeGateway, request, SIGNALS, type TestGateway, TOKENS } from '../test-helpers/gateway.js';

/** More streams than any one dashboard needs; a fraction of what killed the gateway. */
const STREAMS = 1500;

let gw: TestGateway;
let server: ReturnType<typeof serve>;
let port: number;
const sockets: Socket[] = [];

beforeAll(async () => {
  gw = await makeGateway({ config: { keepAliveMs: 15_000 } });
  server = await new Promise<ReturnType<typeof serve>>((resolve) => {
    const s = serve({ fetch: gw.app.fetch, port: 0, hostname: '127.0.0.1' }, () => resolve(s));
  });
  port = (server.address() as AddressInfo).port;
});

afterAll(async () => {
  for (const s of sockets) s.destroy();
  const http = server as unknown as { closeAllConnections(): void };
  http.closeAllConnections();
  await new Promise<void>((r) => server.close(() => r()));
  await gw.cleanup();
});

/** Opens one event stream and resolves with its HTTP status once the headers are in; never reads on. */
function openStream(id: string): Promise<string> {
  return new Promise((resolve) => {
    const s = connect(port, '127.0.0.1', () => {
      s.write(
        `GET /v1/incidents/${id}/events HTTP/1.1\r\nhost: gw\r\nauthorization: Bearer ${TOKENS.read}\r\n\r\n`,
      );
    });
    sockets.push(s);
    s.once('data', (d) => {
      s.pause(); // a client that never reads
      resolve(d.toString('latin1').slice(9, 12));
    });
    s.once('error', (e: NodeJS.ErrnoException) => resolve(e.code ?? 'error'));
  });
}

describe('events route: one token opening many streams', () => {
  it(`one read token holding ${STREAMS} never-read streams to one open incident gets its 100 and 429 for the rest`, async () => {
    const res = await request(gw, 'POST', '/v1/incidents', { token: TOKENS.submit, body: SIGNALS.rbac() });
    const id = String((await json(res))['incident_id']);
    await gw.runner.idle();
    const before = process.memoryUsage().heapUsed;
    const statuses: Record<string, number> = {};
    for (let i = 0; i < STREAMS; i++) {
      const st = await openStream(id);
      statuses[st] = (statuses[st] ?? 0) + 1;
    }
    const perStreamKiB = (process.memoryUsage().heapUsed - before) / STREAMS / 1024;
    // Was: every one 200, each holding about `perStreamKiB` of this heap (server and client sides
    // together) while it stays open. Now the token's 100, the rest 429.
    expect(statuses, `about ${Math.round(perStreamKiB)} KiB of heap a stream`).toEqual({
      '200': 100,
      '429': STREAMS - 100,
    });
  }, 120_000);
});

/** A gateway served over HTTP with `config`, and its stream opener. */
async function served(config: Partial<GatewayAppConfig>) {
  const g = await makeGateway({ config });
  const srv = await new Promise<ReturnType<typeof serve>>((resolve) => {
    const s = serve({ fetch: g.app.fetch, port: 0, hostname: '127.0.0.1' }, () => resolve(s));
  });
  const at = (srv.address() as AddressInfo).port;
  const mine: Socket[] = [];
  /** Opens a stream as `token`; resolves once the head is in (and whatever came with it). */
  const open = (id: string, token: string, read: boolean) =>
    new Promise<{ status: string; head: string; socket: Socket; text: () => string; ended: Promise<void> }>(
      (resolve) => {
        let text = '';
        const socket = connect(at, '127.0.0.1', () => {
          socket.write(
            `GET /v1/incidents/${id}/events HTTP/1.1\r\nhost: gw\r\nauthorization: Bearer ${token}\r\n\r\n`,
          );
        });
        mine.push(socket);
        const ended = new Promise<void>((r) => socket.once('close', () => r()));
        socket.on('error', () => undefined);
        socket.on('data', (d) => {
          const first = text === '';
          text += d.toString('latin1');
          if (!first) return;
          if (!read) socket.pause();
          resolve({ status: text.slice(9, 12), head: text, socket, text: () => text, ended });
        });
      },
    );
  const incident = async () => {
    const res = await request(g, 'POST', '/v1/incidents', { token: TOKENS.submit, body: SIGNALS.rbac() });
    const id = String((await json(res))['incident_id']);
    await g.runner.idle();
    return id;
  };
  const close = async () => {
    for (const s of mine) s.destroy();
    (srv as unknown as { closeAllConnections(): void }).closeAllConnections();
    await new Promise<void>((r) => srv.close(() => r()));
    await g.cleanup();
  };
  return { open, incident, close, gateway: g };
}

/** Polls `check` every 20 ms for up to `ms`. */
async function until(check: () => Promise<boolean>, ms: number): Promise<boolean> {
  for (const end = Date.now() + ms; Date.now() < end; ) {
    if (await check()) return true;
    await new Promise((r) => setTimeout(r, 20));
  }
  return false;
}

describe('events route: stream caps', () => {
  it('refuses a token past its share with 429, all tokens past the total with 503, both JSON with Retry-After; a closed stream gives its slot back', async () => {
    const gw2 = await served({ maxEventStreams: 3, maxEventStreamsPerToken: 2, keepAliveMs: 15_000 });
    try {
      const id = await gw2.incident();
      const a = await gw2.open(id, TOKENS.read, false);
      const b = await gw2.open(id, TOKENS.read, false);
      expect([a.status, b.status]).toEqual(['200', '200']);
      const third = await gw2.open(id, TOKENS.read, true);
      expect(third.status).toBe('429');
      expect(third.head).toMatch(/\r\nretry-after: 30\r\n/i);
      expect(third.head).toMatch(
        /"error":\{"code":"TOO_MANY_REQUESTS","message":"this token holds 2 event streams/,
      );
      // Another token has its own share, up to the gateway's total.
      expect((await gw2.open(id, TOKENS.admin, false)).status).toBe('200');
      const full = await gw2.open(id, TOKENS.admin, true);
      expect(full.status).toBe('503');
      expect(full.head).toMatch(/\r\nretry-after: 30\r\n/i);
      expect(full.head).toMatch(
        /"error":\{"code":"UNAVAILABLE","message":"the gateway holds 3 event streams/,
      );
      // A client that goes (never having read) frees its slot.
      a.socket.destroy();
      expect(await until(async () => (await gw2.open(id, TOKENS.read, false)).status === '200', 5000)).toBe(
        true,
      );
    } finally {
      await gw2.close();
    }
  });

  it('ends a stream at its lifetime: a reading client sees it end, a never-reading one is let go and its slot comes back', async () => {
    const gw2 = await served({
      maxEventStreams: 10,
      maxEventStreamsPerToken: 1,
      keepAliveMs: 100,
      eventStreamMaxMs: 600,
    });
    try {
      const id = await gw2.incident();
      const reader = await gw2.open(id, TOKENS.approve, true);
      const idle = await gw2.open(id, TOKENS.read, false);
      expect([reader.status, idle.status]).toEqual(['200', '200']);
      expect((await gw2.open(id, TOKENS.read, false)).status).toBe('429');
      // The reading client's response ends (the last chunk of a chunked body) after ~600 ms.
      expect(await until(async () => reader.text().endsWith('0\r\n\r\n'), 5000)).toBe(true);
      expect(reader.text()).toContain(': keep-alive');
      // The never-reading client's slot is back: the same token opens a stream again.
      expect(await until(async () => (await gw2.open(id, TOKENS.read, false)).status === '200', 5000)).toBe(
        true,
      );
    } finally {
      await gw2.close();
    }
  });

  it('cuts a stream past its lifetime whose client stopped reading with the server blocked on a full socket, and frees its slot', async () => {
    const gw2 = await served({ maxEventStreamsPerToken: 1, keepAliveMs: 10, eventStreamMaxMs: 1500 });
    try {
      const id = await gw2.incident();
      padTimeline(gw2.gateway, false);
      const started = Date.now();
      expect((await gw2.open(id, TOKENS.read, false)).status).toBe('200');
      expect((await gw2.open(id, TOKENS.read, false)).status).toBe('429');
      // Cut 10 s after the lifetime: the token's one slot is back.
      expect(await until(async () => (await gw2.open(id, TOKENS.read, false)).status === '200', 20_000)).toBe(
        true,
      );
      expect(Date.now() - started).toBeGreaterThanOrEqual(10_000);
    } finally {
      await gw2.close();
    }
  });

  it('holds the slot of an ended stream until its client has taken the last data; cuts it 10 s later if it never does', async () => {
    const gw2 = await served({ maxEventStreamsPerToken: 1, keepAliveMs: 15_000 });
    try {
      const id = await gw2.incident();
      padTimeline(gw2.gateway, true);
      const started = Date.now();
      const idle = await gw2.open(id, TOKENS.read, false);
      expect(idle.status).toBe('200');
      // The handler is done (the incident has ended), its response is not: the slot stays taken.
      await new Promise((r) => setTimeout(r, 300));
      expect((await gw2.open(id, TOKENS.read, false)).status).toBe('429');
      expect(await until(async () => (await gw2.open(id, TOKENS.read, false)).status === '200', 20_000)).toBe(
        true,
      );
      expect(Date.now() - started).toBeGreaterThanOrEqual(10_000);
    } finally {
      await gw2.close();
    }
  });
});

/**
 * Makes every incident's timeline ~16 MiB (more than the socket buffers hold, so writes wait on a
 * client that does not read); `ended`: and the incident resolved with evidence (its stream ends).
 */
function padTimeline(g: TestGateway, ended: boolean): void {
  const store = g.store;
  const read = store.getIncidentSummary.bind(store);
  store.getIncidentSummary = async (incident) => {
    const r = await read(incident);
    if (r === undefined) return r;
    const pad = { ...r.timeline[0]!, note: 'x'.repeat(2048) } as (typeof r.timeline)[number];
    const timeline = [...r.timeline, ...Array.from({ length: 8000 }, () => pad)];
    return ended ? { ...r, timeline, state: 'resolved', evidence_id: 'ev-padded' } : { ...r, timeline };
  };
}
