import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { lockDataDir } from './data-dir-lock.js';

const dirs: string[] = [];
const fresh = () => {
  const d = mkdtempSync(join(tmpdir(), 'aaps-lock-'));
  dirs.push(d);
  return d;
};
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

/** A real process whose command line names aaps, as a running `aaps up` would. */
function aapsLikeProcess() {
  const child = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)', 'aaps', 'up'], {
    stdio: 'ignore',
  });
  return child;
}

describe('one aaps up per data directory', () => {
  it('takes a free directory, and gives it back on release', () => {
    const dir = fresh();
    const lock = lockDataDir(dir);
    expect(readFileSync(lock.path, 'utf8').trim()).toBe(String(process.pid));
    lock.release();
    expect(() => readFileSync(lock.path)).toThrow();
    lockDataDir(dir).release();
  });

  it('refuses a directory a running aaps process holds, naming its pid; takes it once that process is gone', async () => {
    const dir = fresh();
    const holder = aapsLikeProcess();
    try {
      writeFileSync(join(dir, 'aaps-up.pid'), `${holder.pid}\n`);
      expect(() => lockDataDir(dir)).toThrow(
        `another aaps (pid ${holder.pid}) is using ${dir}: stop it first, or use another --data-dir`,
      );
    } finally {
      holder.kill('SIGKILL');
      await new Promise((r) => holder.once('exit', r));
    }
    const lock = lockDataDir(dir);
    expect(readFileSync(lock.path, 'utf8').trim()).toBe(String(process.pid));
    lock.release();
  });

  it('takes over a lock file that names no process (a damaged file)', () => {
    const dir = fresh();
    writeFileSync(join(dir, 'aaps-up.pid'), 'not a pid\n');
    const lock = lockDataDir(dir);
    expect(readFileSync(lock.path, 'utf8').trim()).toBe(String(process.pid));
    lock.release();
  });
});
