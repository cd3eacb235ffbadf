/**
 * The `aaps` CLI as an operator or auditor meets it, the built CLI spawned as a process (against a
 * test gateway served on loopback, or a stand-in that counts what it is asked): log audit's own
 * files, --url, value flags followed by a flag, odd answers, unwritable output, refused starts,
 * party --help. Each case was a bug found in review; `Before:` says what it did.
 */
import { spawn, spawnSync } from 'node:child_process';
import { closeSync, existsSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadOrCreateIdentityKey } from '@aaps/agents';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AAPS, CLEAN_ENV as ENV, runAaps } from '../test-helpers/aaps-process.js';
import { type TestGateway, TOKENS } from '../test-helpers/gateway.js';
import { gatewayWithLog, pinServedRoot } from '../test-helpers/log-audit.js';
import {
  type DownGateway,
  downGateway,
  type LoopbackServer,
  listenLoopback,
  serveGatewayApp,
} from '../test-helpers/loopback-server.js';

const dir = mkdtempSync(join(tmpdir(), 'aaps-cli-review-'));

/** The built CLI as a process, asynchronously (the servers below run in this process). */
const aaps = (args: string[]) => runAaps(args, dir);

const lines = (s: string) => s.split('\n').filter((l) => l !== '');

// A test gateway (in-process parties) whose log holds two entries under a signed checkpoint,
// served over HTTP; every path asked is counted.
let gw: TestGateway;
let served: LoopbackServer;
const asked: string[] = [];

// A stand-in that answers 502 to everything and counts requests (nothing may be asked).
let proxy: DownGateway;

beforeAll(async () => {
  gw = await gatewayWithLog(2);
  served = await serveGatewayApp(gw, asked);
  proxy = await downGateway();
  loadOrCreateIdentityKey(join(dir, 'data', 'approvers', 'oncall.key'), true, 'approver');
  // The auditor's pinned root, so that log audit's own files are what these tests find wrong.
  await pinServedRoot(gw, join(dir, 'data'));
}, 120_000);

afterAll(async () => {
  await served.close();
  await proxy.close();
  await gw.cleanup();
  rmSync(dir, { recursive: true, force: true });
});

const reader = () => ['--url', served.url, '--api-token', TOKENS.read, '--data-dir', join(dir, 'data')];

describe('aaps log audit: its own files', () => {
  it('--save DIR (a directory): a usage error found before the walk, not exit 1 after it', async () => {
    asked.length = 0;
    const r = await aaps(['log', 'audit', '--save', dir, ...reader()]);
    // Before: the whole log is walked and checks out, then "cannot save the checkpoint to DIR:
    // EISDIR", exit 1: the code docs/api.md gives a log that does NOT check out.
    expect(r.code).toBe(2);
    expect(r.err).toContain('--save');
    expect(asked.filter((p) => p.startsWith('/v1/log/entries'))).toEqual([]);
  });

  it('--save into a directory that does not exist: a usage error found before the walk', async () => {
    asked.length = 0;
    const r = await aaps(['log', 'audit', '--save', join(dir, 'no-such-dir', 'kept.note'), ...reader()]);
    expect(r.code).toBe(2);
    expect(r.err).toContain('--save');
    expect(asked.filter((p) => p.startsWith('/v1/log/entries'))).toEqual([]);
  });

  it('--checkpoint FILE that is no signed note at all (an empty file): usage (exit 2), not an audit FAILED', async () => {
    const empty = join(dir, 'empty.note');
    writeFileSync(empty, '');
    asked.length = 0;
    const r = await aaps(['log', 'audit', '--checkpoint', empty, ...reader()]);
    // Before: the log is walked first, then "FAILED: --checkpoint F: signed note has no signature
    // block", exit 1, as a fork would be. aaps-verify refuses the same file as a usage error (2).
    expect(r.code).toBe(2);
    expect(r.err).toContain('--checkpoint');
    expect(r.err).not.toContain('FAILED');
  });
});

describe('aaps client commands: --url', () => {
  it('a gateway URL with a trailing slash (as copied from a browser) works', async () => {
    const r = await aaps(['keys', '--url', `${served.url}/`, '--api-token', TOKENS.read]);
    // Before: it asks GET //v1/keys: "cannot read the keys: HTTP 404 NOT_FOUND no such endpoint".
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
  });
});

describe('aaps client commands: a flag that takes a value, followed by another flag', () => {
  const common = () => ['--url', proxy.url, '--api-token', TOKENS.admin, '--data-dir', join(dir, 'data')];

  it('unseal EVIDENCE --reason --json: "--json" is no reason: exit 2, the gateway not asked', async () => {
    proxy.hits = 0;
    const r = await aaps(['unseal', 'a'.repeat(64), '--reason', '--json', ...common()]);
    // Before: the reason is "--json" (the request would be signed and logged with it, the values
    // printed as text): the gateway is asked, exit 1. `--api-token --json` is refused as a missing value.
    expect(proxy.hits).toBe(0);
    expect(r.code).toBe(2);
  });

  it('approve INCIDENT --reject --reason --yes: "--yes" is no reason: exit 2, nothing asked', async () => {
    proxy.hits = 0;
    const r = await aaps(['approve', 'inc-1', '--reject', '--reason', '--yes', ...common()]);
    // Before: a rejection with the reason "--yes" goes ahead (it ends the incident).
    expect(proxy.hits).toBe(0);
    expect(r.code).toBe(2);
  });
});

describe('aaps: hostile or odd answers are one readable line', () => {
  it('keys against a gateway answering 200 {}: one line that names the answer, not a TypeError', async () => {
    const odd = await listenLoopback((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end('{}');
    });
    try {
      const r = await aaps(['keys', '--url', odd.url, '--api-token', TOKENS.read]);
      expect(r.code).toBe(1);
      expect(lines(r.err)).toHaveLength(1);
      // Before: "aaps: Cannot read properties of undefined (reading 'min')".
      expect(r.err).not.toMatch(/Cannot read properties|undefined/);
    } finally {
      await odd.close();
    }
  });
});

describe('aaps: output that cannot be written', () => {
  it('openapi > a full disk: not exit 0 with nothing written and nothing said', () => {
    const full = openSync('/dev/full', 'w');
    try {
      const r = spawnSync(process.execPath, [AAPS, 'openapi'], {
        encoding: 'utf8',
        env: ENV,
        timeout: 60_000,
        stdio: ['ignore', full, 'pipe'],
      });
      // Before: ENOSPC is taken for a reader that left (EPIPE): exit 0, stderr empty, so
      // `aaps openapi > openapi.json && publish openapi.json` publishes an empty file.
      expect(r.status).not.toBe(0);
      expect(r.stderr).toMatch(/ENOSPC|write/);
    } finally {
      closeSync(full);
    }
  });
});

describe('aaps gateway: a start it refuses leaves nothing', () => {
  it('no roster in a new --data-dir: exit 2 and the directory is not created (docs/api.md: "before it writes anything")', async () => {
    const fresh = join(dir, 'typo-data-dir');
    const r = await aaps(['gateway', '--data-dir', fresh]);
    expect(r.code).toBe(2);
    // Before: withDataDirLock makes the directory (0700) and its lock before the roster is read.
    expect(existsSync(fresh)).toBe(false);
  });
});

describe('aaps <command> --help', () => {
  it('aaps party --help: a party usage on stdout, exit 0 (aaps.ts: "a party prints its own")', async () => {
    const r = await aaps(['party', '--help']);
    // Before: "aaps party: unknown flag --help", exit 2.
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/usage/i);
  });

  it('aaps --version and aaps party --version: the release, read from package.json, exit 0', async () => {
    const version = (
      JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }
    ).version;
    // Before: "aaps: unknown command --version", exit 2; the party's "unknown flag --version".
    for (const args of [['--version'], ['party', '--version']]) {
      const r = await aaps(args);
      expect({ code: r.code, out: r.out.trim() }).toEqual({ code: 0, out: version });
    }
  });
});

/** `aaps up --local` as a process until its ready line (then SIGTERM) or its exit. */
function upLocal(
  dataDir: string,
  extra: string[],
): Promise<{ code: number | null; out: string; err: string }> {
  return new Promise((resolve) => {
    const child = spawn(
      process.execPath,
      [AAPS, 'up', '--local', '--port', '0', '--data-dir', dataDir, ...extra],
      {
        cwd: dir,
        env: ENV,
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let out = '';
    let err = '';
    child.stdout.on('data', (b: Buffer) => {
      out += b.toString();
      if (out.includes('aaps: ready at ')) child.kill('SIGTERM');
    });
    child.stderr.on('data', (b: Buffer) => {
      err += b.toString();
    });
    child.once('close', (code) => resolve({ code, out, err }));
  });
}

describe('aaps up --local: a flag it cannot honour is refused, not ignored', () => {
  it('--threshold 4 on a data directory holding a 3-of-5 local key: exit 2, as aaps up without --local does', async () => {
    const d = join(dir, 'local-threshold');
    const first = await upLocal(d, []);
    expect(first.out).toContain('3-of-5, local parties');
    const again = await upLocal(d, ['--threshold', '4']);
    // Before: "keys: reusing .../local/keys.json", then "ready at ... 3-of-5": the --threshold asked
    // for is dropped without a word (docs/api.md: a --threshold other than the saved one is refused).
    expect(again.out).not.toContain('aaps: ready at');
    expect(again.code).toBe(2);
    expect(again.err).toContain('threshold');
  }, 120_000);
});
