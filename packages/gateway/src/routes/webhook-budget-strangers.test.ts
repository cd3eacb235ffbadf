/**
 * `POST /v1/webhooks/github` can authenticate a delivery only once it has its body (the HMAC is
 * over it), so strangers can make the gateway read. What they can hold is bounded: a body holds
 * budget only for the bytes that arrived (not 64 KiB from its headers on, as before), GitHub
 * deliveries read from a budget of their own apart from the one authenticated routes share, and at
 * most `UNAUTHENTICATED_BODIES_AT_ONCE` (32) are being read at once: the next is 503
 * `UNAVAILABLE` with `Retry-After` before a byte is read. Incidents, approvals and unseal keep
 * their budget meanwhile.
 */
import { type AddressInfo, connect, type Socket } from 'node:net';
import { serve } from '@hono/node-server';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { UNAUTHENTICATED_BODIES_AT_ONCE } from '../app.js';
import { makeGateway, SIGNALS, type TestGateway, TOKENS } from '../test-helpers/gateway.js';

let gw: TestGateway;
let server: ReturnType<typeof serve>;
let port: number;
const sockets: Socket[] = [];

beforeAll(async () => {
  gw = await makeGateway(); // a GitHub webhook secret is configured, as a GitHub integration has it
  server = await new Promise<ReturnType<typeof serve>>((resolve) => {
    const s = serve({ fetch: gw.app.fetch, port: 0, hostname: '127.0.0.1' }, () => resolve(s));
  });
  port = (server.address() as AddressInfo).port;
});

afterAll(async () => {
  for (const s of sockets) s.destroy();
  (server as unknown as { closeAllConnections(): void }).closeAllConnections();
  await new Promise<void>((r) => server.close(() => r()));
  await gw.cleanup();
});

/** Webhook headers declaring a 1 MiB delivery, then one byte of it and nothing more. */
function stalledDelivery(): Promise<void> {
  return new Promise((resolve) => {
    const s = connect(port, '127.0.0.1', () => {
      s.write(
        'POST /v1/webhooks/github HTTP/1.1\r\nhost: gw\r\ncontent-type: application/json\r\n' +
          'x-github-event: deployment_status\r\ncontent-length: 1048576\r\n\r\n',
      );
      s.write('{', () => resolve());
    });
    s.on('error', () => resolve());
    sockets.push(s);
  });
}

describe("the gateway's shared body budget against unauthenticated webhook deliveries", () => {
  it('a submitter still opens an incident while 520 unsigned GitHub deliveries have each sent one byte', async () => {
    for (let i = 0; i < 520; i++) await stalledDelivery();
    await new Promise((r) => setTimeout(r, 300));
    const res = await fetch(`http://127.0.0.1:${port}/v1/incidents`, {
      method: 'POST',
      headers: { authorization: `Bearer ${TOKENS.submit}`, 'content-type': 'application/json' },
      body: JSON.stringify(SIGNALS.rbac()),
    });
    const text = await res.text();
    // Before: 503 {"error":{"code":"UNAVAILABLE","message":"too many request bodies are being read; retry"}}
    expect(res.status, text).toBe(202);
  }, 60_000);

  it('refuses a GitHub delivery past the 32 being read, 503 with Retry-After, and reads again once they end', async () => {
    for (const s of sockets.splice(0)) s.destroy();
    await new Promise((r) => setTimeout(r, 200));
    for (let i = 0; i < UNAUTHENTICATED_BODIES_AT_ONCE; i++) await stalledDelivery();
    await new Promise((r) => setTimeout(r, 300));
    const deliver = () =>
      fetch(`http://127.0.0.1:${port}/v1/webhooks/github`, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          'x-github-event': 'deployment_status',
          'x-hub-signature-256': `sha256=${'0'.repeat(64)}`,
        },
        body: '{}',
      });
    const busy = await deliver();
    expect(busy.status).toBe(503);
    expect(busy.headers.get('retry-after')).toBe('1');
    expect(((await busy.json()) as { error: { code: string } }).error.code).toBe('UNAVAILABLE');
    for (const s of sockets.splice(0)) s.destroy();
    await new Promise((r) => setTimeout(r, 300));
    // Read again (and refused for its forged signature: 401).
    expect((await deliver()).status).toBe(401);
  }, 60_000);
});
