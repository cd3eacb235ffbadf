import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { type AddressInfo, createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { layoutCluster } from '@aaps/agents';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseGatewayConfig } from '../config.js';
import { runAaps } from '../test-helpers/aaps-process.js';
import { snapshot } from '../test-helpers/dir-snapshot.js';
import { runUp } from './up.js';

const root = mkdtempSync(join(tmpdir(), 'aaps-up-port-'));

/** The built CLI as a process (the busy listener runs in this one). */
async function aaps(args: string[]): Promise<{ code: number | null; out: string; err: string[] }> {
  const { code, out, err } = await runAaps(args, root);
  return { code, out, err: err.split('\n').filter((l) => l !== '') };
}

let busy: Server;
let port: number;
const busyLine = () =>
  new RegExp(`^aaps: UNAVAILABLE: cannot listen on 127\\.0\\.0\\.1:${port}: EADDRINUSE \\(`);

beforeAll(async () => {
  busy = createServer();
  await new Promise<void>((r) => busy.listen(0, '127.0.0.1', r));
  port = (busy.address() as AddressInfo).port;
});
afterAll(async () => {
  await new Promise((r) => busy.close(r));
  rmSync(root, { recursive: true, force: true });
});

describe('aaps up --local on a port in use', () => {
  it('a first start: exit 1, one line naming the address, and no data directory left', async () => {
    const dataDir = join(root, 'first');
    const r = await aaps(['up', '--local', '--data-dir', dataDir, '--port', String(port)]);
    expect([r.code, r.err.length]).toEqual([1, 1]);
    expect(r.err[0]).toMatch(busyLine());
    expect(r.out).not.toMatch(/token: created|keys: dealt/);
    expect(existsSync(dataDir)).toBe(false);
  }, 60_000);

  it("a later start: exit 1, one line, and the earlier start's files exactly as they were", async () => {
    const dataDir = join(root, 'earlier');
    // An earlier start that served and stopped.
    const parsed = parseGatewayConfig(['--local', '--data-dir', dataDir, '--port', '0'], {});
    if (!parsed.ok) throw new Error(parsed.errors.join('; '));
    let stop!: (why: string) => void;
    const said: string[] = [];
    let ready!: () => void;
    const isReady = new Promise<void>((r) => {
      ready = r;
    });
    const done = runUp(parsed.config, {
      print: (l) => {
        said.push(l);
        if (l.startsWith('aaps: ready at ')) ready();
      },
      stopSignal: new Promise((r) => {
        stop = r;
      }),
    });
    await Promise.race([isReady, done]);
    stop('SIGTERM');
    expect(await done).toBe(0);
    const before = snapshot(dataDir);
    expect(Object.keys(before)).toEqual(expect.arrayContaining(['api-token', join('local', 'keys.json')]));

    const r = await aaps(['up', '--local', '--data-dir', dataDir, '--port', String(port)]);
    expect([r.code, r.err.length]).toEqual([1, 1]);
    expect(r.err[0]).toMatch(busyLine());
    expect(snapshot(dataDir)).toEqual(before);
  }, 60_000);

  it('aaps gateway, too: exit 1, one line, no DKG tried and no data directory left', async () => {
    const cluster = join(root, 'cluster');
    await layoutCluster({ dir: cluster });
    const dataDir = join(root, 'gateway-only');
    const r = await aaps([
      'gateway',
      '--data-dir',
      dataDir,
      '--roster',
      join(cluster, 'roster.json'),
      '--gateway-key',
      join(cluster, 'gateway', 'identity.key'),
      '--port',
      String(port),
    ]);
    expect([r.code, r.err]).toEqual([1, [expect.stringMatching(busyLine())]]);
    expect(r.out).not.toMatch(/dkg/i);
    expect(existsSync(dataDir)).toBe(false);
  }, 60_000);

  it('a start that fails after writing removes what it wrote, and only that; it keeps the gateway log', async () => {
    // The gateway store's path is taken by a file: the start fails once the token, keys and log
    // are written, when the gateway opens its store.
    const dataDir = join(root, 'late');
    mkdirSync(join(dataDir, 'gateway'), { recursive: true });
    writeFileSync(join(dataDir, 'gateway', 'db'), 'not a store\n');
    writeFileSync(join(dataDir, 'notes.txt'), 'an operator file\n');
    const before = snapshot(dataDir);
    const r = await aaps(['up', '--local', '--data-dir', dataDir, '--port', '0']);
    expect([r.code, r.err.length]).toEqual([1, 1]);
    expect(r.out).toContain('keys: dealt');
    expect(r.out).toMatch(
      /aaps: start failed; removed what it wrote: api-token, .*local; kept logs\/gateway\.log \(it may say why\)/,
    );
    // The gateway log may hold the only detail of why the start failed: kept, and nothing else.
    expect(snapshot(dataDir)).toEqual({
      ...before,
      logs: 'dir',
      [join('logs', 'gateway.log')]: expect.any(String),
    });
    // ... and it does: its last line is the failure stderr named.
    const lines = readFileSync(join(dataDir, 'logs', 'gateway.log'), 'utf8')
      .trim()
      .split('\n');
    const last = JSON.parse(lines.at(-1) ?? '{}') as { level?: string; event?: string; message?: string };
    expect(last).toMatchObject({ level: 'error', event: 'gateway.start_failed' });
    expect(r.err[0]).toContain(last.message);
  }, 60_000);
});
