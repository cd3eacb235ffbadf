/**
 * `aaps party audit`: a department reads its party's own audit trail (docs/sealing.md,
 * docs/threat-model.md rely on it). Real LevelDB; the last case runs the built party binary as a
 * process and its `audit` subcommand beside it.
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { getCiphersuite, hexToBytes, SecretBytes, trustedDealer } from '@aaps/mpc-core';
import { afterEach, describe, expect, it } from 'vitest';
import { PARTY_MAIN } from '../cluster.js';
import { rosterParticipants } from '../party/key-roster.js';
import { layParty } from '../party/test-helpers/party-dir.js';
import { rosterDigest } from '../roster.js';
import { PartyStore } from '../store/level.js';
import { type AuditIo, runPartyAudit } from './party-audit.js';
import { runPartyBackup } from './party-backup.js';
import { aapsUpOf } from './stopped-party.js';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function capture(): AuditIo & { lines: string[]; errors: string[] } {
  const lines: string[] = [];
  const errors: string[] = [];
  return { lines, errors, out: (l) => lines.push(l), err: (l) => errors.push(l), gone: () => false };
}

/** A laid-out party started once (data key, database), its store opened while it is stopped. */
async function stoppedParty() {
  const p = layParty(dirs);
  await (await p.start()).close();
  const config = join(p.dir, 'party.json');
  const open = () =>
    PartyStore.open(
      join(p.dir, 'db'),
      new SecretBytes(hexToBytes(readFileSync(join(p.dir, 'data.key'), 'utf8').trim())),
      'monitoring-agent',
    );
  return { p, config, open };
}

describe('aaps party audit', () => {
  it('prints the trail as JSON lines, oldest first, with its sequence numbers; byte strings as hex', async () => {
    const { p, config, open } = await stoppedParty();
    const dealt = trustedDealer(getCiphersuite('FROST-ED25519-SHA512-v1'), { min: 3, max: 5 });
    const store = await open();
    await store.saveKey({
      keyPackage: dealt.keyPackages[0]!,
      publicPackage: dealt.publicPackage,
      rosterDigest: rosterDigest(p.set.roster),
      createdAt: '2026-11-25T15:00:00.000Z',
      participants: rosterParticipants(p.set.roster),
    });
    await store.audit({
      at: '2026-11-25T15:01:00.000Z',
      event: 'sign.refused',
      session: 's-1',
      detail: { rule: 'namespace', digest: new Uint8Array([0xab, 0x01]) },
    });
    await store.close();
    // A backup records key.backup in the same trail (docs/sealing.md).
    const backup = { out: () => {}, err: () => {} };
    expect(
      await runPartyBackup(['--config', config, '--split', '2/3', '--out', join(p.dir, 'set')], {}, backup),
    ).toBe(0);

    const io = capture();
    expect(await runPartyAudit(['--config', config], {}, io)).toBe(0);
    expect(io.errors).toEqual([]);
    const entries = io.lines.map((l) => JSON.parse(l) as Record<string, unknown>);
    const events = entries.map((e) => e.event);
    expect(events.slice(-2)).toEqual(['sign.refused', 'key.backup']);
    expect(entries.map((e) => e.seq)).toEqual(entries.map((_, i) => i));
    expect(entries.at(-2)).toEqual({
      seq: entries.length - 2,
      at: '2026-11-25T15:01:00.000Z',
      event: 'sign.refused',
      session: 's-1',
      detail: { rule: 'namespace', digest: 'ab01' },
    });
    expect(entries.at(-1)).toMatchObject({ event: 'key.backup', detail: { k: 2, m: 3 } });
  });

  it('--help prints its usage; a bad flag is a usage error (2); no database is refused (1)', async () => {
    const help = capture();
    expect(await runPartyAudit(['--help'], {}, help)).toBe(0);
    expect(help.lines.join('\n')).toMatch(/usage: aaps party audit --config/);
    const { config } = await stoppedParty();
    const bad = capture();
    expect(await runPartyAudit(['--config', config, '--since', '3'], {}, bad)).toBe(2);
    expect(bad.errors).toHaveLength(1);
    const none = layParty(dirs);
    const missing = capture();
    expect(await runPartyAudit(['--config', join(none.dir, 'party.json')], {}, missing)).toBe(1);
    expect(missing.errors).toEqual([expect.stringMatching(/has no database at .*db/)]);
  });

  it('while the party process runs: one line saying to stop it, exit 1; once stopped, the trail', async () => {
    const { config } = await stoppedParty();
    const party = spawn(process.execPath, [PARTY_MAIN, '--config', config], {
      env: { PATH: process.env.PATH ?? '' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const exited = new Promise((resolve) => party.once('exit', resolve));
    try {
      await new Promise<void>((resolve, reject) => {
        let out = '';
        party.stdout.on('data', (d: Buffer) => {
          out += d.toString();
          if (out.includes('"party.listening"')) resolve();
        });
        party.once('exit', (code) => reject(new Error(`party exited ${code}`)));
      });
      const running = spawnSync(process.execPath, [PARTY_MAIN, 'audit', '--config', config], {
        encoding: 'utf8',
        env: { PATH: process.env.PATH ?? '' },
      });
      expect(running.status).toBe(1);
      expect(running.stdout).toBe('');
      expect(running.stderr.trim().split('\n')).toEqual([
        expect.stringMatching(
          /^aaps party audit: party monitoring-agent is running .*stop the party process/,
        ),
      ]);
    } finally {
      party.kill('SIGTERM');
      await exited;
    }
    const stopped = spawnSync(process.execPath, [PARTY_MAIN, 'audit', '--config', config], {
      encoding: 'utf8',
      env: { PATH: process.env.PATH ?? '' },
    });
    expect({ code: stopped.status, err: stopped.stderr }).toEqual({ code: 0, err: '' });
  });
  it('a party `aaps up` runs: the line says to stop `aaps up` (it restarts a party stopped alone), naming its pid', async () => {
    // Laid out as `aaps up` lays a party out (<dir>/parties/<id>), with this test process as the
    // `aaps up` that wrote <dir>/aaps-up.pid and started the party as its child.
    const p = layParty(dirs, {
      data_dir: 'parties/monitoring-agent',
      identity_key_file: 'identity.key',
    });
    mkdirSync(join(p.dir, 'parties', 'monitoring-agent'), { recursive: true, mode: 0o700 });
    writeFileSync(join(p.dir, 'aaps-up.pid'), `${process.pid}\n`);
    const config = join(p.dir, 'party.json');
    const party = spawn(process.execPath, [PARTY_MAIN, '--config', config], {
      env: { PATH: process.env.PATH ?? '' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const exited = new Promise((resolve) => party.once('exit', resolve));
    try {
      await new Promise<void>((resolve, reject) => {
        let out = '';
        party.stdout.on('data', (d: Buffer) => {
          out += d.toString();
          if (out.includes('"party.listening"')) resolve();
        });
        party.once('exit', (code) => reject(new Error(`party exited ${code}`)));
      });
      const running = spawnSync(process.execPath, [PARTY_MAIN, 'audit', '--config', config], {
        encoding: 'utf8',
        env: { PATH: process.env.PATH ?? '' },
      });
      expect(running.status).toBe(1);
      expect(running.stderr.trim().split('\n')).toEqual([
        `aaps party audit: party monitoring-agent is running under \`aaps up\` (pid ${party.pid}, its database ${join(p.dir, 'parties', 'monitoring-agent', 'db')} is locked): stop that \`aaps up\` (pid ${process.pid}: it restarts a party stopped alone), run this again, then start \`aaps up\` again`,
      ]);
    } finally {
      party.kill('SIGTERM');
      await exited;
    }
  });
});

describe('aapsUpOf: whether `aaps up` runs the party process that holds the database', () => {
  it('by the pid `aaps up` wrote beside its parties: the parent, the holder itself (--local), another, or cannot tell', () => {
    const p = layParty(dirs);
    const dataDir = join(p.dir, 'parties', 'risk');
    mkdirSync(dataDir, { recursive: true });
    // Not in an `aaps up` layout, or no `aaps up` pid file there: a party started on its own.
    expect(aapsUpOf(process.pid, p.dir)).toBe(false);
    expect(aapsUpOf(process.pid, dataDir)).toBe(false);
    writeFileSync(join(p.dir, 'aaps-up.pid'), `${process.ppid}\n`);
    expect(aapsUpOf(process.pid, dataDir)).toBe(process.ppid); // its parent
    writeFileSync(join(p.dir, 'aaps-up.pid'), `${process.pid}\n`);
    expect(aapsUpOf(process.pid, dataDir)).toBe(process.pid); // `aaps up --local`
    expect(aapsUpOf(process.ppid, dataDir)).toBe(false); // another process's child
    expect(aapsUpOf(undefined, dataDir)).toBeUndefined(); // the party wrote no pid
  });
});
