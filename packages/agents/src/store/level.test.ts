/**
 * PartyStore's nonce lifetime: unused nonces expire after their time to live and leave a tombstone;
 * a late round two is told its commitment expired; a nonce being consumed is never expired under
 * it; nonces stored before issue times were kept are stamped and expire one time to live later.
 * Its checkpoint claims, per origin: trust on first use, fork, rollback, an extension only when
 * its check passes, and roots recorded before origins were kept still binding.
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
import { type CheckpointClaim, PartyStore, type SignedCheckpoint } from './level.js';

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

describe('PartyStore checkpoint claims (per origin, each extending the last)', () => {
  const A = 'aaps.test/a';
  const B = 'aaps.test/b';
  const root = (n: number) => n.toString(16).padStart(2, '0').repeat(32);
  /** An extension check that records what it was asked and answers `answer`. */
  const checker = (answer: CheckpointClaim = { ok: true }) => {
    const asked: SignedCheckpoint[] = [];
    return {
      asked,
      check: (last: SignedCheckpoint) => {
        asked.push(last);
        return answer;
      },
    };
  };
  const behind = (last: SignedCheckpoint): CheckpointClaim => ({
    ok: false,
    rule: 'checkpoint.behind',
    message: 'no proof',
    signedSize: last.size,
  });

  it('accepts the first checkpoint of an origin unchecked (trust on first use), then asks each larger one to extend it', async () => {
    const first = checker();
    expect(await store.claimCheckpoint(A, 10, root(1), first.check)).toEqual({ ok: true });
    expect(first.asked).toEqual([]);
    const next = checker();
    expect(await store.claimCheckpoint(A, 12, root(2), next.check)).toEqual({ ok: true });
    expect(next.asked).toEqual([{ size: 10, rootHex: root(1) }]);
    expect(await store.lastCheckpoint(A)).toEqual({ size: 12, rootHex: root(2) });
  });

  it('records nothing when the extension check refuses, and passes its refusal on', async () => {
    await store.claimCheckpoint(A, 10, root(1), behind);
    expect(await store.claimCheckpoint(A, 12, root(2), behind)).toMatchObject({
      ok: false,
      rule: 'checkpoint.behind',
      signedSize: 10,
    });
    expect(await store.lastCheckpoint(A)).toEqual({ size: 10, rootHex: root(1) });
  });

  it('refuses another root at the last size (fork) and a smaller size (rollback), naming the signed size', async () => {
    await store.claimCheckpoint(A, 10, root(1), behind);
    expect(await store.claimCheckpoint(A, 10, root(1), behind)).toEqual({ ok: true });
    expect(await store.claimCheckpoint(A, 10, root(9), behind)).toMatchObject({
      ok: false,
      rule: 'checkpoint.fork',
      signedSize: 10,
    });
    expect(await store.claimCheckpoint(A, 9, root(1), checker().check)).toMatchObject({
      ok: false,
      rule: 'checkpoint.rollback',
      signedSize: 10,
    });
  });

  it('keeps each origin apart: a huge checkpoint of one origin does not block another', async () => {
    await store.claimCheckpoint(B, 1_000_000, root(7), behind);
    expect(await store.claimCheckpoint(A, 3, root(1), behind)).toEqual({ ok: true });
    expect(await store.lastCheckpoint(A)).toEqual({ size: 3, rootHex: root(1) });
    expect(await store.lastCheckpoint(B)).toEqual({ size: 1_000_000, rootHex: root(7) });
  });

  it('runs claims one at a time: of two concurrent first claims with different roots, one passes', async () => {
    const out = await Promise.all([
      store.claimCheckpoint(A, 5, root(1), behind),
      store.claimCheckpoint(A, 5, root(2), behind),
    ]);
    expect(out.map((c) => c.ok)).toEqual([true, false]);
    expect(await store.lastCheckpoint(A)).toEqual({ size: 5, rootHex: root(1) });
  });

  it('survives a restart', async () => {
    await store.claimCheckpoint(A, 10, root(1), behind);
    await store.close();
    store = await open();
    expect(await store.claimCheckpoint(A, 10, root(2), behind)).toMatchObject({ rule: 'checkpoint.fork' });
  });

  /** What a party wrote before checkpoints were kept per origin: `ckpt/<size>` to the root. */
  const writeLegacy = async (extra: Record<string, string> = {}) => {
    await store.close();
    const db = new Level<string, string>(dir);
    await db.put(`ckpt/${'4'.padStart(16, '0')}`, root(4));
    await db.put(`ckpt/${'20'.padStart(16, '0')}`, root(20));
    for (const [k, v] of Object.entries(extra)) await db.put(k, v);
    await db.close();
    store = await open();
  };
  const legacyKeys = async () => {
    await store.close();
    const db = new Level<string, string>(dir);
    const keys = await db.keys({ gte: 'ckpt/', lt: 'ckpt/\xff' }).all();
    await db.close();
    store = await open();
    return keys;
  };

  it('after an upgrade, roots recorded by size alone bind the first origin signed', async () => {
    await writeLegacy();
    expect(await store.claimCheckpoint(A, 20, root(21), behind)).toMatchObject({ rule: 'checkpoint.fork' });
    expect(await store.claimCheckpoint(B, 19, root(19), behind)).toMatchObject({
      rule: 'checkpoint.rollback',
      signedSize: 20,
    });
    expect(await store.claimCheckpoint(A, 30, root(30), behind)).toMatchObject({
      rule: 'checkpoint.behind',
      signedSize: 20,
    });
    // Refusals record nothing: the old records still bind.
    expect(await legacyKeys()).toHaveLength(2);
    const extend = checker();
    expect(await store.claimCheckpoint(A, 30, root(30), extend.check)).toEqual({ ok: true });
    expect(extend.asked).toEqual([{ size: 20, rootHex: root(20) }]);
    // The first origin signed took them over: they are gone, and its own record binds it.
    expect(await legacyKeys()).toEqual([]);
    expect(await store.claimCheckpoint(A, 25, root(25), behind)).toMatchObject({ signedSize: 30 });
    // Another origin (a new log after a loss) starts on trust, as with no old records at all.
    const fresh = checker();
    expect(await store.claimCheckpoint(B, 3, root(3), fresh.check)).toEqual({ ok: true });
    expect(fresh.asked).toEqual([]);
  });

  it('old records left beside a per-origin record bind nothing, and go with the next record written', async () => {
    await store.claimCheckpoint(A, 50, root(50), behind);
    await writeLegacy();
    const fresh = checker();
    expect(await store.claimCheckpoint(B, 3, root(3), fresh.check)).toEqual({ ok: true });
    expect(fresh.asked).toEqual([]);
    expect(await legacyKeys()).toEqual([]);
    expect(await store.claimCheckpoint(A, 40, root(40), behind)).toMatchObject({
      rule: 'checkpoint.rollback',
      signedSize: 50,
    });
  });

  it('the take-over survives a restart', async () => {
    await writeLegacy();
    expect(await store.claimCheckpoint(A, 20, root(20), behind)).toEqual({ ok: true });
    await store.close();
    store = await open();
    expect(await store.claimCheckpoint(B, 1, root(1), behind)).toEqual({ ok: true });
    expect(await store.claimCheckpoint(A, 19, root(19), behind)).toMatchObject({
      rule: 'checkpoint.rollback',
    });
  });
});
