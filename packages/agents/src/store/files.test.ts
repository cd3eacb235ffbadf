/** Key files: a missing one names what to do for its kind of key. */

import { spawnSync } from 'node:child_process';
import {
  chmodSync,
  chownSync,
  closeSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  createDataKey,
  loadOrCreateDataKey,
  loadOrCreateIdentityKey,
  readJsonFile,
  writeFileDurably,
} from './files.js';

const dir = mkdtempSync(join(tmpdir(), 'aaps-files-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('loadOrCreateIdentityKey', () => {
  const missing = join(dir, 'absent.key');

  it('a missing party identity key says to run aaps party init', () => {
    expect(() => loadOrCreateIdentityKey(missing, false)).toThrowError(
      `identity key ${missing} does not exist (run \`aaps party init\`)`,
    );
  });

  it('a missing approver key points at --approver ID with its --data-dir (approver init or aaps up) and --approver-key, not party init', () => {
    expect(() => loadOrCreateIdentityKey(missing, false, 'approver')).toThrowError(
      `approver key ${missing} does not exist (pass --approver ID with the --data-dir \`aaps approver init\` made its key in (or that of the running \`aaps up\`), or --approver-key FILE)`,
    );
  });

  it('a missing gateway key points at aaps up and --gateway-key', () => {
    expect(() => loadOrCreateIdentityKey(missing, false, 'gateway')).toThrowError(/--gateway-key FILE\)$/);
  });

  it('creates the key when asked, and reads it back', () => {
    const path = join(dir, 'approvers', 'oncall.key');
    const made = loadOrCreateIdentityKey(path, true, 'approver');
    expect(loadOrCreateIdentityKey(path, false, 'approver').publicKey).toEqual(made.publicKey);
  });
});

describe('a key file that holds no key (a torn copy, or a first start stopped mid-write before writes were atomic)', () => {
  it('an empty data key names the file and what to do, never a bare "expected 32 bytes"', () => {
    const path = join(dir, 'torn', 'data.key');
    mkdirSync(dirname(path), { recursive: true });
    writeFileSync(path, '', { mode: 0o600 });
    expect(() => loadOrCreateDataKey(path, false)).toThrowError(
      `data key ${path} is empty (a first start stopped while writing it, or a torn copy): if this party has no database yet (no db/ in its data directory) delete the file and start again; otherwise restore it from your copy`,
    );
  });

  it('an identity key of the wrong length names the file, not its contents', () => {
    const path = join(dir, 'short-identity.key');
    writeFileSync(path, `${'ab'.repeat(31)}\n`, { mode: 0o600 });
    let message = '';
    try {
      loadOrCreateIdentityKey(path, false);
    } catch (e) {
      message = (e as Error).message;
    }
    expect(message).toMatch(
      new RegExp(
        `^identity key ${path} does not hold a 32-byte key as 64 lower-case hex digits: restore it from your copy`,
      ),
    );
    expect(message).not.toContain('abab');
  });
});

describe('writing a new key file', () => {
  it('writes it whole, 0600, leaving no temporary file; a second writer gets undefined and the first key stays', () => {
    const d = join(dir, 'fresh');
    const path = join(d, 'data.key');
    const made = createDataKey(path);
    expect(made).toBeDefined();
    expect(statSync(path).mode & 0o777).toBe(0o600);
    expect(readdirSync(d)).toEqual(['data.key']);
    const before = readFileSync(path, 'utf8');
    expect(createDataKey(path)).toBeUndefined();
    expect(readFileSync(path, 'utf8')).toBe(before);
    expect(readdirSync(d)).toEqual(['data.key']);
    expect(loadOrCreateDataKey(path, false).expose()).toEqual(made!.expose());
  });
});

describe('temporary key files a killed start left', () => {
  /** A pid that no process has now: a child's, once it has exited. */
  const deadPid = (): number => {
    const child = spawnSync(process.execPath, ['-e', '0']);
    expect(child.status).toBe(0);
    return child.pid!;
  };
  const leftover = (d: string, name: string, pid: number, hex = 'a1b2c3d4e5f6') => {
    const file = join(d, `.${name}.${pid}.${hex}.tmp`);
    writeFileSync(file, `${'ab'.repeat(32)}\n`, { mode: 0o600 });
    return file;
  };

  it('are removed when the key is next loaded or made, those of a running writer and other files kept', () => {
    const d = join(dir, 'leftovers');
    mkdirSync(d, { recursive: true });
    const dead = deadPid();
    // Killed after the link (the key is there) and before it (no key yet): both are left over.
    leftover(d, 'identity.key', dead);
    leftover(d, 'data.key', dead, '0123456789ab');
    // A running process (this one's parent) may be writing its own now; other names are not ours.
    const running = leftover(d, 'identity.key', process.ppid, 'ffffffffffff');
    writeFileSync(join(d, '.identity.key.notes.tmp'), 'x');
    writeFileSync(join(d, '.other.key.1.a1b2c3d4e5f6.tmp'), 'x');
    loadOrCreateIdentityKey(join(d, 'identity.key'), true);
    loadOrCreateDataKey(join(d, 'data.key'), true);
    expect(readdirSync(d).sort()).toEqual(
      [
        '.identity.key.notes.tmp',
        '.other.key.1.a1b2c3d4e5f6.tmp',
        running.slice(d.length + 1),
        'data.key',
        'identity.key',
      ].sort(),
    );
  });

  it('are removed by a start that finds the key made, and by one that makes a data key', () => {
    const d = join(dir, 'leftovers-existing');
    mkdirSync(d, { recursive: true });
    const key = join(d, 'identity.key');
    loadOrCreateIdentityKey(key, true);
    leftover(d, 'identity.key', deadPid());
    loadOrCreateIdentityKey(key, false);
    leftover(d, 'data.key', deadPid());
    expect(createDataKey(join(d, 'data.key'))).toBeDefined();
    expect(readdirSync(d).sort()).toEqual(['data.key', 'identity.key']);
  });
});

describe('readJsonFile', () => {
  it('says why a file cannot be read, in words and with its code', () => {
    const asDir = join(dir, 'policy-dir');
    mkdirSync(asDir);
    expect(() => readJsonFile(asDir, 'policy')).toThrowError(
      `policy ${asDir} cannot be read: it is a directory, not a file (EISDIR)`,
    );
    const absent = join(dir, 'absent.json');
    expect(() => readJsonFile(absent, 'roster')).toThrowError(
      `roster ${absent} cannot be read: it does not exist (ENOENT)`,
    );
  });

  it.skipIf(process.getuid?.() === 0)('names a permission problem (EACCES)', () => {
    const locked = join(dir, 'locked.json');
    writeFileSync(locked, '{}');
    chmodSync(locked, 0o000);
    expect(() => readJsonFile(locked, 'party config')).toThrowError(
      /cannot be read: permission denied .*\(EACCES\)$/,
    );
  });
});

describe('writeFileDurably (every state file a later start reads)', () => {
  it('replaces the file whole: a reader holding the old one open reads it to its end, the path gives the new one, no temporary file stays', () => {
    const d = join(dir, 'durable');
    mkdirSync(d, { recursive: true });
    const path = join(d, 'roster.json');
    writeFileDurably(path, 'old whole\n');
    const held = openSync(path, 'r');
    try {
      writeFileDurably(path, 'new whole\n');
      expect(readFileSync(held, 'utf8')).toBe('old whole\n');
    } finally {
      closeSync(held);
    }
    expect(readFileSync(path, 'utf8')).toBe('new whole\n');
    expect(readdirSync(d)).toEqual(['roster.json']);
  });

  it('gives a new file the mode asked (less the umask) and keeps the mode of a file it replaces', () => {
    const d = join(dir, 'durable-modes');
    mkdirSync(d, { recursive: true });
    const secret = join(d, 'record.json');
    writeFileDurably(secret, '{}\n', 0o600);
    expect(statSync(secret).mode & 0o777).toBe(0o600);
    const narrowed = join(d, 'party.json');
    writeFileDurably(narrowed, '{}\n');
    chmodSync(narrowed, 0o640); // the operator narrowed it
    writeFileDurably(narrowed, '{"a":1}\n');
    expect(statSync(narrowed).mode & 0o777).toBe(0o640);
  });

  it.skipIf(process.getuid?.() !== 0)('as root, keeps the owner and group of a file it replaces', () => {
    const d = join(dir, 'durable-owner');
    mkdirSync(d, { recursive: true });
    const path = join(d, 'roster.json');
    writeFileDurably(path, '{}\n');
    chownSync(path, 4321, 4322); // the operator's account, not this one
    writeFileDurably(path, '{"a":1}\n');
    const st = statSync(path);
    expect([st.uid, st.gid]).toEqual([4321, 4322]);
    expect(readFileSync(path, 'utf8')).toBe('{"a":1}\n');
  });

  it('replaces a symbolic link at the path by the file, leaving what it pointed to as it was', () => {
    const d = join(dir, 'durable-link');
    mkdirSync(d, { recursive: true });
    const elsewhere = join(d, 'elsewhere.json');
    writeFileSync(elsewhere, 'theirs\n');
    const path = join(d, 'roster.json');
    symlinkSync(elsewhere, path);
    writeFileDurably(path, 'ours\n');
    expect(lstatSync(path).isFile()).toBe(true);
    expect(readFileSync(path, 'utf8')).toBe('ours\n');
    expect(readFileSync(elsewhere, 'utf8')).toBe('theirs\n');
  });

  it('a write that fails leaves the path as it was and no temporary file; one a dead writer left is removed by the next write', () => {
    const d = join(dir, 'durable-fail');
    const path = join(d, 'roster.json');
    mkdirSync(join(path, 'inside'), { recursive: true }); // a directory where the file goes: the rename fails
    expect(() => writeFileDurably(path, 'x\n')).toThrow();
    expect(readdirSync(d)).toEqual(['roster.json']);
    expect(lstatSync(path).isDirectory()).toBe(true);
    rmSync(path, { recursive: true });
    const dead = spawnSync(process.execPath, ['-e', '0']).pid!;
    const left = join(d, `.roster.json.${dead}.a1b2c3d4e5f6.tmp`);
    writeFileSync(left, 'half');
    writeFileDurably(path, 'whole\n');
    expect(readdirSync(d)).toEqual(['roster.json']);
  });
});
