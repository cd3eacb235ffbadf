/**
 * A first `aaps up` (real party processes, or `--local`) stopped part way, by Ctrl-C (SIGINT) or
 * kill -9 (as a power loss stops it), at the stage its progress output names: the next start takes
 * back what the stopped one wrote (`first-start-unfinished.json` names it), says so in one line,
 * and completes a first start, ready on a whole deployment (every party with its key and config,
 * the group key it announces the one on record), with the flags it is given (a first start that
 * never served holds the operator to no threshold nor to the ports it probed), never on a half-made
 * one. A party of the stopped start that still runs is named, and nothing is removed under it.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type PartyProcess, spawnParty } from '@aaps/agents';
import { afterAll, describe, expect, it } from 'vitest';
import { AAPS, CLEAN_ENV, type UpRun as Run, upUntil as upUntilIn } from '../test-helpers/aaps-process.js';

const root = mkdtempSync(join(tmpdir(), 'aaps-up-stopped-first-'));
const servers: Server[] = [];
afterAll(() => {
  for (const s of servers) s.close();
  rmSync(root, { recursive: true, force: true });
});

/** `aaps up ARGS` in this file's directory (see {@link upUntilIn}). */
const upUntil = (args: readonly string[], when: RegExp, signal: NodeJS.Signals, before?: () => void) =>
  upUntilIn(root, args, when, signal, before);

/** The next start, run until ready (then stopped with SIGINT) or until it ends on its own. */
const nextStart = (args: readonly string[]) => upUntil(args, /(?!)/, 'SIGINT');

/** Run `aaps gateway ARGS` until ready (then stopped with SIGINT) or until it ends on its own. */
function gatewayUntilReady(args: readonly string[]): Promise<Run> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [AAPS, 'gateway', '--port', '0', ...args], {
      cwd: root,
      env: CLEAN_ENV,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    const hung = setTimeout(() => child.kill('SIGKILL'), 60_000);
    const onData = (b: Buffer) => {
      out += b.toString();
      if (/gateway ready at/.test(out)) child.kill('SIGINT');
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.once('close', (code, sig) => {
      clearTimeout(hung);
      resolve({ code, signal: sig, out });
    });
  });
}

/** The group key and threshold of a ready line. */
function ready(out: string): { key: string; threshold: string } | undefined {
  const m = /aaps: ready at \S+ \(group key ([0-9a-f]{64}), (\d+-of-\d+)[,)]/.exec(out);
  return m === null ? undefined : { key: m[1]!, threshold: m[2]! };
}

/** The group key `public-package.json` in `dataDir` records. */
function recordedKey(dataDir: string): string | undefined {
  const file = join(dataDir, 'public-package.json');
  if (!existsSync(file)) return undefined;
  return (JSON.parse(readFileSync(file, 'utf8')) as { body: { groupPublicKey: string } }).body.groupPublicKey;
}

/** Listen on `port` of 127.0.0.1 as "another process" would, once the stopped party let it go. */
async function takePort(port: number): Promise<void> {
  for (let i = 0; i < 100; i++) {
    const s = createServer();
    const ok = await new Promise<boolean>((r) => {
      s.once('error', () => r(false));
      s.listen(port, '127.0.0.1', () => r(true));
    });
    if (ok) {
      servers.push(s);
      return;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`port ${port} stayed taken`);
}

function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

const rosterPorts = (dataDir: string) =>
  (
    JSON.parse(readFileSync(join(dataDir, 'roster.json'), 'utf8')) as { parties: { url: string }[] }
  ).parties.map((p) => Number(new URL(p.url).port));

describe('aaps up after a first start stopped part way', () => {
  it('stopped by Ctrl-C before its DKG: the next start takes another --threshold, as a first start does', async () => {
    const dataDir = join(root, 'threshold');
    const first = await upUntil(['--data-dir', dataDir], /parties: starting 5 party processes/, 'SIGINT');
    expect(first.out).toContain('aaps: SIGINT during start-up, stopping');
    expect(first.out).toContain(
      'aaps: this start did not finish (first-start-unfinished.json names what it wrote): the next start takes that back and starts afresh',
    );
    expect(first.code).toBe(130);
    const next = await nextStart(['--data-dir', dataDir, '--threshold', '4']);
    expect(next.out).not.toContain('holds a 3-of-5');
    expect(next.out).toMatch(
      /aaps: the first start in \S+ was stopped before it was ready; removed what it wrote: .*roster\.json.*; starting afresh/,
    );
    expect(ready(next.out)?.threshold).toBe('4-of-5');
    expect(next.code).toBe(0);
    // Ready: the record of an unfinished start is gone, so a later start keeps this setup.
    expect(existsSync(join(dataDir, 'first-start-unfinished.json'))).toBe(false);
  }, 120_000);

  it('killed (-9) once its parties listened: a probed port another process took since does not stop the next start', async () => {
    const dataDir = join(root, 'port');
    const first = await upUntil(['--data-dir', dataDir], /parties: monitoring http/, 'SIGKILL');
    expect(first.signal).toBe('SIGKILL');
    const taken = rosterPorts(dataDir)[2]!;
    await takePort(taken);
    const next = await nextStart(['--data-dir', dataDir]);
    expect(next.out).not.toContain('EADDRINUSE');
    expect(ready(next.out)?.threshold).toBe('3-of-5');
    expect(next.code).toBe(0);
    expect(rosterPorts(dataDir)).not.toContain(taken);
  }, 120_000);

  it('killed (-9) with --local once it dealt its key set: the next start deals anew, with another --threshold', async () => {
    const dataDir = join(root, 'local');
    const first = await upUntil(
      ['--local', '--data-dir', dataDir],
      /keys: dealt a 3-of-5 key set/,
      'SIGKILL',
    );
    expect(first.signal).toBe('SIGKILL');
    const next = await nextStart(['--local', '--data-dir', dataDir, '--threshold', '4']);
    expect(next.out).toMatch(
      /aaps: the first start in \S+ was stopped before it was ready; removed what it wrote: .*local.*; starting afresh/,
    );
    expect(next.out).toContain('keys: dealt a 4-of-5 key set');
    expect(ready(next.out)?.threshold).toBe('4-of-5');
    expect(next.code).toBe(0);
  }, 120_000);

  it('killed (-9) with a party of it that does not stop: the next start names it and removes nothing; once it is gone, the start is ready', async () => {
    const dataDir = join(root, 'orphan');
    let pid = 0;
    const first = await upUntil(['--data-dir', dataDir], /parties: monitoring http/, 'SIGKILL', () => {
      // The audit party cannot see its parent go, as a party hung on a stalled disk would not.
      pid = Number(readFileSync(join(dataDir, 'parties', 'audit', 'party.pid'), 'utf8'));
      process.kill(pid, 'SIGSTOP');
    });
    expect(first.signal).toBe('SIGKILL');
    try {
      const refused = await nextStart(['--data-dir', dataDir]);
      expect(refused.out).toContain(
        `aaps: party audit of a first start that stopped before it was ready still runs (pid ${pid}): stop it, then start again`,
      );
      expect(refused.code).toBe(1);
      expect(existsSync(join(dataDir, 'roster.json'))).toBe(true);
    } finally {
      process.kill(pid, 'SIGCONT');
    }
    // Let go, it sees its parent gone and stops.
    for (let i = 0; i < 100 && isRunning(pid); i++) await new Promise((r) => setTimeout(r, 100));
    const next = await nextStart(['--data-dir', dataDir]);
    expect(next.out).toContain('starting afresh');
    expect(ready(next.out)?.threshold).toBe('3-of-5');
    expect(next.code).toBe(0);
  }, 120_000);

  // Stop points as the progress output names them: the next start is ready on a whole
  // deployment, the group key it announces the one on record. One before any party runs, the
  // DKG begun (Ctrl-C), some parties committed and not others, and the DKG done: what lies between
  // (the parties starting, rounds 2 and 3) leaves the same kinds of state, and each real start
  // costs seconds of the suite (the parties listening is the port test above).
  const stops: [string, RegExp, NodeJS.Signals][] = [
    ['the token written', /token: created/, 'SIGKILL'],
    ['DKG round 1', /dkg \S+: round 1 /, 'SIGINT'],
    ['the DKG committing', /dkg \S+: every party verified package/, 'SIGKILL'],
    ['the DKG done', /dkg \S+: done, group key/, 'SIGKILL'],
  ];
  for (const [stage, when, signal] of stops) {
    it(`stopped (${signal}) at ${stage}: the next start is ready, its group key the one on record`, async () => {
      const dataDir = join(root, stage.replaceAll(' ', '-'));
      const first = await upUntil(['--data-dir', dataDir], when, signal);
      expect(ready(first.out)).toBeUndefined();
      const next = await nextStart(['--data-dir', dataDir]);
      const r = ready(next.out);
      expect(r?.threshold, next.out).toBe('3-of-5');
      expect(next.code).toBe(0);
      expect(recordedKey(dataDir)).toBe(r?.key);
      // Every party of the roster has its key and its config, on the roster's port.
      const ports = rosterPorts(dataDir);
      for (const [i, id] of [
        'monitoring',
        'problem-solver',
        'strategy',
        'quality-assurance',
        'audit',
      ].entries()) {
        expect(existsSync(join(dataDir, 'parties', id, 'identity.key')), id).toBe(true);
        const config = JSON.parse(readFileSync(join(dataDir, 'parties', id, 'party.json'), 'utf8')) as {
          port: number;
        };
        expect(config.port, id).toBe(ports[i]);
      }
      expect(existsSync(join(dataDir, 'first-start-unfinished.json'))).toBe(false);
    }, 120_000);
  }
});

describe('a record of an unfinished first start that names what no start writes', () => {
  it('naming the data directory itself ("."): nothing is removed, one line names the record', async () => {
    // A corrupt or crafted record: the next start must not take it as a list of what to delete.
    const dataDir = join(root, 'dot-record');
    mkdirSync(join(dataDir, 'audit'), { recursive: true, mode: 0o700 });
    mkdirSync(join(dataDir, 'logs'), { recursive: true });
    writeFileSync(join(dataDir, 'audit', 'trusted_root.json'), '{}\n', { mode: 0o600 });
    writeFileSync(join(dataDir, 'logs', 'gateway.log'), '{}\n');
    writeFileSync(join(dataDir, 'first-start-unfinished.json'), '{"version":1,"wrote":["."]}\n');
    const next = await nextStart(['--local', '--data-dir', dataDir]);
    expect(existsSync(join(dataDir, 'audit', 'trusted_root.json'))).toBe(true);
    expect(existsSync(join(dataDir, 'logs', 'gateway.log'))).toBe(true);
    expect(next.out).toContain('first-start-unfinished.json');
    expect(next.out).toContain('not a path a first start writes: .');
    expect(next.code).toBe(2);
  }, 60_000);
});

describe('a first start that stopped, then served by aaps gateway', () => {
  it('killed (-9) with the DKG done, then served by aaps gateway and its own parties: the next aaps up keeps that deployment', async () => {
    // The operator runs what the stopped start set up as the docs' split deployment does: each
    // party by its config, the gateway alone. It served (its ready line, the group key): what it
    // serves with is the operator's, and no later start may take it back.
    const dataDir = join(root, 'gateway-served');
    const first = await upUntil(['--data-dir', dataDir], /dkg \S+: done, group key/, 'SIGKILL');
    expect(first.signal).toBe('SIGKILL');
    const key = /dkg \S+: done, group key ([0-9a-f]{64})/.exec(first.out)?.[1];
    expect(key, first.out).toBeDefined();
    const roster = JSON.parse(readFileSync(join(dataDir, 'roster.json'), 'utf8')) as {
      parties: { id: string; url: string }[];
    };
    // Its orphaned parties see their parent gone and stop.
    for (const p of roster.parties) {
      const pidFile = join(dataDir, 'parties', p.id, 'party.pid');
      for (let i = 0; i < 100 && existsSync(pidFile); i++) await new Promise((r) => setTimeout(r, 100));
    }
    const parties: PartyProcess[] = roster.parties.map((p) =>
      spawnParty(p.id, p.url, join(dataDir, 'parties', p.id, 'party.json')),
    );
    let served: Run;
    try {
      await Promise.all(parties.map((p) => p.ready()));
      served = await gatewayUntilReady(['--data-dir', dataDir]);
    } finally {
      await Promise.all(parties.map((p) => p.stop('SIGTERM')));
    }
    expect(served.out).toContain(`aaps: gateway ready at`);
    expect(served.out).toContain(`group key ${key}`);
    const next = await nextStart(['--data-dir', dataDir]);
    expect(next.out).not.toContain('removed what it wrote');
    expect(ready(next.out)?.key, next.out).toBe(key);
    expect(recordedKey(dataDir)).toBe(key);
  }, 120_000);
});
