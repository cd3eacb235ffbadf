/**
 * Connection bounds of the gateway's server (`startGateway`, serve.ts; agents http-connections.ts).
 * Found by review: the server took every connection offered and kept one that had sent part of a
 * request line for up to its `headersTimeout` (66 s), with no bound per peer or in all. One
 * unauthenticated client opening connections up to the process's file-descriptor limit, a byte on
 * each, shut every honest client out (their connections reset) for as long as it reconnected: in
 * the review's run against `aaps up` (limit 20,000 descriptors), 19,966 such connections made every
 * honest request fail for the ~70-100 s until they timed out, the gateway logging nothing.
 *
 * Now a fresh connection has 10 s for its headers, and connections are capped below the limit,
 * in all and per remote address; past a cap a new one is closed at accept, once logged. Here the
 * limit is 256 (caps 128, and 32 per address), so the test is small; the stranger connects from
 * 127.0.0.2, the honest client from 127.0.0.1.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { Agent, get } from 'node:http';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';

const CLI = fileURLToPath(new URL('../../dist/cli/aaps.js', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'aaps-conn-review-'));
const sockets: Socket[] = [];
let child: ChildProcess | undefined;

afterAll(async () => {
  for (const s of sockets) s.destroy();
  if (child?.pid !== undefined && child.exitCode === null) {
    const gone = new Promise((r) => child!.once('exit', r));
    child.kill('SIGTERM');
    await gone;
  }
  rmSync(dir, { recursive: true, force: true });
});

/** `aaps up --local` under a 256-descriptor limit; resolves with its URL once it is ready. */
async function startUp(): Promise<string> {
  child = spawn(
    'sh',
    ['-c', `ulimit -n 256 && exec "${process.execPath}" "${CLI}" up --local --data-dir "${dir}/d" --port 0`],
    {
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let out = '';
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`not ready: ${out}`)), 60_000);
    const onData = (d: Buffer) => {
      out += d.toString();
      const m = /ready at (http:\/\/[^ ]+)/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]!);
      }
    };
    child!.stdout!.on('data', onData);
    child!.stderr!.on('data', onData);
    child!.once('exit', (code) => reject(new Error(`exited ${code}: ${out}`)));
  });
}

/**
 * One connection from 127.0.0.2 that sends the first byte of a request line and nothing more;
 * resolves once connected, with a promise of its close (by the server: this side never ends it).
 */
function slowConnection(port: number): Promise<{ open: () => boolean; closed: Promise<number> }> {
  return new Promise((resolve) => {
    const opened = Date.now();
    const s = connect({ port, host: '127.0.0.1', localAddress: '127.0.0.2' }, () => {
      s.write('G');
      const closed = new Promise<number>((r) => s.once('close', () => r(Date.now() - opened)));
      resolve({ open: () => !s.destroyed, closed });
    });
    s.on('error', () => undefined);
    s.resume(); // reads what the server sends (its 408), so its close is seen
    // Refused before this side saw it connect: closed at once.
    s.once('close', () => resolve({ open: () => false, closed: Promise.resolve(Date.now() - opened) }));
    sockets.push(s);
  });
}

/** GET /v1/keys through `agent` (`false`: a new connection of its own): its status and whether the connection was reused. */
function getKeys(
  url: string,
  token: string,
  agent: Agent | false,
): Promise<{ status: string; reused: boolean }> {
  return new Promise((resolve) => {
    const req = get(`${url}/v1/keys`, { agent, headers: { authorization: `Bearer ${token}` } }, (res) => {
      res.resume();
      res.once('end', () => resolve({ status: String(res.statusCode), reused: req.reusedSocket }));
    });
    req.setTimeout(10_000, () => req.destroy(Object.assign(new Error('timeout'), { code: 'TIMEOUT' })));
    req.on('error', (e: NodeJS.ErrnoException) => resolve({ status: e.code ?? 'failed', reused: false }));
  });
}

describe('gateway connections: one client holding many half-sent requests', () => {
  it('an honest client is answered while a stranger holds 300 half-sent connections; they are cut at the header deadline, a kept-alive client carries on', async () => {
    const url = await startUp();
    const port = Number(new URL(url).port);
    const token = readFileSync(join(dir, 'd', 'api-token'), 'utf8').trim();
    const keepAlive = new Agent({ keepAlive: true, maxSockets: 1 });
    expect(await getKeys(url, token, keepAlive)).toEqual({ status: '200', reused: false });
    const started = Date.now();
    const slow = [];
    for (let i = 0; i < 300; i++) slow.push(await slowConnection(port));
    await new Promise((r) => setTimeout(r, 500));
    // Past its per-address cap the stranger's connections were closed at once; the rest wait.
    expect(slow.filter((c) => c.open()).length).toBe(32);
    expect((await getKeys(url, token, false)).status).toBe('200');
    // All of them are gone by the header deadline (10 s, checked each second).
    const lifetimes = await Promise.all(slow.map((c) => c.closed));
    expect(Date.now() - started).toBeLessThan(15_000);
    expect(Math.max(...lifetimes)).toBeGreaterThanOrEqual(9_000);
    // The kept-alive connection, idle all this while (past the header deadline), still serves.
    expect(await getKeys(url, token, keepAlive)).toEqual({ status: '200', reused: true });
    keepAlive.destroy();
    // Logged once (at most one line a minute), not once per connection.
    const log = readFileSync(join(dir, 'd', 'logs', 'gateway.log'), 'utf8');
    expect(log.match(/http\.connections_refused/g)?.length).toBe(1);
  }, 120_000);
});
