import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { hexToBytes, SecretBytes } from '@aaps/mpc-core';
import { Level } from 'level';
import { afterEach, describe, expect, it } from 'vitest';
import { claimStoreFormat } from './format-version.js';
import { PARTY_STORE_FORMAT, PartyStore } from './level.js';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});
const fresh = () => {
  const dir = mkdtempSync(join(tmpdir(), 'aaps-format-'));
  dirs.push(dir);
  return join(dir, 'db');
};
const text = (b: Uint8Array | undefined) => (b === undefined ? undefined : new TextDecoder().decode(b));

async function withDb<T>(path: string, f: (db: Level<string, Uint8Array>) => Promise<T>): Promise<T> {
  const db = new Level<string, Uint8Array>(path, { valueEncoding: 'view' });
  await db.open();
  try {
    return await f(db);
  } finally {
    await db.close();
  }
}

const FORMAT = { key: 'format', current: 3, what: 'test store at /x' };

describe('claimStoreFormat', () => {
  it('stamps a new store with the current format', async () => {
    await withDb(fresh(), async (db) => {
      expect(await claimStoreFormat(db, FORMAT)).toBe(3);
      expect(text(await db.get('format'))).toBe('3');
    });
  });

  it('takes a store from before versions (data, no stamp) as format 1, the layout they had, keeping its data', async () => {
    await withDb(fresh(), async (db) => {
      await db.put('audit/1', Uint8Array.of(7));
      expect(await claimStoreFormat(db, FORMAT)).toBe(1);
      expect(text(await db.get('format'))).toBe('1');
      expect(Uint8Array.from((await db.get('audit/1'))!)).toEqual(Uint8Array.of(7));
    });
  });

  it('takes its own and older formats as they are', async () => {
    await withDb(fresh(), async (db) => {
      await db.put('format', new TextEncoder().encode('2'));
      expect(await claimStoreFormat(db, FORMAT)).toBe(2);
      expect(text(await db.get('format'))).toBe('2');
    });
  });

  it('refuses a later format in one line naming the store and both versions, writing nothing', async () => {
    await withDb(fresh(), async (db) => {
      await db.put('format', new TextEncoder().encode('4'));
      await expect(claimStoreFormat(db, FORMAT)).rejects.toMatchObject({
        code: 'UNSUPPORTED_VERSION',
        message:
          'test store at /x is format 4, but this build of aaps reads format 3: run the version of aaps that wrote it, or a later one',
      });
      expect(text(await db.get('format'))).toBe('4');
    });
  });

  it('refuses a stamp that is not a version, saying the store is damaged', async () => {
    for (const stamp of ['', '0', '01', 'x', '1.5', '-1', '9999999999']) {
      await withDb(fresh(), async (db) => {
        await db.put('format', new TextEncoder().encode(stamp));
        await expect(claimStoreFormat(db, FORMAT), JSON.stringify(stamp)).rejects.toMatchObject({
          code: 'UNSUPPORTED_VERSION',
          message: expect.stringMatching(
            /^test store at \/x has an unreadable format stamp \(format\): it is damaged/,
          ),
        });
      });
    }
  });
});

describe('the party store', () => {
  const kek = new SecretBytes(hexToBytes('11'.repeat(32)));

  it('is stamped at its first open', async () => {
    const path = fresh();
    await (await PartyStore.open(path, kek, 'p1')).close();
    expect(await withDb(path, async (db) => text(await db.get('format')))).toBe(String(PARTY_STORE_FORMAT));
  });

  it('of a later format is refused at open, and left closed (it opens again once the stamp is put back)', async () => {
    const path = fresh();
    await (await PartyStore.open(path, kek, 'p1')).close();
    await withDb(path, (db) => db.put('format', new TextEncoder().encode(String(PARTY_STORE_FORMAT + 1))));
    await expect(PartyStore.open(path, kek, 'p1')).rejects.toThrow(
      `party store at ${path} is format ${PARTY_STORE_FORMAT + 1}, but this build of aaps reads format ${PARTY_STORE_FORMAT}`,
    );
    await withDb(path, (db) => db.put('format', new TextEncoder().encode(String(PARTY_STORE_FORMAT))));
    await (await PartyStore.open(path, kek, 'p1')).close();
  });
});
