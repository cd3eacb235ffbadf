/**
 * Ctrl-C (SIGINT) or SIGTERM during start-up stops `aaps gateway` and `aaps up` at once: what was
 * started is stopped, the exit code is the signal's (130, 143), and the ready line never comes. A
 * first-start DKG survey waiting on a party that accepts connections but never answers would
 * otherwise hold the signal for its 60 s timeout.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { layoutCluster } from '@aaps/agents';
import { afterAll, describe, expect, it } from 'vitest';
import { connectionRefused } from '../test-helpers/connection-refused.js';

const CLI = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'dist', 'cli', 'aaps.js');
const dir = mkdtempSync(join(tmpdir(), 'aaps-stop-start-'));
let blackhole: Server | undefined;
afterAll(() => {
  blackhole?.close();
  rmSync(dir, { recursive: true, force: true });
});

/** Run the CLI; `signalWhen` sends `signal` once the output matches. */
async function runUntil(
  args: string[],
  signalWhen: RegExp,
  signal: NodeJS.Signals,
): Promise<{ code: number | null | 'hung'; out: string; afterMs: number }> {
  const child: ChildProcess = spawn(process.execPath, [CLI, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let sentAt = 0;
  const exited = new Promise<number | null>((r) => child.once('exit', (c) => r(c)));
  const onData = (b: Buffer) => {
    out += b.toString();
    if (sentAt === 0 && signalWhen.test(out)) {
      sentAt = Date.now();
      child.kill(signal);
    }
  };
  child.stdout?.on('data', onData);
  child.stderr?.on('data', onData);
  const code = await Promise.race([exited, new Promise<'hung'>((r) => setTimeout(() => r('hung'), 20_000))]);
  if (code === 'hung') child.kill('SIGKILL');
  return { code, out, afterMs: Date.now() - sentAt };
}

describe('a stop signal during start-up', () => {
  it('stops `aaps gateway` at once while the first-start survey waits on a silent party: exit 130', async () => {
    // Accepts, never answers; its first connection shows the survey is under way.
    let surveyed: () => void = () => {};
    const survey = new Promise<void>((r) => {
      surveyed = r;
    });
    blackhole = createServer(() => surveyed());
    await new Promise<void>((r) => blackhole?.listen(0, '127.0.0.1', r));
    const port = (blackhole.address() as { port: number }).port;
    const d = join(dir, 'gw');
    await layoutCluster({ dir: d, ports: [port] });
    const child = spawn(process.execPath, [CLI, 'gateway', '--data-dir', d, '--port', '0'], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout.on('data', (b) => (out += b));
    child.stderr.on('data', (b) => (out += b));
    const exited = new Promise<number | null>((r) => child.once('exit', (c) => r(c)));
    // Signal once the survey has reached the silent party (a fixed wait raced module loading
    // under load: the signal could land before the gateway's handler was installed).
    await survey;
    const t0 = Date.now();
    child.kill('SIGINT');
    const code = await Promise.race([exited, new Promise<'hung'>((r) => setTimeout(() => r('hung'), 8000))]);
    if (code === 'hung') child.kill('SIGKILL');
    expect({ code, out }).toEqual({
      code: 130,
      out: expect.stringContaining('aaps: SIGINT during start-up, stopping'),
    });
    expect(Date.now() - t0).toBeLessThan(5000);
    expect(out).not.toMatch(/ready at/);
  });

  it('stops `aaps up` and its party processes on SIGTERM while the parties start: exit 143, no ready line', async () => {
    const d = join(dir, 'up');
    const { code, out, afterMs } = await runUntil(
      ['up', '--data-dir', d, '--port', '0'],
      /parties: starting 5 party processes/,
      'SIGTERM',
    );
    expect(out).toContain('aaps: SIGTERM during start-up, stopping');
    expect(out).not.toMatch(/ready at/);
    expect(code).toBe(143);
    expect(afterMs).toBeLessThan(8000);
    // Every party process is gone: none answers at its roster URL.
    const roster = JSON.parse(readFileSync(join(d, 'roster.json'), 'utf8')) as { parties: { url: string }[] };
    for (const p of roster.parties) {
      expect(await connectionRefused(`${p.url}/healthz`), p.url).toBe(true);
    }
  }, 60_000);
});
