import { createServer, get, type Server } from 'node:http';
import { type AddressInfo, connect, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import {
  connectionLimitsFor,
  defaultConnectionLimits,
  limitConnections,
  openFileLimit,
  serverTimeoutOptions,
} from './http-connections.js';
import { memoryLogger } from './logger.js';

const sockets: Socket[] = [];
let server: Server | undefined;

afterEach(async () => {
  for (const s of sockets.splice(0)) s.destroy();
  const s = server;
  server = undefined;
  if (s) await new Promise<void>((r) => s.close(() => r()));
});

async function listen(limits: { maxConnections: number; maxPerAddress: number }) {
  const logger = memoryLogger();
  server = createServer(serverTimeoutOptions(), (_req, res) => res.end('ok'));
  const counts = limitConnections(server, limits, logger);
  await new Promise<void>((r) => server!.listen(0, '127.0.0.1', () => r()));
  return { port: (server.address() as AddressInfo).port, logger, open: counts.open };
}

/** A connection from `from` that sends nothing; resolves with whether it is still open after 200 ms. */
function idle(port: number, from: string): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect({ port, host: '127.0.0.1', localAddress: from });
    sockets.push(s);
    s.resume();
    s.on('error', () => undefined);
    setTimeout(() => resolve(!s.destroyed), 200);
  });
}

describe('connection limits', () => {
  it('defaults to half the descriptor limit (at most 8192), a quarter of that per address', () => {
    expect(defaultConnectionLimits(256)).toEqual({ maxConnections: 128, maxPerAddress: 32 });
    expect(defaultConnectionLimits(1_048_576)).toEqual({ maxConnections: 8192, maxPerAddress: 2048 });
    expect(defaultConnectionLimits(20)).toEqual({ maxConnections: 16, maxPerAddress: 4 });
    expect(connectionLimitsFor(10)).toEqual({ maxConnections: 10, maxPerAddress: 3 });
    const own = openFileLimit();
    if (process.platform === 'linux') expect(own).toBeGreaterThan(0);
  });

  it('closes a connection past the per-address cap or the total at accept, keeps the others, logs once per cap', async () => {
    const { port, logger, open } = await listen({ maxConnections: 4, maxPerAddress: 2 });
    const a = await Promise.all([1, 2, 3].map(() => idle(port, '127.0.0.2')));
    expect(a.filter(Boolean).length).toBe(2);
    expect(open('127.0.0.2')).toBe(2);
    const b = await Promise.all([1, 2, 3].map(() => idle(port, '127.0.0.3')));
    expect(b.filter(Boolean).length).toBe(2);
    // Four open in all: a fifth from a third address is closed too.
    expect(await idle(port, '127.0.0.4')).toBe(false);
    // Two refused past the per-address cap and one past the total: the first of each is logged.
    const refusals = logger.lines
      .map((l) => JSON.parse(l) as { event: string; reason?: string; suppressed?: number })
      .filter((l) => l.event === 'http.connections_refused');
    expect(refusals.map((l) => [l.reason, l.suppressed])).toEqual([
      ['per_address_cap', undefined],
      ['total_cap', undefined],
    ]);
    // One closed gives its slot back.
    sockets[0]!.destroy();
    await new Promise((r) => setTimeout(r, 100));
    expect(open('127.0.0.2')).toBe(1);
    const status = await new Promise<number | string>((resolve) => {
      get({ port, host: '127.0.0.1', localAddress: '127.0.0.2', agent: false }, (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      }).on('error', (e: NodeJS.ErrnoException) => resolve(e.code ?? 'error'));
    });
    expect(status).toBe(200);
  });
});
