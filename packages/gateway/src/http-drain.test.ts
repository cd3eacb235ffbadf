/** Draining: running handlers finish and are answered, later requests are told to retry, a stuck one is bounded. */
import type { AddressInfo } from 'node:net';
import { serve } from '@hono/node-server';
import { afterEach, describe, expect, it } from 'vitest';
import { drainable, type FetchHandler } from './http-drain.js';

/** A handler each request of which waits until the test lets it go. */
function gated() {
  const waiting: (() => void)[] = [];
  const arrived: (() => void)[] = [];
  const handler: FetchHandler = async () => {
    await new Promise<void>((resolve) => {
      waiting.push(resolve);
      arrived.shift()?.();
    });
    return Response.json({ ok: true });
  };
  const nextArrival = () => new Promise<void>((resolve) => arrived.push(resolve));
  return { handler, waiting, nextArrival };
}

const servers: ReturnType<typeof serve>[] = [];
afterEach(async () => {
  for (const s of servers.splice(0)) {
    (s as unknown as { closeAllConnections(): void }).closeAllConnections();
    await new Promise((r) => s.close(r));
  }
});

async function listen(fetch: FetchHandler): Promise<string> {
  const s = await new Promise<ReturnType<typeof serve>>((resolve) => {
    const srv = serve({ fetch, port: 0, hostname: '127.0.0.1' }, () => resolve(srv));
  });
  servers.push(s);
  return `http://127.0.0.1:${(s.address() as AddressInfo).port}`;
}

describe('drainable', () => {
  it('lets a handler running when the drain begins finish, and answers its client', async () => {
    const g = gated();
    const d = drainable(g.handler);
    const url = await listen(d.fetch);
    const arrival = g.nextArrival();
    const pending = fetch(`${url}/x`);
    await arrival;
    expect(d.inFlight()).toBe(1);
    let drained: boolean | undefined;
    const draining = d.drain(10_000).then((v) => {
      drained = v;
    });
    // Still running: the drain waits for it.
    await new Promise((r) => setTimeout(r, 20));
    expect(drained).toBeUndefined();
    g.waiting.shift()!();
    const res = await pending;
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ ok: true });
    await draining;
    expect(drained).toBe(true);
    expect(d.inFlight()).toBe(0);
  });

  it('tells a request that arrives during the drain to retry, without running it', async () => {
    const g = gated();
    const d = drainable(g.handler);
    const url = await listen(d.fetch);
    const arrival = g.nextArrival();
    const first = fetch(`${url}/first`);
    await arrival;
    const draining = d.drain(10_000);
    const late = await fetch(`${url}/late`);
    expect(late.status).toBe(503);
    expect(late.headers.get('retry-after')).toBe('1');
    expect(((await late.json()) as { error: { code: string } }).error.code).toBe('UNAVAILABLE');
    expect(g.waiting).toHaveLength(1);
    g.waiting.shift()!();
    expect((await first).status).toBe(200);
    expect(await draining).toBe(true);
  });

  it('gives up after the deadline when a handler never finishes, and says so', async () => {
    const g = gated();
    const d = drainable(g.handler);
    const url = await listen(d.fetch);
    const arrival = g.nextArrival();
    const stuck = fetch(`${url}/stuck`).catch(() => undefined);
    await arrival;
    expect(await d.drain(30)).toBe(false);
    expect(d.inFlight()).toBe(1);
    g.waiting.shift()!();
    await stuck;
  });

  it('does not wait for an open event stream once its handler has returned', async () => {
    const d = drainable(
      () =>
        new Response(new ReadableStream({ start: (c) => c.enqueue(new TextEncoder().encode(': hi\n\n')) }), {
          headers: { 'content-type': 'text/event-stream' },
        }),
    );
    const url = await listen(d.fetch);
    const res = await fetch(`${url}/events`);
    const reader = res.body!.getReader();
    await reader.read();
    expect(d.inFlight()).toBe(0);
    expect(await d.drain(10_000)).toBe(true);
    await reader.cancel();
  });

  it('resolves at once with nothing running, and counts handlers that return or throw synchronously', async () => {
    let calls = 0;
    const d = drainable(() => {
      calls++;
      if (calls === 2) throw new Error('boom');
      return new Response('ok');
    });
    expect(await (await d.fetch(new Request('http://x/'), {})).text()).toBe('ok');
    expect(() => d.fetch(new Request('http://x/'), {})).toThrow('boom');
    expect(d.inFlight()).toBe(0);
    expect(await d.drain(10_000)).toBe(true);
    expect((await d.fetch(new Request('http://x/'), {})).status).toBe(503);
    expect(calls).toBe(2);
  });
});
