/**
 * PartyStore's nonce lifetime: unused nonces expire after their time to live and leave a tombstone;
 * a late round two is told its commitment expired; a nonce being consumed is never expired under
 * it; nonces stored before issue times were kept are stamped and expire one time to live later.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  commitmentKey,
  commitToStore,
  getCiphersuite,
  type KeyPackage,
  ProtocolError,
  SecretBytes,
  trustedDealer,
} from '@aaps/mpc-core';
import { Level } from 'level';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { PartyStore } from './level.js';

const suite = getCiphersuite('FROST-ED25519-SHA512-v1');
const keyPackage: KeyPackage = trustedDealer(suite, { min: 2, max: 3 }).keyPackages[0]!;
const kek = new SecretBytes(new Uint8Array(randomBytes(32)));
const T0 = Date.parse('2026-11-26T00:00:00Z');
const HOUR = 3_600_000;

let dir: string;
let clock: number;
let store: PartyStore;

const open = () => PartyStore.open(dir, kek, 'party-1', { now: () => new Date(clock) });
const issue = async (count: number) =>
  (await commitToStore(suite, keyPackage, store, count)).map((c) => commitmentKey(c));

/** The store's keys under `prefix`, read from its LevelDB directly (the store is reopened after). */
async function storedKeys(prefix: string): Promise<string[]> {
  await store.close();
  const db = new Level<string, string>(dir);
  try {
    return await db.keys({ gte: prefix, lt: `${prefix}\xff` }).all();
  } finally {
    await db.close();
    store = await open();
  }
}

async function rejection(p: Promise<unknown>): Promise<ProtocolError> {
  const e = await p.then(
    () => expect.unreachable('expected a rejection'),
    (err: unknown) => err,
  );
  expect(e).toBeInstanceOf(ProtocolError);
  return e as ProtocolError;
}

beforeEach(async () => {
  dir = mkdtempSync(join(tmpdir(), 'aaps-party-store-'));
  clock = T0;
  store = await open();
});

afterEach(async () => {
  await store.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('PartyStore nonce expiry', () => {
  it('expires only the nonces issued before the cutoff, and says so to a late round two', async () => {
    const old = await issue(3);
    clock = T0 + 2 * HOUR;
    const fresh = await issue(2);
    expect(await store.expireNonces(new Date(T0 + HOUR))).toBe(3);
    expect(await store.count()).toBe(2);
    const late = await rejection(store.consume(old[0]!));
    expect(late.code).toBe('UNKNOWN_NONCE');
    expect(late.message).toContain('expired unused at 2026-11-26T02:00:00.000Z');
    // The young ones still sign once, and a second sweep finds nothing more to expire.
    expect((await store.consume(fresh[0]!)).commitment).toBeDefined();
    expect(await store.expireNonces(new Date(T0 + HOUR))).toBe(0);
    expect(await store.count()).toBe(1);
  });

  it('never issues an expired commitment again', async () => {
    // A stuck RNG (or a restored VM snapshot) draws the same nonces twice.
    const stuck = (n: number) => new Uint8Array(n).fill(7);
    await commitToStore(suite, keyPackage, store, 1, stuck);
    expect(await store.expireNonces(new Date(T0 + 1))).toBe(1);
    expect((await rejection(commitToStore(suite, keyPackage, store, 1, stuck))).code).toBe('NONCE_REUSE');
  });

  it('a consumed nonce leaves no issue stamp behind, and is not counted as expired', async () => {
    const [key] = await issue(1);
    await store.consume(key!);
    expect(await store.expireNonces(new Date(T0 + HOUR))).toBe(0);
    const reused = await rejection(store.consume(key!));
    expect(reused.code).toBe('NONCE_REUSE');
    expect(await storedKeys('nonce-at/')).toEqual([]);
  });

  it('never expires a nonce while it is being consumed: each one is used or expired, not both', async () => {
    const later = <T>(ms: number, f: () => Promise<T>) =>
      new Promise<T>((resolve, reject) => setTimeout(() => f().then(resolve, reject), ms));
    for (let round = 0; round < 4; round++) {
      const keys = await issue(200);
      // Consumes and sweeps interleave: each consume starts at its own moment in the first 40 ms.
      const sweeps = [0, 5, 10, 15, 20, 25, 30].map((ms) =>
        later(ms + round, () => store.expireNonces(new Date(T0 + HOUR))),
      );
      const consumed = await Promise.allSettled(keys.map((k, i) => later(i % 40, () => store.consume(k))));
      const expired = (await Promise.all(sweeps)).reduce((a, b) => a + b, 0);
      const used = consumed.filter((r) => r.status === 'fulfilled').length;
      expect(used + expired).toBe(keys.length);
      expect(await store.count()).toBe(0);
    }
  });

  it('stamps a nonce stored without an issue time now, expires it one time to live later, and drops stray stamps', async () => {
    const [key] = await issue(1);
    await store.close();
    const db = new Level<string, string>(dir);
    await db.del(`nonce-at/${key}`);
    await db.put(`nonce-at/${'ab'.repeat(32)}`, String(T0));
    await db.close();
    clock = T0 + 10 * HOUR;
    store = await open();
    expect(await store.expireNonces(new Date(T0 + 5 * HOUR))).toBe(0);
    expect(await store.count()).toBe(1);
    expect(await store.expireNonces(new Date(T0 + 10 * HOUR + 1))).toBe(1);
    expect(await store.count()).toBe(0);
    expect(await storedKeys('nonce-at/')).toEqual([]);
  });

  it('clearNonces drops the issue stamps with the nonces', async () => {
    await issue(4);
    expect(await store.clearNonces()).toBe(4);
    expect(await store.expireNonces(new Date(T0 + HOUR))).toBe(0);
    expect(await storedKeys('nonce')).toEqual([]);
  });
});
