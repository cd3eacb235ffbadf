/**
 * Review: a department running its own party node, as an operator who reads only the docs meets
 * it. Every case spawns the built party binary (`dist/main.js`, what `aaps party` runs) on its
 * own data directory laid out as `aaps party init` / `aaps up` lay one out.
 */
import { type ChildProcessWithoutNullStreams, spawn, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  decodeCbor,
  encodeCbor,
  getCiphersuite,
  hexToBytes,
  SecretBytes,
  trustedDealer,
} from '@aaps/mpc-core';
import { Level } from 'level';
import { afterEach, describe, expect, it } from 'vitest';
import { PARTY_MAIN, PARTY_NODE_ARGS } from './cluster.js';
import { rosterParticipants } from './party/key-roster.js';
import { layParty } from './party/test-helpers/party-dir.js';
import { rosterDigest } from './roster.js';
import { PartyStore } from './store/level.js';

const dirs: string[] = [];
const children: ChildProcessWithoutNullStreams[] = [];
afterEach(() => {
  for (const c of children.splice(0)) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

const env = () => ({ PATH: process.env.PATH ?? '' });

/** Spawn the party binary; resolves with its URL once it logs `party.listening`. */
function startProcess(configPath: string, args: string[] = []) {
  const child = spawn(process.execPath, [PARTY_MAIN, '--config', configPath, ...args], {
    env: env(),
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  children.push(child);
  let out = '';
  let err = '';
  child.stderr.on('data', (d: Buffer) => {
    err += d.toString();
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal })),
  );
  const listening = new Promise<string>((resolve, reject) => {
    const onData = (d: Buffer) => {
      out += d.toString();
      const line = out.split('\n').find((l) => l.includes('"party.listening"'));
      if (line) {
        child.stdout.off('data', onData);
        resolve((JSON.parse(line) as { url: string }).url);
      }
    };
    child.stdout.on('data', onData);
    void exited.then(({ code }) => reject(new Error(`party exited ${code} before listening: ${err}`)));
  });
  return {
    child,
    listening,
    exited,
    stdout: () => out,
    stderr: () => err,
    keepReading: () =>
      child.stdout.on('data', (d: Buffer) => {
        out += d.toString();
      }),
  };
}

/** Run the party binary to completion (a start expected to fail, or a subcommand). */
function runSync(args: string[]) {
  const r = spawnSync(process.execPath, [PARTY_MAIN, ...args], {
    encoding: 'utf8',
    timeout: 60_000,
    env: env(),
  });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

const alive = async (url: string) => {
  try {
    return (await fetch(`${url}/healthz`, { signal: AbortSignal.timeout(2000) })).status === 200;
  } catch {
    return false;
  }
};

describe('signals an operator or a terminal sends', () => {
  it('SIGHUP (a closed terminal, `kill -HUP`, a supervisor reload) stops the party as SIGTERM does: drained, logged, exit 0', async () => {
    const p = layParty(dirs);
    const proc = startProcess(join(p.dir, 'party.json'));
    await proc.listening;
    proc.keepReading();
    proc.child.kill('SIGHUP');
    const { code, signal } = await proc.exited;
    // Now: Node's default action for SIGHUP ends the process at once: no party.stopping /
    // party.stopped line, no drain of in-flight signings, exit 129 (killed by SIGHUP). An operator
    // who edits policy.json and sends the conventional reload signal gets a dead party and a log
    // that says nothing about why.
    expect({ code, signal, stopped: proc.stdout().includes('"party.stopped"') }).toEqual({
      code: 0,
      signal: null,
      stopped: true,
    });
  });
});

describe('its log output', () => {
  it('a closed stdout (the log collector gone) does not let a stranger crash the party', async () => {
    const p = layParty(dirs);
    const proc = startProcess(join(p.dir, 'party.json'));
    const url = await proc.listening;
    // The reader of the party's stdout goes away (a `| logger` pipeline or a log sidecar that
    // died, `aaps party ... | head`). The next log line meets EPIPE.
    proc.child.stdout.destroy();
    // Anyone who can reach the port makes the party log a line: an unauthenticated call is
    // `request.rejected` (docs/api.md, "Who may call a party").
    const answer = await fetch(`${url}/v1/sign/commit`, { method: 'POST', body: '{}' }).then(
      (r) => r.status,
      (e: Error) => `no answer: ${e.message}`,
    );
    await new Promise((resolve) => setTimeout(resolve, 1000));
    // Now: an unhandled 'error' event (write EPIPE) ends the process with a stack trace on stderr
    // before it even answers (the socket is closed: "fetch failed"), no drain; the gateway loses
    // this party until someone restarts it.
    expect({ answer, alive: await alive(url), epipe: proc.stderr().includes('EPIPE') }).toEqual({
      answer: 401,
      alive: true,
      epipe: false,
    });
  });
});

describe('files an interrupted first start or a bad copy leaves', () => {
  it('an empty data.key (a first start killed between creating and writing it): the one line names the file', () => {
    const p = layParty(dirs);
    writeFileSync(join(p.dir, 'data.key'), '', { mode: 0o600 });
    const r = runSync(['--config', join(p.dir, 'party.json')]);
    expect(r.code).toBe(2);
    // Now: "aaps party: data key: expected 32 bytes, got 0" — which file? (--data-key-file, the
    // config's data_key_file or <data-dir>/data.key; the operator has to read the code to know.)
    expect(r.err).toContain(join(p.dir, 'data.key'));
  });

  it('an empty identity.key (a torn copy): the one line names the file', () => {
    const p = layParty(dirs);
    writeFileSync(join(p.dir, 'identity.key'), '', { mode: 0o600 });
    const r = runSync(['--config', join(p.dir, 'party.json')]);
    expect(r.code).toBe(2);
    // Now: "aaps party: identity key: expected 32 bytes, got 0".
    expect(r.err).toContain(join(p.dir, 'identity.key'));
  });
});

describe('a data directory another instance is using', () => {
  it('a second party process on the same data dir is told another party process uses it', async () => {
    const p = layParty(dirs);
    const first = startProcess(join(p.dir, 'party.json'));
    await first.listening;
    const r = runSync(['--config', join(p.dir, 'party.json'), '--port', '0']);
    expect(r.code).not.toBe(0);
    // Now: "cannot open the database DIR/db: Database failed to open: IO error: lock DIR/db/LOCK:
    // Resource temporarily unavailable" — LevelDB's words. `aaps party backup` on the same
    // directory says "party ... is running (its database ... is locked): stop the party process
    // first", and `aaps up`/`aaps gateway` say "another aaps (pid N) is using DIR".
    expect(r.err).toMatch(/is running|another party/);
  });
});

describe('restore onto a new host (docs/sealing.md, "Procedure for custodians")', () => {
  it('the database `aaps party restore` creates is owner only (0700), as the party itself makes it', async () => {
    const p = layParty(dirs);
    // A party that holds a key: started once (data key, database), a dealt key stored.
    const first = startProcess(join(p.dir, 'party.json'));
    await first.listening;
    first.child.kill('SIGTERM');
    await first.exited;
    const suite = getCiphersuite('FROST-ED25519-SHA512-v1');
    const dealt = trustedDealer(suite, { min: 3, max: 5 });
    const dataKey = new SecretBytes(hexToBytes(readFileSync(join(p.dir, 'data.key'), 'utf8').trim()));
    const store = await PartyStore.open(join(p.dir, 'db'), dataKey, 'monitoring-agent');
    await store.saveKey({
      keyPackage: dealt.keyPackages[0]!,
      publicPackage: dealt.publicPackage,
      rosterDigest: rosterDigest(p.set.roster),
      createdAt: '2026-11-25T15:00:00.000Z',
      participants: rosterParticipants(p.set.roster),
    });
    await store.close();
    const out = mkdtempSync(join(tmpdir(), 'aaps-backup-out-'));
    dirs.push(out);
    const backup = runSync([
      'backup',
      '--config',
      join(p.dir, 'party.json'),
      '--split',
      '2/3',
      '--out',
      join(out, 'set'),
    ]);
    expect(backup.code).toBe(0);
    const files = backup.out.split('\n').filter((l) => l.endsWith('.json'));
    expect(files).toHaveLength(3);

    // The new host: config, roster and identity key in place, no data key, no database.
    const host = mkdtempSync(join(tmpdir(), 'aaps-new-host-'));
    dirs.push(host);
    for (const f of ['party.json', 'roster.json', 'identity.key'])
      writeFileSync(join(host, f), readFileSync(join(p.dir, f)), { mode: 0o600 });
    const restore = runSync(['restore', '--config', join(host, 'party.json'), files[0]!, files[1]!]);
    expect(restore.code).toBe(0);
    // Now: LevelDB makes db/ 0755 under umask 022, so the restored store (sealed key share, audit
    // trail) is listable by every local user until the party's first start tightens it; the
    // party's own start makes it 0700 (main.test.ts), docs/api.md says db/ is 0700.
    expect(statSync(join(host, 'db')).mode & 0o777).toBe(0o700);
  });
});

describe('which policy the party enforces', () => {
  it('the operator can see which policy file is in force (start line or /healthz), not only that the party listens', async () => {
    const p = layParty(dirs, { policy: 'policy.json' });
    const policy = JSON.parse(
      readFileSync(join(import.meta.dirname, '..', 'policies', 'monitoring.json'), 'utf8'),
    ) as { allowed_auto_actions: string[] };
    policy.allowed_auto_actions = ['pod_restart'];
    writeFileSync(join(p.dir, 'policy.json'), JSON.stringify(policy));
    const proc = startProcess(join(p.dir, 'party.json'));
    const url = await proc.listening;
    const health = JSON.stringify(await (await fetch(`${url}/healthz`)).json());
    const startLine = proc.stdout();
    // Now: neither the start line ({url, role, has_key}) nor /healthz nor /metrics says whether the
    // party runs policy.json or its role's permissive default (what it runs when `policy` is
    // missing, misspelled as null, or AAPS_PARTY_POLICY is set empty), nor which version of the
    // file: after editing the policy and restarting, the operator cannot confirm it took effect
    // short of waiting for a refusal.
    expect(`${startLine}${health}`).toContain(join(p.dir, 'policy.json'));
  });
});

/**
 * `aaps party --config F` (packages/gateway/bin/aaps.js), what docs/api.md step 4 tells an operator
 * to run under a supervisor ("start node_modules/.bin/aaps party … itself"), runs the party as a
 * child process (cli/aaps.ts, case 'party') and forwards only SIGINT and SIGTERM to it.
 */
const AAPS_BIN = join(import.meta.dirname, '..', '..', 'gateway', 'bin', 'aaps.js');
const orphans: number[] = [];
afterEach(() => {
  for (const pid of orphans.splice(0)) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
});

async function startThroughAaps(configPath: string, extraEnv: Record<string, string> = {}) {
  const wrapper = spawn(process.execPath, [AAPS_BIN, 'party', '--config', configPath], {
    env: { ...env(), ...extraEnv },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  children.push(wrapper);
  let out = '';
  const url = await new Promise<string>((resolve, reject) => {
    wrapper.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      const line = out.split('\n').find((l) => l.includes('"party.listening"'));
      if (line) resolve((JSON.parse(line) as { url: string }).url);
    });
    wrapper.once('exit', (code) => reject(new Error(`aaps party exited ${code}`)));
  });
  // The party process the wrapper started (its only child), so the test can end it by its id.
  const party = Number(
    spawnSync('ps', ['-o', 'pid=', '--ppid', String(wrapper.pid)], { encoding: 'utf8' }).stdout.trim(),
  );
  expect(party).toBeGreaterThan(0);
  orphans.push(party);
  const exited = new Promise<void>((resolve) => wrapper.once('exit', () => resolve()));
  return { wrapper, party, url, exited };
}

describe('`aaps party` under a supervisor', () => {
  for (const signal of ['SIGKILL', 'SIGHUP'] as const) {
    it(`${signal} to the \`aaps party\` process a supervisor holds ends the party too, so its restart can listen`, async () => {
      const p = layParty(dirs);
      const run = await startThroughAaps(join(p.dir, 'party.json'));
      expect(await alive(run.url)).toBe(true);
      // SIGKILL: what supervisord, runit, pm2 or an operator's `kill -9 $(cat party.pid)` send when
      // the stop times out; SIGHUP: `systemctl reload` / `kill -HUP $MAINPID` after editing
      // policy.json. Either ends the wrapper.
      run.wrapper.kill(signal);
      await run.exited;
      await new Promise((resolve) => setTimeout(resolve, 1000));
      // Now: the party process lives on as an orphan (parent pid 1), still holding the port and
      // the database lock and serving the policy it started with. The supervisor sees its service
      // gone and starts it again, which fails at once, for ever: "aaps party: cannot listen on
      // 127.0.0.1:PORT: EADDRINUSE" (or, on another port, the LevelDB lock).
      expect(await alive(run.url)).toBe(false);
    });
  }
});

describe('`aaps party` memory', () => {
  const cmdline = (pid: number) => readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
  it('runs the party under the heap limits `aaps up` gives its parties, unless NODE_OPTIONS sets its own', async () => {
    const p = layParty(dirs);
    const run = await startThroughAaps(join(p.dir, 'party.json'));
    expect(cmdline(run.party)).toEqual(expect.arrayContaining([...PARTY_NODE_ARGS]));
    run.wrapper.kill('SIGTERM');
    await run.exited;
    const own = await startThroughAaps(join(p.dir, 'party.json'), {
      NODE_OPTIONS: '--max-old-space-size=96',
    });
    expect(cmdline(own.party).some((a) => a.startsWith('--max-old-space-size'))).toBe(false);
    own.wrapper.kill('SIGTERM');
    await own.exited;
  });
});

/** Start once (data key, database), store a dealt key, stop: a party that holds a key. */
async function partyWithKey() {
  const p = layParty(dirs);
  const first = startProcess(join(p.dir, 'party.json'));
  await first.listening;
  first.child.kill('SIGTERM');
  await first.exited;
  const dealt = trustedDealer(getCiphersuite('FROST-ED25519-SHA512-v1'), { min: 3, max: 5 });
  const dataKey = new SecretBytes(hexToBytes(readFileSync(join(p.dir, 'data.key'), 'utf8').trim()));
  const store = await PartyStore.open(join(p.dir, 'db'), dataKey, 'monitoring-agent');
  await store.saveKey({
    keyPackage: dealt.keyPackages[0]!,
    publicPackage: dealt.publicPackage,
    rosterDigest: rosterDigest(p.set.roster),
    createdAt: '2026-11-25T15:00:00.000Z',
    participants: rosterParticipants(p.set.roster),
  });
  await store.close();
  return p;
}

describe('a damaged store', () => {
  it('a key record that no longer decodes (a flipped bit in the stored public package): the one line names the database and what to do', async () => {
    const p = await partyWithKey();
    // What a flipped bit on disk does to the record (found by flipping bytes of the .ldb file
    // holding it: "aaps party: PublicKeyPackage: not the canonical encoding ..."; other offsets give
    // LevelDB's bare "aaps party: Corruption: corrupted compressed block contents").
    const db = new Level<string, Uint8Array>(join(p.dir, 'db'), { valueEncoding: 'view' });
    await db.open();
    const record = decodeCbor((await db.get('key/current'))!) as Record<string, unknown>;
    const pub = Uint8Array.from(record.publicPackage as Uint8Array);
    pub[pub.length - 1]! ^= 0x01;
    pub[4]! ^= 0x80;
    await db.put('key/current', encodeCbor({ ...record, publicPackage: pub }));
    await db.close();
    const r = runSync(['--config', join(p.dir, 'party.json')]);
    expect(r.code).toBe(2);
    // Now: a codec error with no path, no word that the party's stored key is damaged, nothing
    // about `aaps party restore` (docs/sealing.md); a data key mismatch, by contrast, is named
    // with the database and the data key file.
    expect(r.err).toContain(join(p.dir, 'db'));
  });
});

describe('a config file the party cannot read', () => {
  it('"cannot be read" says why (a directory, no permission, missing): the OS reason is in the line', () => {
    const p = layParty(dirs, { policy: 'policy' });
    // The operator unpacked the department's policy bundle as a directory of the same name (or
    // switched the service user, EACCES): the file is there, `ls` shows it, the line says only
    // that it "cannot be read", the same words as for a file that does not exist.
    mkdirSync(join(p.dir, 'policy'));
    const r = runSync(['--config', join(p.dir, 'party.json')]);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/EISDIR|is a directory/);
  });
});

describe("the department's own audit trail", () => {
  it('the operator has a documented way to read it (backups, restores, signatures, releases are recorded there)', () => {
    // docs/sealing.md: backup "records key.backup ... in the party's audit trail", restore
    // "records key.restored"; docs/threat-model.md: releases the gateway does not log are still in
    // "each party's own audit trail". The trail is only written: no subcommand, route or log line
    // reads it (PartyStore.auditTrail is called by tests alone), so the department cannot look.
    const help = runSync(['--help']);
    expect(help.code).toBe(0);
    expect(help.out).toMatch(/audit/);
  });
});

describe('the policy templates a department copies', () => {
  it('the packed @aaps/agents ships policies/<role>.json and policies/README.md, which docs/api.md step 1 tells the department to copy and read', () => {
    // docs/api.md, "Running on separate hosts", step 1: "writes its own policy (copy
    // packages/agents/policies/<role>.json ...: see packages/agents/policies/README.md)". A
    // department host that installs the package (not a clone of this repository) gets neither:
    // package.json "files" is ["dist", "src"], and no command prints a role's default policy.
    const r = spawnSync('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], {
      cwd: join(import.meta.dirname, '..'),
      encoding: 'utf8',
      timeout: 120_000,
    });
    expect(r.status).toBe(0);
    const files = (JSON.parse(r.stdout) as { files: { path: string }[] }[])[0]!.files.map((f) => f.path);
    expect(files).toEqual(
      expect.arrayContaining([
        'policies/README.md',
        'policies/strategy.json',
        'policies/quality-assurance.json',
      ]),
    );
  });
});

describe('upgrading', () => {
  it('the operator can tell which release a party runs: its start line or /healthz carries the version, `aaps party --version` prints it', async () => {
    const version = (
      JSON.parse(readFileSync(join(import.meta.dirname, '..', 'package.json'), 'utf8')) as { version: string }
    ).version;
    const p = layParty(dirs);
    const proc = startProcess(join(p.dir, 'party.json'));
    const url = await proc.listening;
    const health = (await (await fetch(`${url}/healthz`)).json()) as Record<string, unknown>;
    const listening = JSON.parse(
      proc
        .stdout()
        .split('\n')
        .find((l) => l.includes('"party.listening"'))!,
    ) as Record<string, unknown>;
    const cli = runSync(['--version']);
    // Now: no version anywhere: not in party.listening ({url, role, has_key}), not in /healthz or
    // /metrics, and `--version` is "aaps party: unknown flag --version", exit 2. After replacing the
    // binaries on a department host, nothing confirms that the restarted party runs the new release
    // (nor, from the gateway's side, which release each department runs).
    expect({
      health: health.version,
      listening: listening.version,
      cli: { code: cli.code, out: cli.out.trim() },
    }).toEqual({ health: version, listening: version, cli: { code: 0, out: version } });
  });
});
