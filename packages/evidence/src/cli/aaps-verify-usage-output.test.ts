/**
 * `aaps-verify` as an auditor meets it, the built CLI spawned as a process: usage errors in one
 * line, --jobs, and stdout that cannot be written. Each case was a bug found in review; `Before:`
 * says what it did.
 */
import { spawnSync } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLI, ensureBuilt } from '../test-helpers/build-dist.js';
import { makeLoggedBundles } from '../test-helpers/fixtures.js';

let dir: string;
let bundle: string;
let keyHex: string;

beforeAll(async () => {
  ensureBuilt();
  dir = mkdtempSync(join(tmpdir(), 'aaps-verify-review-'));
  const fx = await makeLoggedBundles(1);
  keyHex = Buffer.from(fx.group.publicKey).toString('hex');
  bundle = join(dir, 'bundle.json');
  writeFileSync(bundle, JSON.stringify(fx.bundle));
}, 180_000);
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function run(args: string[], stdout: 'pipe' | number = 'pipe') {
  const r = spawnSync(process.execPath, [CLI, ...args], {
    encoding: 'utf8',
    timeout: 60_000,
    stdio: ['ignore', stdout, 'pipe'],
  });
  return { code: r.status, out: r.stdout ?? '', err: r.stderr };
}

describe('aaps-verify: a bad command line is one line on stderr (docs/evidence.md)', () => {
  it.each([
    ['--key', '--json'],
    ['--trusted-root', '--json'],
  ])('%s followed by %s (a missing value): exit 2 and ONE line', (flag, next) => {
    const r = run([bundle, flag, next]);
    expect(r.code).toBe(2);
    // Before: Node's parseArgs message is kept whole: "argument is ambiguous.\nDid you forget to
    // specify the option argument for '--key'?\nTo specify an option argument starting with a
    // dash use '--key=-XYZ'. (aaps-verify --help shows usage)": three lines.
    expect(r.err.trimEnd().split('\n')).toHaveLength(1);
  });

  it.each(['1e1', '0x2', ' 2'])('--jobs %j is no integer from 1 to MAX_JOBS: a usage error', (jobs) => {
    const r = run([bundle, '--key', keyHex, '--jobs', jobs]);
    // Before: Number() reads exponent, hex and padded forms, so they run (exit 0).
    expect(r.code).toBe(2);
    expect(r.err).toContain('--jobs');
  });
});

describe('aaps-verify: output that cannot be written', () => {
  it('--json > a full disk (ENOSPC, not a reader that left): not exit 0 with no report and no word', () => {
    const full = openSync('/dev/full', 'w');
    try {
      const r = run([bundle, '--key', keyHex, '--json'], full);
      // Before: the write error is taken for "stdout is gone" (EPIPE): nothing on stderr, exit 0,
      // so `aaps-verify b --json > report.json && archive report.json` archives an empty report.
      expect(r.code).not.toBe(0);
      expect(r.err).toMatch(/ENOSPC|write/);
    } finally {
      closeSync(full);
    }
  });
});
