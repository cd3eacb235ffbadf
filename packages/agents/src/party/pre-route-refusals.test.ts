/**
 * What a party's server refuses before its app sees a request (malformed requests, headers too
 * large or too slow, an `Expect` it cannot meet, CONNECT) is answered in the error shape
 * `{"error":{"code","message"}}`, as the gateway answers the same requests (http-server.ts, one
 * module for both), counted in `aaps_party_rejected_requests_total{reason}` and logged
 * `request.rejected` coalesced per reason. Before, Node answered these bare (`400 Bad Request`,
 * no body; an empty `text/plain` 400 for a backslash in the path). A real party (`startParty`),
 * requests written on a raw socket.
 */
import { rmSync } from 'node:fs';
import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningParty } from '../main.js';
import { layParty } from './test-helpers/party-dir.js';

/** Writes `text` on a fresh connection; the status, headers and error code of the answer. */
function exchange(
  port: number,
  text: string,
): Promise<{ status: number; contentType: string; code: string; head: string }> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1', () => socket.write(text));
    let raw = '';
    socket.on('data', (d) => {
      raw += d.toString('latin1');
    });
    socket.on('error', reject);
    socket.on('close', () => {
      const head = raw.slice(0, Math.max(0, raw.indexOf('\r\n\r\n')));
      const body = raw.slice(raw.indexOf('\r\n\r\n') + 4);
      let code: string;
      try {
        const parsed = JSON.parse(body) as { error?: { code?: unknown; message?: unknown } };
        code =
          typeof parsed.error?.code === 'string' && typeof parsed.error.message === 'string'
            ? parsed.error.code
            : `not the error shape: ${body.slice(0, 40)}`;
      } catch {
        code = `not JSON: ${JSON.stringify(body.slice(0, 40))}`;
      }
      resolve({
        status: Number(/^HTTP\/1\.1 (\d{3})/.exec(raw)?.[1] ?? 0),
        contentType: /\r\ncontent-type: ([^\r\n]*)/i.exec(head)?.[1] ?? '',
        code,
        head,
      });
    });
    setTimeout(() => socket.destroy(), 15_000).unref();
  });
}

const dirs: string[] = [];
let party: RunningParty;
let lines: string[];
let port: number;

beforeAll(async () => {
  const p = layParty(dirs);
  party = await p.start();
  lines = p.lines;
  port = party.port;
});

afterAll(async () => {
  await party?.close();
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

async function rejectedCounts(): Promise<Record<string, number>> {
  const text = await (await fetch(`${party.url}/metrics`)).text();
  const out: Record<string, number> = {};
  for (const m of text.matchAll(/^aaps_party_rejected_requests_total\{reason="([^"]+)"\} (\d+)$/gm))
    out[m[1] as string] = Number(m[2]);
  return out;
}

describe("a party's server answers what it refuses before its app in the error shape", () => {
  it('malformed requests, a header over 16 KiB, an Expect it cannot meet, CONNECT: error JSON with status and code', async () => {
    const cases: Record<string, string> = {
      'no Host': 'GET /healthz HTTP/1.1\r\nConnection: close\r\n\r\n',
      'backslash in the path': 'GET /v1/a\\b HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n',
      'Host with a path': 'GET /healthz HTTP/1.1\r\nHost: party.example/x\r\nConnection: close\r\n\r\n',
      'not HTTP': 'HELLO THERE\r\n\r\n',
      'Content-Length with chunked':
        'POST /v1/sign/commit HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n',
      'a 20 KB header': `GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: ${'b'.repeat(20_000)}\r\n\r\n`,
      'Expect: x-foo':
        'GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nExpect: x-foo\r\nConnection: close\r\n\r\n',
      CONNECT: 'CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n',
    };
    const got: Record<string, string> = {};
    for (const [what, text] of Object.entries(cases)) {
      const a = await exchange(port, text);
      got[what] = `${a.status} ${a.code} (${a.contentType})`;
    }
    expect(got).toEqual({
      'no Host': '400 INVALID_ARGUMENT (application/json)',
      'backslash in the path': '400 INVALID_ARGUMENT (application/json)',
      'Host with a path': '400 INVALID_ARGUMENT (application/json)',
      'not HTTP': '400 DECODE_FAILED (application/json)',
      'Content-Length with chunked': '400 DECODE_FAILED (application/json)',
      'a 20 KB header': '431 HEADERS_TOO_LARGE (application/json)',
      'Expect: x-foo': '417 EXPECTATION_FAILED (application/json)',
      CONNECT: '405 METHOD_NOT_ALLOWED (application/json)',
    });
  });

  it("CONNECT's 405 names the methods the party serves in Allow", async () => {
    const a = await exchange(port, 'CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n');
    expect(/\r\nallow: ([^\r\n]*)/i.exec(a.head)?.[1]).toBe('GET, HEAD, POST');
  });

  it('each is counted in aaps_party_rejected_requests_total by reason, and logged request.rejected once per reason', async () => {
    const before = await rejectedCounts();
    for (let i = 0; i < 3; i++)
      await exchange(
        port,
        'GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nExpect: x-foo\r\nConnection: close\r\n\r\n',
      );
    await exchange(port, `GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: ${'b'.repeat(20_000)}\r\n\r\n`);
    const after = await rejectedCounts();
    const grew = Object.fromEntries(
      Object.entries(after)
        .filter(([reason, n]) => n > (before[reason] ?? 0))
        .map(([reason, n]) => [reason, n - (before[reason] ?? 0)]),
    );
    expect(grew).toEqual({ 'request.expectation': 3, HPE_HEADER_OVERFLOW: 1 });
    const logged = lines
      .map((l) => JSON.parse(l) as { event: string; reason?: string; code?: string; status?: number })
      .filter((l) => l.event === 'request.rejected' && l.reason === 'request.expectation');
    // The first test's refusal of this reason was logged; these three are within its minute.
    expect(logged.map((l) => `${l.status} ${l.code}`)).toEqual(['417 EXPECTATION_FAILED']);
  });

  it('headers that arrive too slowly: 408 REQUEST_TIMEOUT as error JSON, then the connection is closed', async () => {
    const started = Date.now();
    const a = await exchange(port, 'GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n');
    expect(`${a.status} ${a.code}`).toBe('408 REQUEST_TIMEOUT');
    expect(Date.now() - started).toBeGreaterThanOrEqual(9_000);
  }, 30_000);
});
