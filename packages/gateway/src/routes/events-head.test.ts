/**
 * `HEAD /v1/incidents/:id/events` answers the stream's headers and starts no stream: Hono runs a
 * GET handler for HEAD and drops its body unread, so a stream started there would wait on its
 * first keep-alive for good, subscribed to the incident (one leaked handler per HEAD).
 */
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';

const handlers = vi.hoisted(() => ({ started: 0, finished: 0 }));
vi.mock('hono/streaming', async (importOriginal) => {
  const real = await importOriginal<typeof import('hono/streaming')>();
  return {
    ...real,
    streamSSE: ((...[c, cb, onError]: Parameters<typeof real.streamSSE>) =>
      real.streamSSE(
        c,
        async (s) => {
          handlers.started++;
          try {
            await cb(s);
          } finally {
            handlers.finished++;
          }
        },
        onError,
      )) as typeof real.streamSSE,
  };
});

import {
  incident,
  json,
  makeGateway,
  rejectionEnvelope,
  request,
  SIGNALS,
  type TestGateway,
  TOKENS,
} from '../test-helpers/gateway.js';

let gw: TestGateway;
beforeAll(async () => {
  gw = await makeGateway();
});
afterAll(async () => gw.cleanup());

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** An incident waiting for a person (an RBAC change needs a signed human approval). */
async function waiting(): Promise<string> {
  const res = await request(gw, 'POST', '/v1/incidents', { token: TOKENS.submit, body: SIGNALS.rbac() });
  const id = String((await json(res))['incident_id']);
  await gw.runner.idle();
  expect((await incident(gw, id))['state']).toBe('awaiting_human');
  return id;
}

async function reject(id: string): Promise<void> {
  const res = await request(gw, 'POST', `/v1/approvals/${id}`, {
    token: TOKENS.approve,
    body: rejectionEnvelope(id, gw.approverKey, 'not now'),
  });
  expect(res.status).toBe(202);
  await gw.runner.idle();
  expect((await incident(gw, id))['evidence_id']).toMatch(/^[0-9a-f]{64}$/);
}

describe('event stream handlers end when their client is gone or the incident ends', () => {
  it('GET (control): a client that cancels, and one reading to the end', async () => {
    const id = await waiting();
    const started = handlers.started;
    const gone = await request(gw, 'GET', `/v1/incidents/${id}/events`, { token: TOKENS.read });
    await sleep(150);
    await gone.body?.cancel();
    const reader = await request(gw, 'GET', `/v1/incidents/${id}/events`, { token: TOKENS.read });
    const text = reader.text();
    await sleep(150);
    await reject(id);
    expect(await text).toContain('event: end');
    await sleep(200);
    expect(handlers.started - started).toBe(2);
    expect(handlers.started - handlers.finished).toBe(0);
  });

  it('HEAD: no handler is left running once the incident has ended', async () => {
    const id = await waiting();
    for (let i = 0; i < 3; i++) {
      const res = await request(gw, 'HEAD', `/v1/incidents/${id}/events`, { token: TOKENS.read });
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toBe('text/event-stream');
    }
    await sleep(300); // several keep-alive intervals (50 ms in the tests)
    await reject(id);
    await sleep(500);
    expect({ stillRunning: handlers.started - handlers.finished }).toEqual({ stillRunning: 0 });
  });
});
