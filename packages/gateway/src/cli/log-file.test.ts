/** A log that cannot be written warns once, drops lines, and takes them again once it can. */
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { openLogFile, RETRY_MS } from './log-file.js';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});
const tempDir = () => {
  const d = mkdtempSync(join(tmpdir(), 'aaps-log-'));
  dirs.push(d);
  return d;
};
const settle = () => new Promise((r) => setTimeout(r, 30));

describe('openLogFile', () => {
  it('writes lines to a file only its owner reads', async () => {
    const path = join(tempDir(), 'logs', 'gateway.log');
    const log = openLogFile(path, { warn: () => expect.unreachable() });
    log.write('{"event":"a"}\n');
    log.write('{"event":"b"}\n');
    await log.close();
    expect(readFileSync(path, 'utf8')).toBe('{"event":"a"}\n{"event":"b"}\n');
    expect(statSync(path).mode & 0o777).toBe(0o600);
  });

  it.skipIf(!existsSync('/dev/full'))('a full disk is reported once and does not throw', async () => {
    const warnings: string[] = [];
    const log = openLogFile('/dev/full', { warn: (l) => warnings.push(l) });
    for (let i = 0; i < 50; i++) log.write(`{"n":${i}}\n`);
    await settle();
    for (let i = 0; i < 50; i++) log.write(`{"n":${i}}\n`);
    await settle();
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toContain('ENOSPC');
    await log.close();
  });

  it.skipIf(!existsSync('/dev/full'))(
    'a disk that stays full is not reported again at each reopen',
    async () => {
      let t = 1_000_000;
      const warnings: string[] = [];
      const log = openLogFile('/dev/full', { warn: (l) => warnings.push(l), now: () => t });
      for (let reopen = 0; reopen < 4; reopen++) {
        for (let i = 0; i < 5; i++) log.write(`{"n":${i}}\n`);
        await settle();
        t += RETRY_MS; // the next write reopens the file, which fails the same way
      }
      expect(warnings).toHaveLength(1);
      await log.close();
    },
  );

  it.skipIf(!existsSync('/dev/full'))(
    'counts every line a full disk lost, also across a reopen that failed again',
    async () => {
      const dir = tempDir();
      mkdirSync(join(dir, 'logs'));
      const path = join(dir, 'logs', 'gateway.log');
      symlinkSync('/dev/full', path); // the disk is full: every write fails with ENOSPC
      let t = 1_000_000;
      const warnings: string[] = [];
      // Each step waits for the failure it causes (a fixed wait lost the race on a loaded machine).
      let failures = 0;
      const failed = async (n: number) => {
        while (failures < n) await settle();
      };
      const log = openLogFile(path, {
        warn: (l) => warnings.push(l),
        now: () => t,
        broken: () => void failures++,
      });
      for (let i = 0; i < 5; i++) log.write(`{"lost":${i}}\n`); // written, and failed
      await failed(1);
      await settle(); // the other four writes' callbacks
      log.write('{"lost":5}\n'); // not written: waiting to reopen
      t += RETRY_MS;
      log.write('{"lost":6}\n'); // reopened, still full: its log.dropped line fails too
      await failed(2);
      await settle();
      rmSync(path); // space again
      t += RETRY_MS;
      log.write('{"event":"kept"}\n');
      await log.close(); // flushed
      expect(warnings).toHaveLength(1);
      const lines = readFileSync(path, 'utf8').trim().split('\n');
      expect(JSON.parse(lines[0]!)).toMatchObject({ event: 'log.dropped', count: 7 });
      expect(lines.slice(1)).toEqual(['{"event":"kept"}']);
    },
  );

  it('takes lines again once its file can be written, saying how many it dropped', async () => {
    const dir = tempDir();
    // A file where the log's directory should be: opening fails until it is removed.
    writeFileSync(join(dir, 'logs'), 'not a directory');
    let t = 1_000_000;
    const warnings: string[] = [];
    const log = openLogFile(join(dir, 'logs', 'gateway.log'), {
      warn: (l) => warnings.push(l),
      now: () => t,
    });
    log.write('{"event":"lost-1"}\n');
    log.write('{"event":"lost-2"}\n');
    expect(warnings).toHaveLength(1);
    rmSync(join(dir, 'logs'));
    t += RETRY_MS - 1;
    log.write('{"event":"lost-3"}\n'); // still waiting: not retried yet
    t += 1;
    log.write('{"event":"kept"}\n');
    await log.close();
    const lines = readFileSync(join(dir, 'logs', 'gateway.log'), 'utf8')
      .trim()
      .split('\n');
    expect(JSON.parse(lines[0]!)).toMatchObject({ event: 'log.dropped', count: 3, level: 'warn' });
    expect(lines.slice(1)).toEqual(['{"event":"kept"}']);
  });
});
