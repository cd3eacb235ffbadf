import { memoryLogger } from '@aaps/agents';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TOKENS } from '../test-helpers/gateway.js';
import { rawExchange, type ServedGateway, serveLocalGateway } from '../test-helpers/served-gateway.js';
import type { RunningGateway } from './serve.js';

/** Writes `text` on a fresh connection and returns the status and headers of the answer. */
/** Writes `text` on a fresh connection and returns the status and headers of the answer. */
async function exchange(
  port: number,
  text: string,
): Promise<{ status: number; contentType: string; raw: string }> {
  const raw = await rawExchange(port, text);
  const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(raw)?.[1] ?? 0);
  const contentType = /\r\ncontent-type: ([^\r\n]*)/i.exec(raw)?.[1] ?? '';
  return { status, contentType, raw };
}

/** The parts of a raw answer the tests read. */
function answerOf(raw: string): { status: number; requestId: string; code: string; headers: string } {
  const head = raw.slice(0, raw.indexOf('\r\n\r\n'));
  const body = raw.slice(raw.indexOf('\r\n\r\n') + 4);
  let code = '';
  try {
    code = String((JSON.parse(body) as { error?: { code?: unknown } }).error?.code ?? '');
  } catch {
    code = `not JSON: ${body.slice(0, 40)}`;
  }
  return {
    status: Number(/^HTTP\/1\.1 (\d{3})/.exec(raw)?.[1] ?? 0),
    requestId: /\r\nx-request-id: ([^\r\n]*)/i.exec(head)?.[1] ?? '',
    code,
    headers: head,
  };
}

/** `aaps_rejected_requests_total` of the served gateway, line by line. */
async function rejectedCounts(): Promise<string[]> {
  const res = await fetch(`${running.url}/metrics`, { headers: { authorization: `Bearer ${TOKENS.admin}` } });
  return (await res.text()).split('\n').filter((l) => l.startsWith('aaps_rejected_requests_total{'));
}

let served: ServedGateway;
let running: RunningGateway;
let port: number;
const logger = memoryLogger('gateway');

beforeAll(async () => {
  served = await serveLocalGateway(logger);
  running = served.running;
  port = served.port;
});

afterAll(async () => {
  await served?.close();
});

const AUTH = `Authorization: Bearer ${TOKENS.admin}\r\n`;

describe('the served gateway answers malformed requests with the error shape', () => {
  it('a backslash in an incident id, a Host header that is not a host, a 20 KB id: JSON {error:{code,message}}', async () => {
    const cases: Record<string, string> = {
      'backslash in the id': `GET /v1/incidents/team\\inc-1 HTTP/1.1\r\nHost: 127.0.0.1\r\n${AUTH}Connection: close\r\n\r\n`,
      'Host with a path': `GET /v1/keys HTTP/1.1\r\nHost: gw.example/x\r\n${AUTH}Connection: close\r\n\r\n`,
      '20 KB incident id': `GET /v1/incidents/${'a'.repeat(20_000)} HTTP/1.1\r\nHost: 127.0.0.1\r\n${AUTH}Connection: close\r\n\r\n`,
    };
    const answers: Record<string, string> = {};
    for (const [what, text] of Object.entries(cases)) {
      const res = await exchange(port, text);
      const body = res.raw.slice(res.raw.indexOf('\r\n\r\n') + 4);
      const shaped =
        res.contentType.startsWith('application/json') && /"error":\{"code":"[A-Z_]+","message":/.test(body);
      answers[what] = `${res.status} ${shaped ? 'error JSON' : `bare (content-type "${res.contentType}")`}`;
    }
    expect(answers).toEqual({
      'backslash in the id': expect.stringMatching(/^4\d\d error JSON$/),
      'Host with a path': expect.stringMatching(/^4\d\d error JSON$/),
      '20 KB incident id': expect.stringMatching(/^4\d\d error JSON$/),
    });
  });
});

describe('what the server refuses before the app: each as the app answers its errors', () => {
  it('no Host, an Expect it cannot meet, CONNECT, not HTTP at all: error JSON with the right status and code', async () => {
    const cases: Record<string, string> = {
      'no Host': `GET /v1/keys HTTP/1.1\r\n${AUTH}Connection: close\r\n\r\n`,
      'Expect: x-foo': `GET /v1/keys HTTP/1.1\r\nHost: 127.0.0.1\r\n${AUTH}Expect: x-foo\r\nConnection: close\r\n\r\n`,
      CONNECT: 'CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n',
      'not HTTP': 'HELLO THERE\r\n\r\n',
      'Content-Length with chunked': `POST /v1/incidents HTTP/1.1\r\nHost: 127.0.0.1\r\n${AUTH}Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n`,
    };
    const got: Record<string, string> = {};
    for (const [what, text] of Object.entries(cases)) {
      const a = answerOf((await exchange(port, text)).raw);
      got[what] = `${a.status} ${a.code}`;
    }
    expect(got).toEqual({
      'no Host': '400 INVALID_ARGUMENT',
      'Expect: x-foo': '417 EXPECTATION_FAILED',
      CONNECT: '405 METHOD_NOT_ALLOWED',
      'not HTTP': '400 DECODE_FAILED',
      'Content-Length with chunked': '400 DECODE_FAILED',
    });
  });

  it('each carries an X-Request-Id (the client’s own when it is sane) and is counted in aaps_rejected_requests_total', async () => {
    const before = await rejectedCounts();
    const backslash = answerOf(
      (
        await exchange(
          port,
          `GET /v1/incidents/a\\b HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Request-Id: trace-42\r\n${AUTH}Connection: close\r\n\r\n`,
        )
      ).raw,
    );
    expect(backslash).toMatchObject({ status: 400, code: 'INVALID_ARGUMENT', requestId: 'trace-42' });
    const big = answerOf(
      (
        await exchange(
          port,
          `GET /v1/keys HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: ${'b'.repeat(20_000)}\r\n\r\n`,
        )
      ).raw,
    );
    expect(big).toMatchObject({ status: 431, code: 'HEADERS_TOO_LARGE' });
    expect(big.requestId).toMatch(/^[0-9a-f-]{36}$/);
    const after = await rejectedCounts();
    const added = (line: string) => {
      const key = line.slice(0, line.lastIndexOf(' '));
      const was = before.find((l) => l.startsWith(`${key} `));
      return Number(line.slice(key.length + 1)) - (was === undefined ? 0 : Number(was.slice(key.length + 1)));
    };
    const grew = after
      .filter((l) => added(l) > 0)
      .map((l) => `${l.slice(0, l.lastIndexOf(' '))} +${added(l)}`);
    expect(grew.sort()).toEqual(
      [
        'aaps_rejected_requests_total{code="HEADERS_TOO_LARGE",method="OTHER",route="unmatched",status="431"} +1',
        'aaps_rejected_requests_total{code="INVALID_ARGUMENT",method="GET",route="unmatched",status="400"} +1',
      ].sort(),
    );
  });

  it('headers that arrive too slowly: 408 REQUEST_TIMEOUT as error JSON, then the connection is closed', async () => {
    const started = Date.now();
    const a = answerOf((await exchange(port, 'GET /v1/keys HTTP/1.1\r\nHost: 127.0.0.1\r\n')).raw);
    expect(a).toMatchObject({ status: 408, code: 'REQUEST_TIMEOUT' });
    expect(Date.now() - started).toBeGreaterThanOrEqual(9_000);
  }, 30_000);
});

describe('refusals are logged coalesced (a stranger cannot grow the log at the rate they send)', () => {
  it('20 requests that are not HTTP: all counted, one http.rejected line for 400 DECODE_FAILED in the minute; 431 has its own', async () => {
    const count = async () =>
      Number(
        (await rejectedCounts())
          .find((l) => l.includes('code="DECODE_FAILED",method="OTHER",route="unmatched",status="400"'))
          ?.split(' ')
          .at(-1) ?? 0,
      );
    const before = await count();
    for (let i = 0; i < 20; i++)
      expect(answerOf((await exchange(port, 'HELLO THERE\r\n\r\n')).raw).status).toBe(400);
    await exchange(port, `GET /v1/keys HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: ${'b'.repeat(20_000)}\r\n\r\n`);
    expect((await count()) - before).toBe(20);
    const refused = logger.lines
      .map((l) => JSON.parse(l) as { event: string; status?: number; code?: string })
      .filter((l) => l.event === 'http.rejected');
    // This file's requests all fall within one minute: each status and code is logged once.
    expect(refused.filter((l) => l.code === 'DECODE_FAILED').map((l) => `${l.status} ${l.code}`)).toEqual([
      '400 DECODE_FAILED',
    ]);
    expect(refused.filter((l) => l.code === 'HEADERS_TOO_LARGE')).toHaveLength(1);
  });
});
