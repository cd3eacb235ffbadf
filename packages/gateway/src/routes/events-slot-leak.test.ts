/**
 * From the review of this session's change: an event stream's slot is given back on the Node
 * response's 'close' (incidents.ts), a listener attached after the handler's first await (the
 * incident lookup). A client that went while the lookup ran had closed its response already, so
 * 'close' never came again and the slot was never given back, not even after the stream's
 * lifetime and its cut: after --max-event-streams-per-token such clients, the token was refused
 * (429) until the gateway restarted. Now such a request starts no stream and gives its slot back.
 */
import { type AddressInfo, connect } from 'node:net';
import { serve } from '@hono/node-server';
import { describe, expect, it } from 'vitest';
import { json, makeGateway, request, SIGNALS, TOKENS } from '../test-helpers/gateway.js';

function status(port: number, id: string): Promise<string> {
  return new Promise((resolve) => {
    const s = connect(port, '127.0.0.1', () => {
      s.write(
        `GET /v1/incidents/${id}/events HTTP/1.1\r\nhost: gw\r\nauthorization: Bearer ${TOKENS.read}\r\n\r\n`,
      );
    });
    s.on('error', () => resolve('error'));
    s.once('data', (d) => {
      resolve(d.toString('latin1').slice(9, 12));
      s.destroy();
    });
  });
}

describe('events route: a client gone during the incident lookup', () => {
  it('gives its stream slot back (a token is not locked out by clients that left early)', async () => {
    const g = await makeGateway({
      config: { maxEventStreamsPerToken: 2, keepAliveMs: 15_000, eventStreamMaxMs: 500 },
    });
    const srv = await new Promise<ReturnType<typeof serve>>((resolve) => {
      const s = serve({ fetch: g.app.fetch, port: 0, hostname: '127.0.0.1' }, () => resolve(s));
    });
    const port = (srv.address() as AddressInfo).port;
    try {
      const res = await request(g, 'POST', '/v1/incidents', { token: TOKENS.submit, body: SIGNALS.rbac() });
      const id = String((await json(res))['incident_id']);
      await g.runner.idle();
      // The store answers slowly (a busy host): 300 ms a lookup.
      const read = g.store.getIncidentSummary.bind(g.store);
      g.store.getIncidentSummary = async (i) => {
        await new Promise((r) => setTimeout(r, 300));
        return read(i);
      };
      // Two clients ask for the stream and go 50 ms later, while the lookup runs.
      for (let i = 0; i < 2; i++) {
        const s = connect(port, '127.0.0.1', () => {
          s.write(
            `GET /v1/incidents/${id}/events HTTP/1.1\r\nhost: gw\r\nauthorization: Bearer ${TOKENS.read}\r\n\r\n`,
          );
          setTimeout(() => s.destroy(), 50);
        });
        s.on('error', () => undefined);
      }
      // Both lookups are done (and, before, a second more would not have mattered: the slots were
      // held past the streams' 500 ms lifetime and their 10 s cut).
      await new Promise((r) => setTimeout(r, 1_000));
      g.store.getIncidentSummary = read;
      expect(await status(port, id)).toBe('200');
    } finally {
      (srv as unknown as { closeAllConnections(): void }).closeAllConnections();
      await new Promise<void>((r) => srv.close(() => r()));
      await g.cleanup();
    }
  });
});
