/**
 * PartyStore's nonce lifetime: unused nonces expire after their time to live and leave a tombstone;
 * a late round two is told its commitment expired; a nonce being consumed is never expired under
 * it; nonces stored before issue times were kept are stamped and expire one time to live later.
 * Its checkpoint claims, per origin: trust on first use, fork, rollback, an extension only with a
 * consistency proof from the last one signed, and roots recorded before origins were kept still
 * binding. Its key record: which party holds which participant kept, and a record from before
 * that was kept still read. Its request ids: expired ones pruned once every 1024 records.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MemoryMerkleTree } from '@aaps/evidence';
import {
  bytesToHex,
  commit,
  commitmentKey,
  commitToStore,
  decodeCbor,
  encodeCbor,
  getCiphersuite,
  type KeyPackage,
  keySetIdOf,
  nonceRecordFromNonces,
  ProtocolError,
  SecretBytes,
  trustedDealer,
  utf8,
} from '@aaps/mpc-core';
import fc from 'fast-check';
import { Level } from 'level';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { ProposedCheckpoint } from '../policy/checkpoint-rule.js';
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

describe('PartyStore nonce single use (the law nonce-store.prop.test.ts states for the in-memory store)', () => {
  it('any interleaving of concurrent consumes: each issued commitment is handed out once, the rest refused with the right code', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 4 }),
        fc.array(fc.nat({ max: 5 }), { minLength: 2, maxLength: 16 }),
        fc.array(fc.nat({ max: 5 }), { maxLength: 4 }),
        async (issued, requests, prior) => {
          // A store of its own per run (LevelDB on disk, as a party keeps it).
          const at = mkdtempSync(join(tmpdir(), 'aaps-party-store-law-'));
          const s = await PartyStore.open(at, kek, 'party-1', { now: () => new Date(clock) });
          try {
            // Keys 0..issued-1 are issued by this store; the others are commitments it never saw.
            const keys = [
              ...(await commitToStore(suite, keyPackage, s, issued)).map((c) => commitmentKey(c)),
              ...Array.from({ length: 6 - issued }, () => randomBytes(32).toString('hex')),
            ];
            const consumedBefore = new Set<number>();
            for (const i of prior) {
              if (i < issued && !consumedBefore.has(i)) {
                await s.consume(keys[i]!);
                consumedBefore.add(i);
              }
            }
            // Every request in flight at once, as concurrent round-two calls would be.
            const results = await Promise.allSettled(requests.map((i) => s.consume(keys[i]!)));
            const wins = new Map<number, number>();
            results.forEach((res, j) => {
              const i = requests[j]!;
              if (res.status === 'fulfilled') {
                expect(commitmentKey(res.value.commitment)).toBe(keys[i]);
                wins.set(i, (wins.get(i) ?? 0) + 1);
              } else if (i < issued) {
                expect((res.reason as ProtocolError).code).toBe('NONCE_REUSE');
              } else {
                // Never issued: UNKNOWN_NONCE, for a concurrent repeat of the request too.
                expect((res.reason as ProtocolError).code).toBe('UNKNOWN_NONCE');
              }
            });
            for (const i of new Set(requests)) {
              const live = i < issued && !consumedBefore.has(i);
              expect(wins.get(i) ?? 0).toBe(live ? 1 : 0);
            }
          } finally {
            await s.close();
            rmSync(at, { recursive: true, force: true });
          }
        },
      ),
      { numRuns: 40 },
    );
  });
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

  it('never issues a used commitment again, also after a restart', async () => {
    // The same stuck RNG after the nonce signed once: a second issue would let it sign twice.
    const stuck = (n: number) => new Uint8Array(n).fill(9);
    const [c] = await commitToStore(suite, keyPackage, store, 1, stuck);
    await store.consume(commitmentKey(c!));
    expect((await rejection(commitToStore(suite, keyPackage, store, 1, stuck))).code).toBe('NONCE_REUSE');
    await store.close();
    store = await open();
    expect((await rejection(commitToStore(suite, keyPackage, store, 1, stuck))).code).toBe('NONCE_REUSE');
    expect(await store.count()).toBe(0);
  });

  it('consumeAndSave spends one nonce and stores fresh ones in one write that survives a restart; both or neither', async () => {
    const fresh = (rng?: (n: number) => Uint8Array) =>
      nonceRecordFromNonces(suite, keySetIdOf(keyPackage), commit(suite, keyPackage, rng));
    const [spent, kept] = await issue(2);
    const next = fresh();
    const nextKey = commitmentKey(next.commitment);
    // A fresh record whose commitment was issued before (a stuck RNG): nothing is written.
    const stuck = (n: number) => new Uint8Array(n).fill(5);
    await commitToStore(suite, keyPackage, store, 1, stuck);
    expect((await rejection(store.consumeAndSave(spent!, [fresh(stuck)]))).code).toBe('NONCE_REUSE');
    expect(await store.wasUsed(spent!)).toBe(false);
    // A fresh record repeated in the batch: refused, nothing written.
    expect((await rejection(store.consumeAndSave(kept!, [fresh(), fresh(), next, next]))).code).toBe(
      'NONCE_REUSE',
    );
    expect(await store.count()).toBe(3);
    const got = await store.consumeAndSave(spent!, [next]);
    expect(commitmentKey(got.commitment)).toBe(spent);
    expect(await store.count()).toBe(3);
    await store.close();
    store = await open();
    expect((await rejection(store.consume(spent!))).code).toBe('NONCE_REUSE');
    // The fresh nonce was stamped with its issue time: it expires like any other.
    expect(await storedKeys(`nonce-at/${nextKey}`)).toEqual([`nonce-at/${nextKey}`]);
    expect(commitmentKey((await store.consume(nextKey)).commitment)).toBe(nextKey);
    // A key never issued saves nothing.
    const stranger = commitmentKey(fresh().commitment);
    expect((await rejection(store.consumeAndSave(stranger, [fresh()]))).code).toBe('UNKNOWN_NONCE');
    expect(await store.count()).toBe(2);
  });

  it('issues a repeated fresh commitment (a stuck RNG) once when two round twos store it together', async () => {
    const stuck = (n: number) => new Uint8Array(n).fill(11);
    const fresh = () =>
      nonceRecordFromNonces(suite, keySetIdOf(keyPackage), commit(suite, keyPackage, stuck));
    const [a, b] = await issue(2);
    // Two round twos at once (two signings, or one coalesced /v1/batch), each drawing the same nonce.
    const outcomes = await Promise.allSettled([
      store.consumeAndSave(a!, [fresh()]),
      store.consumeAndSave(b!, [fresh()]),
    ]);
    expect(outcomes.map((o) => o.status).sort()).toEqual(['fulfilled', 'rejected']);
    const refused = outcomes.find((o): o is PromiseRejectedResult => o.status === 'rejected')!;
    expect((refused.reason as ProtocolError).code).toBe('NONCE_REUSE');
    // And a round one drawing it while a round two stores it: one of them issues it, not both.
    const [c] = await issue(1);
    const again = (n: number) => new Uint8Array(n).fill(12);
    const both = await Promise.allSettled([
      store.consumeAndSave(c!, [
        nonceRecordFromNonces(suite, keySetIdOf(keyPackage), commit(suite, keyPackage, again)),
      ]),
      commitToStore(suite, keyPackage, store, 1, again),
    ]);
    expect(both.map((o) => o.status).sort()).toEqual(['fulfilled', 'rejected']);
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
  /** A log of 40 leaves: its roots, and consistency proofs between its sizes. */
  const log = new MemoryMerkleTree();
  for (let i = 0; i < 40; i++) log.append(utf8(`leaf ${i}`));
  /** A root no tree of the log has. */
  const other = (n: number) => new Uint8Array(32).fill(n);
  /** A checkpoint of `size` with `root`, and no proofs. */
  const at = (size: number, root: Uint8Array): ProposedCheckpoint => ({ size, root });
  /** The log's checkpoint of `size`, with its real consistency proofs from `from`. */
  const logAt = (size: number, ...from: number[]): ProposedCheckpoint => ({
    size,
    root: log.root(size),
    consistency: from.map((f) => ({ from: f, hashes: log.consistencyProof(f, size) })),
  });
  const signed = (size: number, root: Uint8Array) => ({ size, rootHex: bytesToHex(root) });

  it('accepts the first checkpoint of an origin unchecked (trust on first use), then each larger one that extends it', async () => {
    expect(await store.claimCheckpoint(B, at(10, other(1)))).toEqual({ ok: true });
    expect(await store.claimCheckpoint(A, logAt(10))).toEqual({ ok: true });
    expect(await store.claimCheckpoint(A, logAt(12, 10))).toEqual({ ok: true });
    expect(await store.lastCheckpoint(A)).toEqual(signed(12, log.root(12)));
    // The next one must extend 12, not 10.
    expect(await store.claimCheckpoint(A, logAt(14, 10))).toMatchObject({
      ok: false,
      rule: 'checkpoint.behind',
      signed_size: 12,
    });
  });

  it('records nothing when the checkpoint does not extend the last, and says why', async () => {
    await store.claimCheckpoint(A, logAt(10));
    expect(await store.claimCheckpoint(A, at(12, log.root(12)))).toMatchObject({
      ok: false,
      rule: 'checkpoint.behind',
      signed_size: 10,
    });
    const rewritten = { ...logAt(12, 10), root: other(12) };
    expect(await store.claimCheckpoint(A, rewritten)).toMatchObject({
      ok: false,
      rule: 'checkpoint.inconsistent',
      signed_size: 10,
    });
    expect(await store.lastCheckpoint(A)).toEqual(signed(10, log.root(10)));
  });

  it('refuses another root at the last size (fork) and a smaller size (rollback), naming the signed size', async () => {
    await store.claimCheckpoint(A, at(10, other(1)));
    expect(await store.claimCheckpoint(A, at(10, other(1)))).toEqual({ ok: true });
    expect(await store.claimCheckpoint(A, at(10, other(9)))).toMatchObject({
      ok: false,
      rule: 'checkpoint.fork',
      signed_size: 10,
    });
    expect(await store.claimCheckpoint(A, logAt(9))).toMatchObject({
      ok: false,
      rule: 'checkpoint.rollback',
      signed_size: 10,
    });
  });

  it('keeps each origin apart: a huge checkpoint of one origin does not block another', async () => {
    await store.claimCheckpoint(B, at(1_000_000, other(7)));
    expect(await store.claimCheckpoint(A, at(3, other(1)))).toEqual({ ok: true });
    expect(await store.lastCheckpoint(A)).toEqual(signed(3, other(1)));
    expect(await store.lastCheckpoint(B)).toEqual(signed(1_000_000, other(7)));
  });

  it('runs claims one at a time: of two concurrent first claims with different roots, one passes', async () => {
    const out = await Promise.all([
      store.claimCheckpoint(A, at(5, other(1))),
      store.claimCheckpoint(A, at(5, other(2))),
    ]);
    expect(out.map((c) => c.ok)).toEqual([true, false]);
    expect(await store.lastCheckpoint(A)).toEqual(signed(5, other(1)));
  });

  it('survives a restart', async () => {
    await store.claimCheckpoint(A, at(10, other(1)));
    await store.close();
    store = await open();
    expect(await store.claimCheckpoint(A, at(10, other(2)))).toMatchObject({ rule: 'checkpoint.fork' });
  });

  /** What a party wrote before checkpoints were kept per origin: `ckpt/<size>` to the log's root. */
  const writeLegacy = async (extra: Record<string, string> = {}) => {
    await store.close();
    const db = new Level<string, string>(dir);
    await db.put(`ckpt/${'4'.padStart(16, '0')}`, bytesToHex(log.root(4)));
    await db.put(`ckpt/${'20'.padStart(16, '0')}`, bytesToHex(log.root(20)));
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
    expect(await store.claimCheckpoint(A, at(20, other(21)))).toMatchObject({ rule: 'checkpoint.fork' });
    expect(await store.claimCheckpoint(B, logAt(19))).toMatchObject({
      rule: 'checkpoint.rollback',
      signed_size: 20,
    });
    expect(await store.claimCheckpoint(A, logAt(30, 4))).toMatchObject({
      rule: 'checkpoint.behind',
      signed_size: 20,
    });
    // Refusals record nothing: the old records still bind.
    expect(await legacyKeys()).toHaveLength(2);
    expect(await store.claimCheckpoint(A, logAt(30, 20))).toEqual({ ok: true });
    // The first origin signed took them over: they are gone, and its own record binds it.
    expect(await legacyKeys()).toEqual([]);
    expect(await store.claimCheckpoint(A, logAt(25))).toMatchObject({ signed_size: 30 });
    // Another origin (a new log after a loss) starts on trust, as with no old records at all.
    expect(await store.claimCheckpoint(B, at(3, other(3)))).toEqual({ ok: true });
  });

  it('old records left beside a per-origin record bind nothing, and go with the next record written', async () => {
    await store.claimCheckpoint(A, at(50, other(50)));
    await writeLegacy();
    expect(await store.claimCheckpoint(B, at(3, other(3)))).toEqual({ ok: true });
    expect(await legacyKeys()).toEqual([]);
    expect(await store.claimCheckpoint(A, at(40, other(40)))).toMatchObject({
      rule: 'checkpoint.rollback',
      signed_size: 50,
    });
  });

  it('under `pin`, the first origin claimed is pinned with its record, survives a restart, and no other is claimed', async () => {
    expect(store.pinnedLogOrigin()).toBeUndefined();
    // The first claim pins its origin; a refusal of the same origin keeps the pin.
    await store.claimCheckpoint(A, at(10, other(1)), 'pin');
    expect(await store.claimCheckpoint(A, at(10, other(2)), 'pin')).toMatchObject({
      rule: 'checkpoint.fork',
    });
    expect(store.pinnedLogOrigin()).toBe(A);
    await store.close();
    store = await open();
    expect(store.pinnedLogOrigin()).toBe(A);
    const side = await store.claimCheckpoint(B, at(1, other(3)), 'pin');
    expect(side).toEqual({ ok: false, rule: 'checkpoint.origin', message: expect.stringContaining(A) });
    expect(await store.lastCheckpoint(B)).toBeUndefined();
    // A configured origin wins (an operator moving the party to a new log), and becomes the pin.
    expect(await store.claimCheckpoint(B, at(1, other(3)), 'configured')).toEqual({ ok: true });
    expect(store.pinnedLogOrigin()).toBe(B);
    expect(await store.claimCheckpoint(A, at(10, other(1)), 'pin')).toMatchObject({
      rule: 'checkpoint.origin',
    });
  });

  it('a party from before pins were kept takes its one witnessed origin as pinned; with several, one of them', async () => {
    await store.claimCheckpoint(A, at(10, other(1)));
    await store.close();
    store = await open();
    expect(store.pinnedLogOrigin()).toBe(A);
    expect(await store.claimCheckpoint(B, at(1, other(1)), 'pin')).toMatchObject({
      rule: 'checkpoint.origin',
    });
    // Two origins witnessed, none pinned: only one of the two may be claimed, and is then pinned.
    await store.claimCheckpoint(B, at(1, other(1)));
    await store.close();
    store = await open();
    expect(store.pinnedLogOrigin()).toBeUndefined();
    // It knows which logs it may still pin (its status and refusals name them).
    expect([...store.undecidedLogOrigins()].sort()).toEqual([A, B].sort());
    expect(await store.claimCheckpoint('aaps.test/c', at(1, other(1)), 'pin')).toMatchObject({
      rule: 'checkpoint.origin',
    });
    expect(await store.claimCheckpoint(B, at(1, other(1)), 'pin')).toEqual({ ok: true });
    expect(store.pinnedLogOrigin()).toBe(B);
    expect(store.undecidedLogOrigins()).toEqual([]);
    expect(await store.claimCheckpoint(A, at(10, other(1)), 'pin')).toMatchObject({
      rule: 'checkpoint.origin',
    });
  });

  it('the take-over survives a restart', async () => {
    await writeLegacy();
    expect(await store.claimCheckpoint(A, logAt(20))).toEqual({ ok: true });
    await store.close();
    store = await open();
    expect(await store.claimCheckpoint(B, at(1, other(1)))).toEqual({ ok: true });
    expect(await store.claimCheckpoint(A, logAt(19))).toMatchObject({
      rule: 'checkpoint.rollback',
    });
  });
});

describe('PartyStore aggregation session claims (one dealing per session id)', () => {
  const DAY = 24 * HOUR;
  const claim = (id: string, window = 30 * DAY) =>
    store.claimAggregationSession(id, new Date(clock), new Date(clock - window));

  it('claims an id once; a second or concurrent claim is refused, and the claim survives a restart', async () => {
    expect(await claim('risk-1')).toBe(true);
    expect(await claim('risk-1')).toBe(false);
    const both = await Promise.all([claim('risk-2'), claim('risk-2')]);
    expect(both.filter(Boolean)).toHaveLength(1);
    await store.close();
    store = await open();
    expect(await claim('risk-1')).toBe(false);
    expect(await store.aggregationSessionClaimed('risk-2')).toBe(true);
    expect(await claim('risk-3')).toBe(true);
  });

  it('writes the audit entry of a claim with the claim, and none for a refused claim', async () => {
    const entry = (signer: string) => ({
      at: new Date(clock).toISOString(),
      event: 'agg.input',
      session: 'risk-9',
      detail: { circuit: 'weighted-risk', signer },
    });
    const before = (await store.auditTrail()).length;
    expect(await store.claimAggregationSession('risk-9', new Date(clock), new Date(0), entry('dept-a'))).toBe(
      true,
    );
    expect(await store.claimAggregationSession('risk-9', new Date(clock), new Date(0), entry('dept-b'))).toBe(
      false,
    );
    await store.close();
    store = await open();
    const added = (await store.auditTrail()).slice(before);
    expect(added).toEqual([entry('dept-a')]);
    // The sequence goes on after the restart: the next entry does not overwrite it.
    await store.audit({ ...entry('x'), event: 'later' });
    expect((await store.auditTrail()).slice(before).map((e) => e.event)).toEqual(['agg.input', 'later']);
  });

  it('drops claims older than the window (both records), and keeps younger ones', async () => {
    expect(await claim('old')).toBe(true);
    clock = T0 + 10 * DAY;
    expect(await claim('young')).toBe(true);
    clock = T0 + 31 * DAY;
    expect(await claim('another')).toBe(true);
    expect(await store.aggregationSessionClaimed('old')).toBe(false);
    expect(await store.aggregationSessionClaimed('young')).toBe(true);
    expect(await storedKeys('agg/')).toEqual(['agg/another', 'agg/young']);
    expect(await storedKeys('agg-at/')).toHaveLength(2);
  });
});

describe('PartyStore request ids (replay protection)', () => {
  const remember = (id: string, at: number, until: number) =>
    store.rememberRequest(id, new Date(at), new Date(until));

  it('prunes expired ids once every 1024 records, also when each request expires one', async () => {
    // 1,023 ids, each kept one millisecond longer than the last; then requests each arriving as
    // the next of them has expired, so a prune of one would bring the map back to 1,023.
    for (let i = 0; i < 1023; i++) expect(await remember(`old-${i}`, T0, T0 + i)).toBe(true);
    const batch = vi.spyOn(Level.prototype, 'batch');
    try {
      for (let i = 0; i < 2048; i++) expect(await remember(`new-${i}`, T0 + 1 + i, T0 + HOUR)).toBe(true);
      const prunes = (batch.mock.calls as unknown[][]).filter(
        ([ops]) => Array.isArray(ops) && ops.some((op: { type: string }) => op.type === 'del'),
      );
      expect(prunes).toHaveLength(2);
    } finally {
      batch.mockRestore();
    }
    // The two prunes took every expired id off the disk and kept every live one, which is still
    // refused as a replay after a restart.
    const kept = await storedKeys('seen/');
    expect(kept.filter((k) => k.startsWith('seen/old-'))).toEqual([]);
    expect(kept.filter((k) => k.startsWith('seen/new-'))).toHaveLength(2048);
    expect(await remember('new-0', T0 + 2048, T0 + HOUR)).toBe(false);
  });
});

describe('PartyStore key record', () => {
  const dealt = trustedDealer(suite, { min: 2, max: 3 });
  const key = {
    keyPackage: dealt.keyPackages[1]!,
    publicPackage: dealt.publicPackage,
    rosterDigest: 'ab'.repeat(32),
    createdAt: '2026-11-26T00:00:00.000Z',
  };
  const participants = new Map([
    ['party-1', dealt.keyPackages[0]!.identifier],
    ['party-2', dealt.keyPackages[1]!.identifier],
    ['party-3', dealt.keyPackages[2]!.identifier],
  ]);

  /** Rewrite the stored record's fields (the store is reopened after). */
  async function alterRecord(change: (r: Record<string, unknown>) => void): Promise<void> {
    await store.close();
    const db = new Level<string, Uint8Array>(dir, { valueEncoding: 'view' });
    try {
      const r = decodeCbor((await db.get('key/current'))!) as Record<string, unknown>;
      change(r);
      await db.put('key/current', encodeCbor(r));
    } finally {
      await db.close();
      store = await open();
    }
  }

  it('keeps which party holds which participant, across a reopen', async () => {
    await store.saveKey({ ...key, participants });
    await store.close();
    store = await open();
    const loaded = (await store.loadKey())!;
    expect(loaded.participants).toEqual(participants);
    expect(loaded.keyPackage.verifyingShare).toEqual(key.keyPackage.verifyingShare);
  });

  it('reads a record written before participants were kept (none given back), and refuses a damaged list', async () => {
    await store.saveKey({ ...key, participants });
    await alterRecord((r) => {
      delete r.participants;
    });
    const legacy = (await store.loadKey())!;
    expect(legacy.participants).toBeUndefined();
    expect(legacy.rosterDigest).toBe(key.rosterDigest);
    await alterRecord((r) => {
      r.participants = [['party-1', 7]];
    });
    await expect(store.loadKey()).rejects.toThrow(
      'stored key: participants: expected [party id, identifier] pairs',
    );
  });

  it('restoreKey puts the key, drops the nonces and records the audit entry in one write; nothing when the entry cannot be built', async () => {
    await store.saveKey(key);
    await issue(3);
    const other = { ...key, keyPackage: dealt.keyPackages[2]! };
    // An entry that cannot be built: nothing is written (old key, its nonces, no audit entry).
    await expect(
      store.restoreKey(other, () => {
        throw new Error('no clock');
      }),
    ).rejects.toThrow('no clock');
    expect((await store.loadKey())!.keyPackage.verifyingShare).toEqual(key.keyPackage.verifyingShare);
    expect(await store.count()).toBe(3);
    expect(await store.auditTrail()).toEqual([]);

    const at = '2026-11-26T01:00:00.000Z';
    expect(
      await store.restoreKey(other, (dropped) => ({
        at,
        event: 'key.restored',
        detail: { nonces_dropped: dropped },
      })),
    ).toBe(3);
    expect((await store.loadKey())!.keyPackage.verifyingShare).toEqual(other.keyPackage.verifyingShare);
    expect(await storedKeys('nonce')).toEqual([]);
    expect(await store.auditTrail()).toEqual([{ at, event: 'key.restored', detail: { nonces_dropped: 3 } }]);
  });
});
