/**
 * A first `aaps up` stopped part way leaves `first-start-unfinished.json`; a build from before
 * that record ignores it, and may serve from that data directory and seal evidence (its
 * transparency log in the gateway's LevelDB grows). The next `aaps up` of this build must not take
 * back (delete) a setup that served: it removes nothing, keeps the record, and says in one line
 * what to do. Here the build that ignores the record is played by this process writing into the
 * gateway's real store (`openGatewayStore`, its log a real `TransparencyLog`).
 */
import { existsSync, mkdtempSync, readFileSync, rmSync, unlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TransparencyLog } from '@aaps/evidence';
import { Level } from 'level';
import { afterAll, describe, expect, it } from 'vitest';
import { openGatewayStore } from '../store.js';
import { upUntil } from '../test-helpers/aaps-process.js';

const root = mkdtempSync(join(tmpdir(), 'aaps-up-served-take-back-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

const RECORD = 'first-start-unfinished.json';

/** `aaps up --local ARGS`, killed (-9) once its output matches `when` (see {@link upUntil}). */
const up = (args: readonly string[], when: RegExp = /(?!)/) =>
  upUntil(root, ['--local', ...args], when, 'SIGKILL');

/** A first `aaps up --local` in `dataDir`, killed (-9) once it dealt its key set: the record stays. */
async function stoppedFirstStart(dataDir: string): Promise<string[]> {
  const first = await up(['--data-dir', dataDir], /keys: dealt a 3-of-5 key set/);
  expect(first.signal).toBe('SIGKILL');
  const record = JSON.parse(readFileSync(join(dataDir, RECORD), 'utf8')) as { wrote: string[] };
  expect(record.wrote).toContain('gateway/db');
  return record.wrote;
}

/** What a build that ignores the record does once it served: its store, with `entries` sealed in its log. */
async function serveAndSeal(dataDir: string, entries: number): Promise<void> {
  const store = await openGatewayStore(join(dataDir, 'gateway', 'db'));
  try {
    await store.putMeta('valid-from', new TextEncoder().encode(new Date().toISOString()));
    const log = await TransparencyLog.open(store.log, { origin: 'aaps.local/log' });
    for (let i = 0; i < entries; i++) await log.append(new TextEncoder().encode(`sealed bundle ${i}`));
    await log.flush();
  } finally {
    await store.close();
  }
}

async function logSize(dataDir: string): Promise<number> {
  const store = await openGatewayStore(join(dataDir, 'gateway', 'db'));
  try {
    return (await TransparencyLog.open(store.log, { origin: 'aaps.local/log' })).size;
  } finally {
    await store.close();
  }
}

describe('aaps up: a stopped first start whose setup served since (a build that ignores the record)', () => {
  it('its log holds entries: the start refuses in one line, removes nothing and keeps the record; once the operator deletes the record, the next start resumes that setup', async () => {
    const dataDir = join(root, 'sealed');
    const wrote = await stoppedFirstStart(dataDir);
    await serveAndSeal(dataDir, 2);
    const refused = await up(['--data-dir', dataDir]);
    const record = join(dataDir, RECORD);
    expect(refused.out).not.toContain('removed what it wrote');
    expect(refused.out).not.toContain('ready at');
    expect(refused.code).toBe(2);
    const lines = refused.out.split('\n').filter((l) => l.startsWith('aaps: '));
    expect(lines).toHaveLength(1);
    const line = lines[0]!;
    expect(line).toContain(record);
    expect(line).toContain('served');
    expect(line).toContain('2 entries');
    expect(line).toContain(`delete ${record}`);
    for (const rel of wrote) expect(existsSync(join(dataDir, rel)), rel).toBe(true);
    expect(existsSync(record)).toBe(true);
    expect(await logSize(dataDir)).toBe(2);

    // The operator checked it and keeps it: the next start resumes that setup.
    const keys = readFileSync(join(dataDir, 'local', 'keys.json'), 'utf8');
    unlinkSync(record);
    const next = await up(['--data-dir', dataDir]);
    expect(next.out).not.toContain('removed what it wrote');
    expect(next.out).toContain('keys: reusing');
    expect(next.out).toContain('ready at');
    expect(next.code).toBe(0);
    expect(readFileSync(join(dataDir, 'local', 'keys.json'), 'utf8')).toBe(keys);
    expect(await logSize(dataDir)).toBe(2);
  }, 120_000);

  it('its log is empty but its store holds what only serving writes (an unseal request claimed): refused, nothing removed', async () => {
    const dataDir = join(root, 'unseal-claimed');
    const wrote = await stoppedFirstStart(dataDir);
    const store = await openGatewayStore(join(dataDir, 'gateway', 'db'));
    try {
      await store.claimMeta('unseal-request/req-1', new TextEncoder().encode(new Date().toISOString()));
    } finally {
      await store.close();
    }
    const refused = await up(['--data-dir', dataDir]);
    expect(refused.out).not.toContain('removed what it wrote');
    expect(refused.code).toBe(2);
    expect(refused.out).toContain(join(dataDir, RECORD));
    expect(refused.out).toContain('served');
    for (const rel of wrote) expect(existsSync(join(dataDir, rel)), rel).toBe(true);
    expect(existsSync(join(dataDir, RECORD))).toBe(true);
  }, 120_000);

  it('its store holds only what a start writes before it serves (stopped between opening the store and its first request): taken back, as before', async () => {
    const dataDir = join(root, 'opened-only');
    await stoppedFirstStart(dataDir);
    const store = await openGatewayStore(join(dataDir, 'gateway', 'db'));
    try {
      await store.putMeta('valid-from', new TextEncoder().encode(new Date().toISOString()));
    } finally {
      await store.close();
    }
    const next = await up(['--data-dir', dataDir, '--threshold', '4']);
    expect(next.out).toMatch(/removed what it wrote: .*gateway.*; starting afresh/);
    expect(next.out).toContain('keys: dealt a 4-of-5 key set');
    expect(next.code).toBe(0);
    expect(existsSync(join(dataDir, RECORD))).toBe(false);
  }, 120_000);

  it('its store held open by another process (a build without the data-directory lock, serving): refused, nothing removed', async () => {
    const dataDir = join(root, 'held');
    const wrote = await stoppedFirstStart(dataDir);
    await serveAndSeal(dataDir, 1);
    const held = new Level(join(dataDir, 'gateway', 'db'));
    await held.open();
    try {
      const refused = await up(['--data-dir', dataDir]);
      expect(refused.out).not.toContain('removed what it wrote');
      expect(refused.code).toBe(2);
      expect(refused.out).toContain(join(dataDir, RECORD));
      expect(refused.out).toContain('is in use by another process');
      for (const rel of wrote) expect(existsSync(join(dataDir, rel)), rel).toBe(true);
      expect(existsSync(join(dataDir, RECORD))).toBe(true);
    } finally {
      await held.close();
    }
    expect(await logSize(dataDir)).toBe(1);
  }, 120_000);
});
