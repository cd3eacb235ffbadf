/**
 * A sender that goes away mid-body (a client timeout, a reset connection, a restarting
 * Alertmanager) is answered 400 `BODY_ABORTED`, logged `http.rejected` at info and counted as a
 * 400: it is the sender's doing, not a gateway failure. It must not be a 500 with an error-level
 * log, since on the GitHub route the body is read before the HMAC is checked, so anyone who can
 * reach the gateway could otherwise raise its 5xx rate and error log without a credential.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { makeGateway, type TestGateway } from '../test-helpers/gateway.js';

let gw: TestGateway;
beforeAll(async () => {
  gw = await makeGateway();
  await gw.runner.close();
});
afterAll(async () => gw.cleanup());

it('a body cut off by its sender is 400 BODY_ABORTED, logged at info and counted as a 400', async () => {
  const stream = new ReadableStream<Uint8Array>({
    start(c) {
      c.enqueue(new TextEncoder().encode('{"action":'));
      setTimeout(() => c.error(new Error('aborted')), 10);
    },
  });
  const before = gw.logger.lines.length;
  // No credential at all: GitHub's route reads the body before it checks the HMAC.
  const res = await gw.app.request('/v1/webhooks/github', {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      'x-github-event': 'workflow_run',
      'x-github-delivery': 'cut-off-1',
    },
    body: stream,
    duplex: 'half',
  } as RequestInit);
  expect(res.status).toBe(400);
  expect(await res.json()).toMatchObject({ error: { code: 'BODY_ABORTED' } });
  const logged = gw.logger.lines.slice(before).map((l) => JSON.parse(l) as Record<string, unknown>);
  expect(logged.filter((l) => l['level'] === 'error')).toEqual([]);
  expect(logged).toContainEqual(
    expect.objectContaining({ level: 'info', event: 'http.rejected', code: 'BODY_ABORTED', status: 400 }),
  );
  const metrics = await (await gw.app.request('/metrics')).text();
  expect(metrics).toContain(
    'aaps_rejected_requests_total{code="BODY_ABORTED",method="POST",route="/v1/webhooks/github",status="400"} 1',
  );
  expect(metrics).not.toMatch(/aaps_rejected_requests_total\{[^}]*status="500"/);
});

it('a socket closed mid-body through @hono/node-server logs nothing at error level', async () => {
  const { serve } = await import('@hono/node-server');
  const { connect } = await import('node:net');
  const server = serve({ fetch: gw.app.fetch, port: 0, hostname: '127.0.0.1' });
  await new Promise((r) => server.once('listening', r));
  const port = (server.address() as { port: number }).port;
  const before = gw.logger.lines.length;
  await new Promise<void>((resolve) => {
    const s = connect(port, '127.0.0.1', () => {
      s.write(
        'POST /v1/webhooks/github HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n' +
          'X-GitHub-Event: workflow_run\r\nX-GitHub-Delivery: cut-off-2\r\nContent-Length: 1000\r\n\r\n{"action":',
      );
      setTimeout(() => {
        s.destroy();
        resolve();
      }, 50);
    });
  });
  await new Promise((r) => setTimeout(r, 200));
  await new Promise((r) => server.close(r));
  const logged = gw.logger.lines.slice(before).filter((l) => l.includes('http.'));
  expect(
    logged.filter((l) => l.includes('"level":"error"')),
    logged.join('\n'),
  ).toEqual([]);
});
