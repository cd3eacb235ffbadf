/**
 * The party binary (`packages/agents/dist/main.js`, also `aaps party ...`) as an operator meets
 * it, spawned as a process: --flag=value and --help. Each case was a bug found in review;
 * `Before:` says what it did.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { PARTY_MAIN } from '../cluster.js';

const dir = mkdtempSync(join(tmpdir(), 'party-cli-review-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function party(args: string[]) {
  const r = spawnSync(process.execPath, [PARTY_MAIN, ...args], {
    encoding: 'utf8',
    timeout: 60_000,
    cwd: dir,
    env: { PATH: process.env.PATH ?? '' },
  });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

describe('party binary: --flag=value', () => {
  it('init --data-dir=DIR keeps the whole value: a path with "=" in it is not cut at its second "="', () => {
    const wanted = join(dir, 'dept=sre');
    const r = party(['init', '--id', 'p1', '--role', 'monitoring', `--data-dir=${wanted}`]);
    expect(r.code).toBe(0);
    // Before: split('=', 2) drops everything after the value's first '=': the keys and party.json
    // went to DIR/dept, a directory nobody named, and the output said so only on stderr.
    expect(existsSync(join(dir, 'dept'))).toBe(false);
    expect(existsSync(join(wanted, 'party.json'))).toBe(true);
  });

  it('--config=FILE keeps the whole value: the file read is the one named', () => {
    const wanted = join(dir, 'site=b');
    expect(party(['init', '--id', 'p2', '--role', 'audit', '--data-dir', wanted]).code).toBe(0);
    const r = party([`--config=${join(wanted, 'party.json')}`]);
    // It fails (no roster beside it), but about the config named, not about DIR/site.
    expect(r.err).not.toContain(`party config ${join(dir, 'site')} cannot be read`);
    expect(r.err).toContain('roster');
  });
});

describe('party binary: --help', () => {
  it('--help prints a usage and exits 0 (aaps.ts: "a party prints its own")', () => {
    const r = party(['--help']);
    // Before: "aaps party: unknown flag --help", exit 2.
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/usage/i);
  });

  it('backup --help prints its usage and exits 0', () => {
    const r = party(['backup', '--help']);
    // Before: "--split k/m is required", exit 2.
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/usage: aaps party backup/);
  });
});
