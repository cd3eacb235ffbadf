/**
 * `aaps up`'s own retry of a first start whose probed party port is taken before the party binds
 * it, on the built CLI and real party processes. A preloaded hook (NODE_OPTIONS, which the
 * parties inherit) takes the strategy party's port once, from inside that party's process before
 * its server listens: the party fails with `cannot listen on ...: EADDRINUSE`, as when another
 * process takes the port in between. Every later start of that party runs untouched (or, to
 * exhaust the attempts, none does). A failure that is no taken port is not retried.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { connectionRefused } from '../test-helpers/connection-refused.js';

const CLI = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'dist', 'cli', 'aaps.js');
const root = mkdtempSync(join(tmpdir(), 'aaps-up-port-retry-'));
const children: ChildProcess[] = [];
afterAll(() => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  rmSync(root, { recursive: true, force: true });
});

/**
 * Takes the port of the party named by TAKE_PORT_PARTY once (the first to create TAKE_PORT_MARKER),
 * or at every start with TAKE_PORT_ALWAYS set.
 */
const HOOK = join(root, 'take-port-once.cjs');
writeFileSync(
  HOOK,
  `const fs = require('node:fs');
const net = require('node:net');
const i = process.argv.indexOf('--config');
const marker = process.env.TAKE_PORT_MARKER;
if (i > 0 && marker) {
  const config = JSON.parse(fs.readFileSync(process.argv[i + 1], 'utf8'));
  if (config.id === process.env.TAKE_PORT_PARTY) {
    let first = false;
    try {
      fs.writeFileSync(marker, String(config.port), { flag: process.env.TAKE_PORT_ALWAYS ? 'w' : 'wx' });
      first = true;
    } catch {}
    if (first) net.createServer().listen(config.port, config.host);
  }
}
`,
);

interface Roster {
  parties: { id: string; url: string }[];
}

/** The pids of running processes whose command line names `dir` (the parties of that data dir). */
function processesUnder(dir: string): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (readFileSync(`/proc/${entry}/cmdline`, 'utf8').includes(`${dir}/parties/`))
        pids.push(Number(entry));
    } catch {
      // gone meanwhile
    }
  }
  return pids;
}

/** Start `aaps up` in `dir` with the hook; `until` resolves with the output once it matches. */
function upWithTakenPort(dir: string, opts: { always?: boolean; args?: string[]; party?: string } = {}) {
  const marker = join(dir, '..', `${dir.split('/').pop()}-taken-port`);
  const child = spawn(process.execPath, [CLI, 'up', '--data-dir', dir, '--port', '0', ...(opts.args ?? [])], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: {
      ...process.env,
      NODE_OPTIONS: `${process.env['NODE_OPTIONS'] ?? ''} --require ${HOOK}`.trim(),
      TAKE_PORT_MARKER: marker,
      TAKE_PORT_PARTY: opts.party ?? 'strategy',
      ...(opts.always ? { TAKE_PORT_ALWAYS: '1' } : {}),
    },
  });
  children.push(child);
  let out = '';
  const waiters: { re: RegExp; resolve: () => void }[] = [];
  const onData = (b: Buffer) => {
    out += b.toString();
    for (const w of waiters.splice(0)) {
      if (w.re.test(out)) w.resolve();
      else waiters.push(w);
    }
  };
  child.stdout.on('data', onData);
  child.stderr.on('data', onData);
  const exited = new Promise<number | null>((r) => child.once('exit', (c) => r(c)));
  return {
    child,
    marker,
    exited,
    output: () => out,
    until: (re: RegExp) =>
      Promise.race([
        new Promise<void>((resolve) => {
          if (re.test(out)) resolve();
          else waiters.push({ re, resolve });
        }),
        exited.then((c) => {
          throw new Error(`aaps up exited with ${c} before ${re}: ${out}`);
        }),
      ]),
  };
}

describe('aaps up, first start, a party port taken before its party binds it', () => {
  it('lays the cluster out again on fresh ports and serves with all five parties there', async () => {
    const dir = join(root, 'retry');
    const up = upWithTakenPort(dir);
    await up.until(/aaps: ready at/);
    const out = up.output();
    expect(out).toContain(
      'parties: a port was taken by another process before its party could listen on it (EADDRINUSE); laying the cluster out again on fresh ports',
    );
    const taken = Number(readFileSync(up.marker, 'utf8'));
    const roster = JSON.parse(readFileSync(join(dir, 'roster.json'), 'utf8')) as Roster;
    const strategy = roster.parties.find((p) => p.id === 'strategy')!;
    expect(Number(new URL(strategy.url).port)).not.toBe(taken);
    // The roster on record is the one the parties run with: each answers at its URL as itself.
    for (const p of roster.parties) {
      const health = (await (await fetch(`${p.url}/healthz`)).json()) as { party?: string };
      expect(health.party, p.url).toBe(p.id);
    }
    expect(out).toContain(`parties: ${roster.parties.map((p) => `${p.id} ${p.url}`).join(', ')}`);
    // One ready party process each: the first attempt's are gone.
    expect(processesUnder(dir)).toHaveLength(5);
    up.child.kill('SIGTERM');
    expect(await up.exited).toBe(0);
    expect(processesUnder(dir)).toEqual([]);
  }, 120_000);

  it('Ctrl-C while it lays the cluster out again: exit 130, no party process of either layout left', async () => {
    const dir = join(root, 'interrupted');
    const up = upWithTakenPort(dir);
    await up.until(/laying the cluster out again on fresh ports/);
    up.child.kill('SIGINT');
    expect(await up.exited).toBe(130);
    expect(up.output()).toContain('aaps: SIGINT during start-up, stopping');
    expect(up.output()).not.toMatch(/ready at/);
    expect(processesUnder(dir)).toEqual([]);
    if (existsSync(join(dir, 'roster.json'))) {
      const roster = JSON.parse(readFileSync(join(dir, 'roster.json'), 'utf8')) as Roster;
      for (const p of roster.parties) expect(await connectionRefused(`${p.url}/healthz`), p.url).toBe(true);
    }
  }, 120_000);

  it('gives up after three attempts with the taken port named, no party left', async () => {
    const dir = join(root, 'exhausted');
    const up = upWithTakenPort(dir, { always: true });
    const code = await up.exited;
    const out = up.output();
    expect(code).toBe(1);
    expect(out.match(/laying the cluster out again on fresh ports/g)).toHaveLength(2);
    expect(out).toMatch(/party strategy exited with 2: .*cannot listen on 127\.0\.0\.1:\d+: EADDRINUSE/);
    expect(out).not.toMatch(/ready at/);
    expect(processesUnder(dir)).toEqual([]);
  }, 120_000);

  it('a party that fails for another reason (a bad policy file) is not laid out again, and named', async () => {
    const dir = join(root, 'bad-policy');
    const policies = join(root, 'bad-policies');
    mkdirSync(policies, { recursive: true });
    writeFileSync(join(policies, 'audit.json'), '{ not json');
    // The hook takes no port here (no party has this id).
    const up = upWithTakenPort(dir, { args: ['--party-policy-dir', policies], party: 'none' });
    const code = await up.exited;
    const out = up.output();
    expect(code).toBe(1);
    expect(out).not.toContain('laying the cluster out again');
    expect(out).toContain('party audit exited with 2');
    expect(out).toContain(join(policies, 'audit.json'));
    expect(processesUnder(dir)).toEqual([]);
  }, 120_000);
});
