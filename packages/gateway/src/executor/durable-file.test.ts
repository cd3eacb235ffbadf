/**
 * The durable write and removal of a small file, against the real file system: the order of the
 * calls (the text synced before the rename, the directory synced after it), what a failure leaves,
 * and platforms that cannot sync a directory.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import * as fsp from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type DurableFiles, removeFileDurably, removeLeftover, writeFileDurably } from './durable-file.js';

let dir: string;
let file: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'aaps-durable-'));
  file = join(dir, 'note.json');
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

/** The real file functions, each call recorded (paths relative to `dir`); `fail` makes one throw. */
function recorded(fail?: (call: string) => string | undefined) {
  const calls: string[] = [];
  const rel = (p: string) => (p === dir ? '.' : p.slice(dir.length + 1));
  const step = (call: string) => {
    calls.push(call);
    const code = fail?.(call);
    if (code !== undefined) throw Object.assign(new Error(call), { code });
  };
  const fs: DurableFiles = {
    async open(path, flags) {
      step(`open ${rel(path)} ${flags}`);
      const handle = await fsp.open(path, flags);
      return {
        async writeFile(text) {
          step(`write ${rel(path)}`);
          await handle.writeFile(text);
        },
        async sync() {
          step(`sync ${rel(path)}`);
          await handle.sync();
        },
        async close() {
          step(`close ${rel(path)}`);
          await handle.close();
        },
      };
    },
    async rename(from, to) {
      step(`rename ${rel(from)} ${rel(to)}`);
      await fsp.rename(from, to);
    },
    async rm(path, opts) {
      step(`rm ${rel(path)}`);
      await fsp.rm(path, opts);
    },
  };
  return { fs, calls };
}

describe('writeFileDurably', () => {
  it('syncs the text before renaming it into place, then syncs the directory; no temporary file stays', async () => {
    writeFileSync(file, 'old\n');
    const { fs, calls } = recorded();
    await writeFileDurably(fs, file, '{"a":1}\n');
    expect(calls).toEqual([
      'open note.json.tmp w',
      'write note.json.tmp',
      'sync note.json.tmp',
      'close note.json.tmp',
      'rename note.json.tmp note.json',
      'open . r',
      'sync .',
      'close .',
    ]);
    expect(readFileSync(file, 'utf8')).toBe('{"a":1}\n');
    expect(readdirSync(dir)).toEqual(['note.json']);
  });

  it('a sync that fails leaves the file as it was, and no temporary file', async () => {
    writeFileSync(file, 'old\n');
    const { fs } = recorded((call) => (call === 'sync note.json.tmp' ? 'EIO' : undefined));
    await expect(writeFileDurably(fs, file, 'new\n')).rejects.toMatchObject({ code: 'EIO' });
    expect(readFileSync(file, 'utf8')).toBe('old\n');
    expect(readdirSync(dir)).toEqual(['note.json']);
  });

  it('a platform that cannot open a directory still writes; a directory sync the disk fails is an error', async () => {
    const noDirs = recorded((call) => (call === 'open . r' ? 'EISDIR' : undefined));
    await writeFileDurably(noDirs.fs, file, 'a\n');
    expect(readFileSync(file, 'utf8')).toBe('a\n');
    const badDisk = recorded((call) => (call === 'sync .' ? 'EIO' : undefined));
    await expect(writeFileDurably(badDisk.fs, file, 'b\n')).rejects.toMatchObject({ code: 'EIO' });
    // The directory handle is closed all the same.
    expect(badDisk.calls.at(-1)).toBe('close .');
  });
});

describe('removeFileDurably and removeLeftover', () => {
  it('removes the file, then syncs the directory; an absent file is no error', async () => {
    writeFileSync(file, 'x\n');
    const { fs, calls } = recorded();
    await removeFileDurably(fs, file);
    await removeFileDurably(fs, file);
    expect(calls.slice(0, 4)).toEqual(['rm note.json', 'open . r', 'sync .', 'close .']);
    expect(readdirSync(dir)).toEqual([]);
  });

  it('removes only the temporary file a cut-short write left', async () => {
    writeFileSync(file, 'whole\n');
    writeFileSync(`${file}.tmp`, '{"half');
    await removeLeftover(recorded().fs, file);
    expect(readdirSync(dir)).toEqual(['note.json']);
  });
});
