/** The CLI's usage errors: one readable line and exit code 2; `openapi` prints the served document. */
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { layoutCluster, loadOrCreateIdentityKey } from '@aaps/agents';
import { describe, expect, it } from 'vitest';
import { openApiDocument } from '../app.js';
import { runCapture } from './test-helpers/run-capture.js';

describe('aaps', () => {
  it.each([
    [['frobnicate']],
    [['up', '--port', 'not-a-port']],
    [['up', '--bogus']],
    [['submit']],
    [['submit', 'a.json', 'b.json', '--source', 'kubernetes']],
    [['submit', 'a.json', '--source', 'smtp']],
    [['up', 'extra']],
  ])('bad usage %j: one line, exit 2', async (argv) => {
    const r = await runCapture(argv);
    expect(r.code).toBe(2);
    expect(r.err).toHaveLength(1);
    expect(r.err[0]).toMatch(/^aaps: \S/);
    expect(r.err[0]).not.toContain('\n');
  });

  it.each([
    [['approve', 'inc-1', '--reject'], '--reject needs --reason TEXT'],
    [['approve', 'inc-1', '--reason', 'no'], '--reason goes with --reject'],
    [['approve', 'inc-1', '--reject', '--reason'], '--reason: needs a value'],
    [['approve', 'inc-1', '--reject', '--reason', 'x'.repeat(501)], '--reason: at most 500 characters'],
  ])('approve %j: one line naming the problem, exit 2', async (argv, problem) => {
    const r = await runCapture(argv);
    expect(r.code).toBe(2);
    expect(r.err).toEqual([expect.stringContaining(`aaps: approve: ${problem}`)]);
  });

  it('every configuration error is on the one line', async () => {
    const r = await runCapture(['up', '--port', 'x'], { AAPS_THRESHOLD: '9' });
    expect(r.err[0]).toContain('--port');
    expect(r.err[0]).toContain('AAPS_THRESHOLD');
  });

  it('reads --config files, naming bad keys and values; an unreadable one is one line too', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'aaps-cfg-'));
    try {
      const file = join(dir, 'gw.json');
      writeFileSync(file, JSON.stringify({ port: 'eighty', nope: true }));
      const r = await runCapture(['gateway', '--config', file]);
      expect(r.code).toBe(2);
      expect(r.err[0]).toContain('config file port');
      expect(r.err[0]).toContain('config file nope');
      const missing = await runCapture(['gateway', '--config', join(dir, 'absent.json')]);
      expect(missing.code).toBe(2);
      expect(missing.err).toHaveLength(1);
      // A key given twice (an old line left below an edit) would otherwise win unseen.
      writeFileSync(file, '{"environment": "production", "port": 0, "environment": "development"}');
      const twice = await runCapture(['gateway', '--config', file]);
      expect(twice.code).toBe(2);
      expect(twice.err).toEqual([
        `aaps: --config: file ${file}: environment is given twice (say it once: JSON keeps only the last)`,
      ]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("aaps gateway with a key that is not the roster's, or no roster: one line, exit 2, nothing written", async () => {
    const dir = mkdtempSync(join(tmpdir(), 'aaps-gw-setup-'));
    try {
      const noRoster = await runCapture(['gateway', '--data-dir', dir, '--port', '0']);
      expect(noRoster.code).toBe(2);
      expect(noRoster.err).toHaveLength(1);
      expect(noRoster.err[0]).toContain('roster');
      // Not even its lock file, nor a data directory named by mistake.
      expect(existsSync(join(dir, 'aaps-up.pid'))).toBe(false);
      const typo = join(dir, 'typo-data-dir');
      expect((await runCapture(['gateway', '--data-dir', typo, '--port', '0'])).code).toBe(2);
      expect(existsSync(typo)).toBe(false);
      await layoutCluster({ dir, threshold: 3 });
      // Another gateway key than the one the roster names.
      rmSync(join(dir, 'gateway', 'identity.key'));
      loadOrCreateIdentityKey(join(dir, 'gateway', 'identity.key'), true, 'gateway');
      const r = await runCapture(['gateway', '--data-dir', dir, '--port', '0']);
      expect(r.code).toBe(2);
      expect(r.err).toEqual([`aaps: the gateway key does not match ${join(dir, 'roster.json')}`]);
      expect(existsSync(join(dir, 'api-token'))).toBe(false);
      expect(existsSync(join(dir, 'gateway', 'db'))).toBe(false);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('a database that cannot open names why on its one line (the cause LevelDB wraps)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'aaps-cli-db-'));
    try {
      // A file where the gateway's database directory should be.
      mkdirSync(join(dir, 'gateway'), { recursive: true });
      writeFileSync(join(dir, 'gateway', 'db'), 'not a database');
      const r = await runCapture(['up', '--local', '--data-dir', dir, '--port', '0']);
      expect(r.code).toBe(1);
      expect(r.err).toHaveLength(1);
      expect(r.err[0]).toMatch(/^aaps: .*failed to open \(E[A-Z]+: .*gateway\/db/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('help exits 0; no command exits 2 with the usage', async () => {
    expect((await runCapture(['help'])).code).toBe(0);
    const none = await runCapture([]);
    expect(none.code).toBe(2);
    expect(none.out).toContain('usage: aaps');
    for (const command of ['approve', 'submit', 'keys', 'up']) {
      const help = await runCapture([command, '--help']);
      expect(help.code, command).toBe(0);
      expect(help.out).toContain('usage: aaps');
    }
  });

  it('relative paths in a --config file are relative to the file, wherever aaps is started', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'aaps-cfg-'));
    try {
      writeFileSync(join(dir, 'gateway.json'), JSON.stringify({ 'data-dir': 'gw-state' }));
      const r = await runCapture(['gateway', 'init', '--config', join(dir, 'gateway.json')]);
      expect(r.code).toBe(0);
      expect(existsSync(join(dir, 'gw-state', 'gateway', 'identity.key'))).toBe(true);
      expect(existsSync(join(process.cwd(), 'gw-state'))).toBe(false);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('keys refresh takes a one-line --reason, and --reason goes with refresh only', async () => {
    const twoLines = await runCapture(['keys', 'refresh', '--reason', 'a\nb']);
    expect(twoLines.code).toBe(2);
    expect(twoLines.err.join('\n')).toContain('--reason: one line, no control characters');
    const stray = await runCapture(['keys', '--reason', 'x', '--api-token', 'x'.repeat(32)]);
    expect(stray.code).toBe(2);
    expect(stray.err.join('\n')).toContain('--reason goes with refresh');
    // The next flag is no reason: refused before anything is asked.
    const flagged = await runCapture(['keys', 'refresh', '--reason', '--api-token', 'x'.repeat(32)]);
    expect(flagged.code).toBe(2);
    expect(flagged.err).toEqual(['aaps: keys: --reason: needs a value']);
  });

  it('openapi prints the document the gateway serves', async () => {
    const r = await runCapture(['openapi']);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.out)).toEqual(openApiDocument());
  });

  it('submit without a token says where to get one', async () => {
    const r = await runCapture([
      'submit',
      'x.json',
      '--source',
      'kubernetes',
      '--data-dir',
      '/nonexistent-aaps-dir',
    ]);
    expect(r.code).toBe(2);
    expect(r.err[0]).toContain('AAPS_API_TOKEN');
  });
});
