/**
 * From the resource review: the client (the gateway's coordinator) read a party's answer whole,
 * however large: one party answering 300 MiB of whitespace took the gateway from 76 MB to 1.6 GB
 * resident. It now stops reading at a bound (16 MiB; 65 MiB for aggregation calls), closes the
 * connection and fails the call naming the party. An error answer (a status that is not 2xx: its
 * body is unsigned) is read up to 64 KiB, and its message is kept up to 1024 characters (session
 * review: a party's refusal message went whole into the gateway's log lines).
 */
import { createServer, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { MAX_ERROR_ANSWER_BYTES, PartyClient } from './client.js';
import { fiveParties } from './party/test-helpers/five-parties.js';

const set = fiveParties();
const audit = set.roster.parties.find((p) => p.role === 'audit')!;
const MiB = 1024 * 1024;

let server: Server | undefined;
afterEach(async () => {
  server?.closeAllConnections();
  await new Promise<void>((r) => (server ? server.close(() => r()) : r()));
  server = undefined;
});

/** A "party" that answers every call 200 with `answer(res)`; `flushed` is what its socket sent. */
async function party(
  answer: (res: ServerResponse) => void,
): Promise<{ client: PartyClient; flushed: () => number }> {
  let socket: Socket | undefined;
  server = createServer((req, res) => {
    req.resume();
    socket = req.socket;
    answer(res);
  });
  await new Promise<void>((r) => server!.listen(0, '127.0.0.1', () => r()));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const roster = {
    ...set.roster,
    parties: set.roster.parties.map((p) => (p.id === audit.id ? { ...p, url } : p)),
  };
  const client = new PartyClient({
    roster,
    caller: { id: 'gateway', key: set.gatewayKey },
    timeoutMs: 60_000,
  });
  return { client, flushed: () => socket?.bytesWritten ?? 0 };
}

/** Streams `total` bytes of JSON whitespace, then `{}`, with no Content-Length. */
const flood = (total: number) => (res: ServerResponse) => {
  res.writeHead(200, { 'content-type': 'application/json' });
  const chunk = Buffer.alloc(MiB, 0x20);
  let sent = 0;
  const pump = () => {
    while (sent < total) {
      sent += chunk.length;
      if (!res.write(chunk)) {
        res.once('drain', pump);
        return;
      }
    }
    res.end('{}');
  };
  res.on('error', () => undefined);
  pump();
};

const failure = (p: Promise<unknown>) =>
  p.then(
    () => expect.unreachable('an oversized answer is no answer'),
    (e: unknown) => e as { code?: string; message?: string; details?: Record<string, unknown> },
  );

describe('PartyClient reads a party answer up to a bound', () => {
  it('a streamed answer past 16 MiB is cut off: the call fails naming the party, and little more was read', async () => {
    const p = await party(flood(96 * MiB));
    const e = await failure(p.client.call(audit.id, 'key.info', 's-flood', {}));
    expect(e).toMatchObject({
      code: 'UNAVAILABLE',
      message: `${audit.id} answered more than ${16 * MiB} bytes (key.info)`,
      details: { party: audit.id, kind: 'key.info' },
    });
    // The bound plus what sat in socket buffers when the client closed the connection.
    expect(p.flushed()).toBeLessThan(32 * MiB);
  }, 60_000);

  it('an answer whose Content-Length is over the bound is refused before its body is read', async () => {
    const p = await party((res) => {
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': String(512 * MiB) });
      res.on('error', () => undefined);
      res.write('{');
    });
    const e = await failure(p.client.call(audit.id, 'key.info', 's-declared', {}));
    expect(e).toMatchObject({ code: 'UNAVAILABLE', details: { party: audit.id } });
    expect(e.message).toMatch(/answered more than/);
  });
});

describe('PartyClient reads a party error answer up to a smaller bound', () => {
  it('an error answer past 64 KiB is cut off: the call fails naming the party and the bound', async () => {
    const p = await party((res) => {
      res.writeHead(500, { 'content-type': 'application/json' });
      res.on('error', () => undefined);
      res.end(JSON.stringify({ error: { code: 'INTERNAL', message: 'm'.repeat(MAX_ERROR_ANSWER_BYTES) } }));
    });
    const e = await failure(p.client.call(audit.id, 'key.info', 's-error-flood', {}));
    expect(e).toMatchObject({
      code: 'UNAVAILABLE',
      message: `${audit.id} answered more than ${MAX_ERROR_ANSWER_BYTES} bytes (key.info)`,
      details: { party: audit.id, kind: 'key.info' },
    });
  });

  it('an error answer within the bound keeps its claimed code, and its message cut to 1024 characters', async () => {
    const p = await party((res) => {
      res.writeHead(503, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ error: { code: 'UNAVAILABLE', message: 'm'.repeat(50_000) } }));
    });
    const e = await failure(p.client.call(audit.id, 'key.info', 's-error-long', {}));
    // Unsigned (party error answers review): no answer from the party, its claim kept as said, cut.
    expect(e.code).toBe('UNAVAILABLE');
    expect(e.message).toBe(
      `${audit.id} answered 503 with an error it did not sign for this request (key.info): claimed UNAVAILABLE: ${'m'.repeat(1023)}…`,
    );
    expect(e.details?.['claimed']).toEqual({
      status: 503,
      code: 'UNAVAILABLE',
      message: `${'m'.repeat(1023)}…`,
    });
  });
});
