import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ROLE_NAMED_PARTIES } from '../cluster.js';
import { parsePartyArgs, resolvePartyConfig } from '../config.js';
import { defaultPolicy } from '../policy/defaults.js';
import { runPartyInit } from './party-init.js';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});
const io = () => {
  const out: string[] = [];
  const err: string[] = [];
  return { out, err, io: { out: (l: string) => void out.push(l), err: (l: string) => void err.push(l) } };
};

describe('aaps party init', () => {
  it('creates 0600 keys and a config, and prints a roster entry with the identity key', () => {
    const dir = mkdtempSync(join(tmpdir(), 'party-init-'));
    dirs.push(dir);
    const o = io();
    expect(
      runPartyInit(
        ['--id', 'sre-monitoring', '--role', 'monitoring', '--data-dir', join(dir, 'p'), '--port', '7201'],
        o.io,
      ),
    ).toBe(0);
    for (const f of ['identity.key', 'data.key'])
      expect(statSync(join(dir, 'p', f)).mode & 0o777).toBe(0o600);
    const entry = JSON.parse(o.out.at(-1)!) as { id: string; url: string; identity_key: string };
    expect(entry).toMatchObject({ id: 'sre-monitoring', url: 'http://127.0.0.1:7201' });
    expect(entry.identity_key).toMatch(/^[0-9a-f]{64}$/);
    const config = JSON.parse(readFileSync(join(dir, 'p', 'party.json'), 'utf8')) as Record<string, unknown>;
    expect(resolvePartyConfig(config, {}, join(dir, 'p')).id).toBe('sre-monitoring');
    // A second init refuses rather than replacing the identity.
    expect(
      runPartyInit(['--id', 'sre-monitoring', '--role', 'monitoring', '--data-dir', join(dir, 'p')], io().io),
    ).toBe(2);
  });

  it('writes the policy path and the log origin given, and prints only the entry on stdout', () => {
    const dir = mkdtempSync(join(tmpdir(), 'party-init-'));
    dirs.push(dir);
    const o = io();
    const argv = ['--id', 'risk-dept', '--role', 'strategy', '--data-dir', join(dir, 'p')];
    const extra = ['--policy', join(dir, 'risk.json'), '--log-origin', 'corp.example/aaps-log'];
    writeFileSync(join(dir, 'risk.json'), JSON.stringify(defaultPolicy('strategy')));
    expect(runPartyInit([...argv, ...extra], o.io)).toBe(0);
    expect(o.out).toHaveLength(1);
    expect(JSON.parse(o.out[0]!)).toMatchObject({ id: 'risk-dept', role: 'strategy' });
    const config = JSON.parse(readFileSync(join(dir, 'p', 'party.json'), 'utf8')) as Record<string, unknown>;
    expect(resolvePartyConfig(config, {}, join(dir, 'p'))).toMatchObject({
      policyPath: join(dir, 'risk.json'),
      logOrigin: 'corp.example/aaps-log',
    });
  });

  it('a --policy the party would not start with: one line naming it, exit 2, nothing written', () => {
    const dir = mkdtempSync(join(tmpdir(), 'party-init-'));
    dirs.push(dir);
    writeFileSync(join(dir, 'strategy.json'), JSON.stringify(defaultPolicy('strategy')));
    writeFileSync(join(dir, 'broken.json'), '{"role": "audit",');
    const argv = ['--id', 'audit-dept', '--role', 'audit', '--data-dir', join(dir, 'p')];
    for (const [file, says] of [
      ['missing.json', `policy ${join(dir, 'missing.json')} cannot be read`],
      [
        'strategy.json',
        `policy ${join(dir, 'strategy.json')} is for role strategy, but audit-dept is audit (--role)`,
      ],
      ['broken.json', `policy ${join(dir, 'broken.json')} is not valid JSON`],
    ] as const) {
      const o = io();
      expect(runPartyInit([...argv, '--policy', join(dir, file)], o.io), file).toBe(2);
      expect(o.err, file).toHaveLength(1);
      expect(o.err[0]).toContain(`aaps party init: --policy: ${says}`);
      expect(o.out).toEqual([]);
      expect(existsSync(join(dir, 'p')), file).toBe(false);
    }
    // The same flags with the role's own policy go through.
    writeFileSync(join(dir, 'audit.json'), JSON.stringify(defaultPolicy('audit')));
    expect(runPartyInit([...argv, '--policy', join(dir, 'audit.json')], io().io)).toBe(0);
  });

  it('listening on every address, the entry carries the --url the gateway reaches it at', () => {
    const dir = mkdtempSync(join(tmpdir(), 'party-init-'));
    dirs.push(dir);
    const o = io();
    const argv = [
      '--id',
      'risk-dept',
      '--role',
      'strategy',
      '--data-dir',
      join(dir, 'p'),
      '--host',
      '0.0.0.0',
    ];
    expect(runPartyInit([...argv, '--url', 'http://10.0.0.12:7100'], o.io)).toBe(0);
    expect(JSON.parse(o.out[0]!)).toMatchObject({ url: 'http://10.0.0.12:7100' });
    const config = JSON.parse(readFileSync(join(dir, 'p', 'party.json'), 'utf8')) as Record<string, unknown>;
    expect(config).toMatchObject({ host: '0.0.0.0', port: 7100 });
  });

  it('--role maintenance is refused before anything is written, naming the roles aaps up runs', () => {
    // Before: accepted, and so was the roster entry it printed; the gateway's workflow runs no
    // maintenance party (the gateway's executor does maintenance: docs/architecture.md).
    const dir = mkdtempSync(join(tmpdir(), 'party-init-'));
    dirs.push(dir);
    const o = io();
    expect(runPartyInit(['--id', 'ops', '--role', 'maintenance', '--data-dir', join(dir, 'p')], o.io)).toBe(
      2,
    );
    expect(o.err).toEqual([
      `aaps party init: --role "maintenance": expected one of ${ROLE_NAMED_PARTIES.map((p) => p.role).join(', ')} (the roles the workflow runs; maintenance is the gateway's executor, not a party)`,
    ]);
    expect(existsSync(join(dir, 'p'))).toBe(false);
    const none = io();
    expect(runPartyInit(['--id', 'ops', '--data-dir', join(dir, 'p')], none.io)).toBe(2);
    expect(none.err[0]).toMatch(/^aaps party init: --role is required: expected one of monitoring, /);
    // Each role aaps up runs is one party init takes.
    for (const { role } of ROLE_NAMED_PARTIES) {
      expect(runPartyInit(['--id', role, '--role', role, '--data-dir', join(dir, role)], io().io), role).toBe(
        0,
      );
    }
  });

  it('--help prints the usage and exits 0', () => {
    const o = io();
    expect(runPartyInit(['--help'], o.io)).toBe(0);
    expect(o.out[0]).toMatch(/^usage: aaps party init /);
  });

  it('bad usage: one line, exit 2', () => {
    for (const argv of [
      [],
      ['--id', 'X', '--role', 'monitoring', '--data-dir', '/tmp/x'],
      ['--id', 'a', '--role', 'boss', '--data-dir', '/tmp/x'],
      ['--bogus', '1'],
      ['--id', 'a', '--role', 'monitoring', '--data-dir', '/tmp/x', '--log-origin', 'two\nlines'],
      ['--id', 'a', '--role', 'monitoring', '--data-dir', '/tmp/x', '--host', '0.0.0.0'],
      ['--id', 'a', '--role', 'monitoring', '--data-dir', '/tmp/x', '--url', 'https://10.0.0.12:7100'],
      // A flag is no value: the id is missing, not "--role".
      ['--id', '--role', 'monitoring', '--data-dir', '/tmp/x'],
    ]) {
      const o = io();
      expect(runPartyInit(argv, o.io)).toBe(2);
      expect(o.err).toHaveLength(1);
    }
  });
});

describe('party config', () => {
  it("a relative path resolves against the config file's directory if the file gave it, else the current one", () => {
    const file = { id: 'p1', data_dir: 'data', roster: 'roster.json', policy: 'policy.json' };
    const fromFile = resolvePartyConfig(file, {}, '/etc/aaps');
    expect(fromFile).toMatchObject({
      dataDir: '/etc/aaps/data',
      rosterPath: '/etc/aaps/roster.json',
      policyPath: '/etc/aaps/policy.json',
      identityKeyPath: '/etc/aaps/data/identity.key',
      dataKeyPath: '/etc/aaps/data/data.key',
    });
    const args = parsePartyArgs(['--policy', 'mine/policy.json', '--data-dir', 'run'], {
      AAPS_PARTY_ROSTER: 'shared/roster.json',
    });
    const fromFlags = resolvePartyConfig(file, args, '/etc/aaps');
    expect(fromFlags).toMatchObject({
      dataDir: join(process.cwd(), 'run'),
      rosterPath: join(process.cwd(), 'shared/roster.json'),
      policyPath: join(process.cwd(), 'mine/policy.json'),
      identityKeyPath: join(process.cwd(), 'run', 'identity.key'),
    });
  });

  it('--flag=value splits at the first "=" only: the value keeps its own', () => {
    const args = parsePartyArgs(['--data-dir=/srv/dept=sre', '--log-origin=a=b', '--id', 'p'], {});
    expect(args).toMatchObject({ 'data-dir': '/srv/dept=sre', 'log-origin': 'a=b', id: 'p' });
    // A flag where a value belongs is a missing value; the flag after it is still read.
    expect(() => parsePartyArgs(['--id', '--port', '7100'], {})).toThrow(/^--id needs a value$/);
    expect(parsePartyArgs(['--id=--odd'], {}).id).toBe('--odd');
  });

  it('flag beats env beats file; every problem is reported at once', () => {
    const args = parsePartyArgs(['--port', '7300'], { AAPS_PARTY_PORT: '7200', AAPS_PARTY_ID: 'env-id' });
    const cfg = resolvePartyConfig(
      { id: 'file-id', port: 7100, data_dir: 'd', roster: 'r.json' },
      args,
      '/base',
    );
    expect(cfg).toMatchObject({ port: 7300, id: 'env-id', dataDir: '/base/d', rosterPath: '/base/r.json' });
    try {
      resolvePartyConfig({ port: 'x', bogus: 1, log_level: 'loud' }, {}, '/base');
      expect.unreachable();
    } catch (e) {
      expect([...(e as { fields: string[] }).fields].sort()).toEqual([
        'config.bogus',
        'data-dir',
        'id',
        'log-level',
        'port',
        'roster',
      ]);
    }
    expect(() => parsePartyArgs(['--nope', '1'], {})).toThrow(/unknown flag/);
  });

  it('the nonce time to live: a day by default, from the file or the environment, 1 s to 30 days', () => {
    const base = { id: 'p', data_dir: 'd', roster: 'r.json' };
    expect(resolvePartyConfig(base, {}, '/base').nonceTtlSec).toBe(86_400);
    expect(resolvePartyConfig({ ...base, nonce_ttl_sec: 600 }, {}, '/base').nonceTtlSec).toBe(600);
    const env = parsePartyArgs([], { AAPS_PARTY_NONCE_TTL_SEC: '60' });
    expect(resolvePartyConfig({ ...base, nonce_ttl_sec: 600 }, env, '/base').nonceTtlSec).toBe(60);
    for (const bad of [0, 2_592_001, 1.5, 'soon']) {
      expect(() => resolvePartyConfig({ ...base, nonce_ttl_sec: bad }, {}, '/base')).toThrow(/nonce-ttl/);
    }
  });

  it('replacing the key: off by default; on only for true, from the file, the environment or a flag', () => {
    const base = { id: 'p', data_dir: 'd', roster: 'r.json' };
    expect(resolvePartyConfig(base, {}, '/base').allowKeyReplace).toBe(false);
    expect(resolvePartyConfig({ ...base, allow_key_replace: true }, {}, '/base').allowKeyReplace).toBe(true);
    const env = parsePartyArgs([], { AAPS_PARTY_ALLOW_KEY_REPLACE: 'false' });
    expect(resolvePartyConfig({ ...base, allow_key_replace: true }, env, '/base').allowKeyReplace).toBe(
      false,
    );
    const flag = parsePartyArgs(['--allow-key-replace', 'true'], {});
    expect(resolvePartyConfig(base, flag, '/base').allowKeyReplace).toBe(true);
    for (const bad of ['yes', 1, 'TRUE']) {
      expect(() => resolvePartyConfig({ ...base, allow_key_replace: bad }, {}, '/base')).toThrow(
        /allow-key-replace: expected true or false/,
      );
    }
  });
});
