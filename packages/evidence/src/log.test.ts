import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { ValidationError, VerificationError } from '@aaps/mpc-core';
import fc from 'fast-check';
import { Level } from 'level';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openCheckpoint } from './checkpoint.js';
import { type LogStore, TransparencyLog } from './log.js';
import { hashChildren, hashLeaf, MemoryMerkleTree, verifyConsistency, verifyInclusion } from './merkle.js';
import { DIST, ensureBuilt } from './test-helpers/build-dist.js';
import { MemoryStore, makeEd25519Key, noteKeyFor, ORIGIN } from './test-helpers/fixtures.js';

const enc = new TextEncoder();
const leaf = (i: number) => enc.encode(`leaf-${i}`);
const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');

function levelStore(db: Level<string, Uint8Array>): LogStore {
  return { get: (k) => db.get(k), getMany: (ks) => db.getMany(ks), batch: (ops) => db.batch(ops) };
}

const dirs: string[] = [];
function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'aaps-log-'));
  dirs.push(d);
  return d;
}
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

/**
 * A log of `size` leaves whose checkpoint of that size a second log on the same store has signed
 * with `key` since the first opened: the first has not seen it.
 */
async function storedByAnotherWriter(size: number, key: ReturnType<typeof makeEd25519Key>) {
  const store = new MemoryStore();
  const log = await TransparencyLog.open(store, { origin: ORIGIN });
  for (let i = 0; i < size; i++) await log.append(leaf(i));
  const other = await TransparencyLog.open(store, { origin: ORIGIN });
  const theirs = await other.signCheckpoint(noteKeyFor(key), key.sign);
  return { log, theirs };
}

describe('TransparencyLog in memory', () => {
  it('group-commits concurrent appends into few batches, indexes in call order', async () => {
    const store = new MemoryStore();
    const log = await TransparencyLog.open(store, { origin: ORIGIN });
    const indexes = await Promise.all(Array.from({ length: 100 }, (_, i) => log.append(leaf(i))));
    expect(indexes).toEqual(Array.from({ length: 100 }, (_, i) => i));
    expect(store.batches).toBe(1);
    expect(log.size).toBe(100);
  });

  it.each([0, 1, 4, 65536])(
    'matches the in-memory tree for roots and proofs, from store reads as well as cache (cacheSize %i)',
    async (cacheSize) => {
      const store = new MemoryStore();
      const log = await TransparencyLog.open(store, { origin: ORIGIN, cacheSize, maxBatch: 7 });
      const ref = new MemoryMerkleTree();
      for (let round = 0; round < 5; round++) {
        await Promise.all(Array.from({ length: 13 }, (_, i) => log.append(leaf(round * 13 + i))));
        for (let i = 0; i < 13; i++) ref.append(leaf(round * 13 + i));
      }
      expect(log.size).toBe(65);
      for (const n of [1, 2, 7, 32, 33, 64, 65]) {
        expect(hex(await log.root(n))).toBe(hex(ref.root(n)));
        for (const m of [0, n - 1, Math.floor(n / 2)]) {
          const proof = await log.inclusionProof(m, n);
          expect(proof.map(hex)).toEqual(ref.inclusionProof(m, n).map(hex));
          verifyInclusion(hashLeaf(leaf(m)), m, n, proof, ref.root(n));
        }
        for (const m of [1, Math.ceil(n / 3), n]) {
          const proof = await log.consistencyProof(m, n);
          verifyConsistency(m, n, proof, ref.root(m), ref.root(n));
        }
      }
      expect(await log.getLeaf(64)).toEqual(leaf(64));
      expect(await log.getLeaf(65)).toBeUndefined();
    },
  );

  it('refuses a cacheSize that is not an integer from 0 to 2^24, naming it', async () => {
    for (const cacheSize of [-1, 1.5, Number.NaN, 2 ** 24 + 1, '8' as unknown as number]) {
      const e = await TransparencyLog.open(new MemoryStore(), { origin: ORIGIN, cacheSize }).catch((x) => x);
      expect(e, String(cacheSize)).toBeInstanceOf(ValidationError);
      expect((e as ValidationError).fields).toEqual(['cacheSize']);
    }
  });

  it('rejects the appends of a failed batch and stays consistent', async () => {
    const store = new MemoryStore();
    const log = await TransparencyLog.open(store, { origin: ORIGIN });
    await log.append(leaf(0));
    store.failNext = true;
    const failed = await Promise.allSettled([log.append(leaf(1)), log.append(leaf(2))]);
    expect(failed.map((f) => f.status)).toEqual(['rejected', 'rejected']);
    expect(log.size).toBe(1);
    expect(await log.append(leaf(1))).toBe(1);
    const ref = new MemoryMerkleTree();
    ref.append(leaf(0));
    ref.append(leaf(1));
    expect(hex(await log.root())).toBe(hex(ref.root()));
    const reopened = await TransparencyLog.open(store, { origin: ORIGIN });
    expect(reopened.size).toBe(2);
  });

  it('appendOnce: a leaf the log holds keeps its index (in flight, landed, after reopen); a failed batch indexes nothing', async () => {
    const store = new MemoryStore();
    const log = await TransparencyLog.open(store, { origin: ORIGIN });
    await log.append(leaf(0));
    // Concurrent calls for one leaf share one append; another leaf in the same tick gets its own.
    const [a, b, c] = await Promise.all([
      log.appendOnce(leaf(1)),
      log.appendOnce(leaf(1)),
      log.appendOnce(leaf(2)),
    ]);
    expect([a, b, c]).toEqual([1, 1, 2]);
    expect(await log.appendOnce(leaf(0))).toBe(0); // appended with plain append: found too
    expect(await log.appendOnce(leaf(2))).toBe(2);
    expect(log.size).toBe(3);

    store.failNext = true;
    await expect(log.appendOnce(leaf(3))).rejects.toThrow();
    // Nothing of the failed batch is indexed: the next call appends it, once.
    expect(await log.appendOnce(leaf(3))).toBe(3);
    const reopened = await TransparencyLog.open(store, { origin: ORIGIN });
    expect(await reopened.appendOnce(leaf(3))).toBe(3);
    expect(await reopened.appendOnce(leaf(1))).toBe(1);
    expect(reopened.size).toBe(4);
    expect(await reopened.appendOnce(leaf(4))).toBe(4);
    const ref = new MemoryMerkleTree();
    for (let i = 0; i < 5; i++) ref.append(leaf(i));
    expect(hex(await reopened.root())).toBe(hex(ref.root()));
  });

  it('law: appendOnce calls (repeats, concurrent batches) leave each distinct leaf once, each call resolving to its bytes', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.array(fc.integer({ min: 0, max: 12 }), { minLength: 1, maxLength: 6 }), {
          minLength: 1,
          maxLength: 6,
        }),
        async (rounds) => {
          const log = await TransparencyLog.open(new MemoryStore(), { origin: ORIGIN });
          const firstSeen: number[] = [];
          for (const round of rounds) {
            const indexes = await Promise.all(round.map((n) => log.appendOnce(leaf(n))));
            for (const n of round) if (!firstSeen.includes(n)) firstSeen.push(n);
            for (const [i, n] of round.entries()) expect(await log.getLeaf(indexes[i]!)).toEqual(leaf(n));
          }
          expect(log.size).toBe(firstSeen.length);
          for (const [i, n] of firstSeen.entries()) expect(await log.getLeaf(i)).toEqual(leaf(n));
        },
      ),
      { numRuns: 60 },
    );
  });

  it('a batch that lands but is reported failed is taken as done: no other leaf is written over it', async () => {
    const store = new MemoryStore();
    const log = await TransparencyLog.open(store, { origin: ORIGIN });
    await log.append(leaf(0));
    // The next batch lands, then the store reports it failed (a timeout after the write).
    const batch = store.batch.bind(store);
    store.batch = async (ops) => {
      store.batch = batch;
      await batch(ops);
      throw new Error('write timed out');
    };
    expect(await log.appendOnce(leaf(1))).toBe(1);
    expect(await log.appendOnce(leaf(2))).toBe(2);
    expect(await log.appendOnce(leaf(1))).toBe(1);
    const root = await log.root();
    verifyInclusion(hashLeaf(leaf(1)), 1, 3, await log.inclusionProof(1, 3), root);
    // A batch that did not land is still refused.
    store.failNext = true;
    await expect(log.append(leaf(3))).rejects.toThrow('disk full');
    expect(log.size).toBe(3);
  });

  it('a batch that failed is not taken as landed because an earlier batch, landed unseen, left the same size', async () => {
    const store = new MemoryStore();
    const log = await TransparencyLog.open(store, { origin: ORIGIN });
    await log.appendOnce(leaf(0));
    const batch = store.batch.bind(store);
    const get = store.get.bind(store);
    // The batch of leaf 1 lands but is reported failed, and the read that should tell fails too:
    // the log takes it as not landed (in memory: size 1; stored: size 2).
    store.batch = async (ops) => {
      store.batch = batch;
      await batch(ops);
      store.get = async (k) => {
        store.get = get;
        if (k === 'size') throw new Error('read timed out');
        return get(k);
      };
      throw new Error('write timed out');
    };
    await expect(log.appendOnce(leaf(1))).rejects.toThrow('write timed out');
    expect(log.size).toBe(1);
    // The next batch really fails: the stored size is the one it would have written, but its leaf
    // is not there, so it is refused rather than indexed where leaf 1 lies.
    store.failNext = true;
    await expect(log.appendOnce(leaf(2))).rejects.toThrow('disk full');
    expect(log.size).toBe(1);
    // The log goes on from what it holds: a checkpoint over it reopens, proofs verify.
    expect(await log.appendOnce(leaf(3))).toBe(1);
    const group = makeEd25519Key();
    const cp = await log.signCheckpoint(noteKeyFor(group), group.sign);
    await expect(TransparencyLog.open(store, { origin: ORIGIN })).resolves.toBeDefined();
    verifyInclusion(hashLeaf(leaf(3)), 1, cp.size, await log.inclusionProof(1, cp.size), cp.rootHash);
  });
  it('appendOnce does not trust a leaf index whose entry holds other bytes: it appends', async () => {
    const store = new MemoryStore();
    const log = await TransparencyLog.open(store, { origin: ORIGIN });
    await log.append(leaf(0));
    await store.batch([{ type: 'put', key: `leafindex/${hex(hashLeaf(leaf(9)))}`, value: enc.encode('0') }]);
    expect(await log.appendOnce(leaf(9))).toBe(1);
    expect(await log.getLeaf(1)).toEqual(leaf(9));
    expect(await log.appendOnce(leaf(9))).toBe(1);
  });

  it('appendOnce on a damaged store (an index past the tree) is refused, not trusted', async () => {
    const store = new MemoryStore();
    const log = await TransparencyLog.open(store, { origin: ORIGIN });
    await log.append(leaf(0));
    await store.batch([{ type: 'put', key: `leafindex/${hex(hashLeaf(leaf(9)))}`, value: enc.encode('5') }]);
    await expect(log.appendOnce(leaf(9))).rejects.toMatchObject({ check: 'log.consistency' });
    expect(log.size).toBe(1);
  });

  it('opens a log with checkpoints only under their origin', async () => {
    const group = makeEd25519Key();
    const store = new MemoryStore();
    const log = await TransparencyLog.open(store, { origin: ORIGIN });
    // No checkpoint yet: nothing fixes the origin.
    await log.append(leaf(0));
    expect((await TransparencyLog.open(store, { origin: 'other.test/log' })).size).toBe(1);
    await log.signCheckpoint(noteKeyFor(group), group.sign);
    const refused = await TransparencyLog.open(store, { origin: 'other.test/log' }).catch((e) => e);
    expect(refused).toBeInstanceOf(ValidationError);
    expect((refused as ValidationError).fields).toEqual(['origin']);
    expect((await TransparencyLog.open(store, { origin: ORIGIN })).size).toBe(1);
  });

  it('signs checkpoints once per size and refuses a second root for a size', async () => {
    const group = makeEd25519Key();
    const store = new MemoryStore();
    const log = await TransparencyLog.open(store, { origin: ORIGIN });
    await expect(log.position(0)).rejects.toBeInstanceOf(ValidationError);
    await log.append(leaf(0));
    await log.append(leaf(1));
    let signatures = 0;
    const sign = async (m: Uint8Array) => {
      signatures++;
      return group.sign(m);
    };
    const [a, b] = await Promise.all([
      log.signCheckpoint(noteKeyFor(group), sign),
      log.signCheckpoint(noteKeyFor(group), sign),
    ]);
    expect(a.note).toBe(b.note);
    expect((await log.signCheckpoint(noteKeyFor(group), sign)).note).toBe(a.note);
    expect(signatures).toBe(1);
    expect(openCheckpoint(a.note, [noteKeyFor(group)]).size).toBe(2);
    expect((await log.position(1)).treeSize).toBe(2);

    // Plant a checkpoint of size 3 with a foreign root, as a forked writer would.
    const forkStore = new MemoryStore();
    const fork = await TransparencyLog.open(forkStore, { origin: ORIGIN });
    for (const l of [leaf(0), leaf(1), enc.encode('other')]) await fork.append(l);
    const forged = await fork.signCheckpoint(noteKeyFor(group), group.sign);
    await store.batch([{ type: 'put', key: 'checkpoint/0000000000000003', value: enc.encode(forged.note) }]);
    await log.append(leaf(2));
    await expect(log.signCheckpoint(noteKeyFor(group), group.sign)).rejects.toMatchObject({
      check: 'log.checkpoint',
    });
  });

  it('never moves the latest checkpoint back when signatures finish out of order', async () => {
    const group = makeEd25519Key();
    const log = await TransparencyLog.open(new MemoryStore(), { origin: ORIGIN });
    await log.append(leaf(0));
    let release: () => void = () => {};
    const gate = new Promise<void>((r) => {
      release = r;
    });
    const slow = log.signCheckpoint(noteKeyFor(group), async (m) => {
      await gate;
      return group.sign(m);
    });
    await log.append(leaf(1));
    await log.signCheckpoint(noteKeyFor(group), group.sign);
    release();
    expect((await slow).size).toBe(1);
    expect((await log.latestCheckpoint())?.size).toBe(2);
    expect((await log.checkpointAt(1))?.size).toBe(1);
  });

  it('keeps the latest checkpoint in memory: no store reads, copies out, moved only by a landed batch', async () => {
    const group = makeEd25519Key();
    const store = new MemoryStore();
    const log = await TransparencyLog.open(store, { origin: ORIGIN });
    expect(await log.latestCheckpoint()).toBeUndefined();
    await log.append(leaf(0));
    const first = await log.signCheckpoint(noteKeyFor(group), group.sign);
    // The signed checkpoint is the caller's copy, not the log's own root hash.
    const firstRoot = hex(first.rootHash);
    first.rootHash.fill(9);
    expect(hex(await log.root())).toBe(firstRoot);
    const reads = store.reads;
    const got = await log.latestCheckpoint();
    expect(got?.note).toBe(first.note);
    expect((await log.position(0)).checkpoint).toBe(first.note);
    expect(store.reads).toBe(reads);

    got!.rootHash.fill(0);
    got!.size = 99;
    expect(hex((await log.latestCheckpoint())!.rootHash)).toBe(firstRoot);
    expect((await log.latestCheckpoint())!.size).toBe(1);

    // A checkpoint whose batch fails is not the latest, in memory or in the store.
    await log.append(leaf(1));
    store.failNext = true;
    await expect(log.signCheckpoint(noteKeyFor(group), group.sign)).rejects.toThrow('disk full');
    expect((await log.latestCheckpoint())?.note).toBe(first.note);
    const reopened = await TransparencyLog.open(store, { origin: ORIGIN });
    expect((await reopened.latestCheckpoint())?.note).toBe(first.note);
    const second = await log.signCheckpoint(noteKeyFor(group), group.sign);
    expect((await log.latestCheckpoint())?.size).toBe(2);
    expect(
      (await TransparencyLog.open(store, { origin: ORIGIN }).then((l) => l.latestCheckpoint()))?.note,
    ).toBe(second.note);
  });

  it('adopts a checkpoint of its size already stored as its latest, and hands out copies', async () => {
    const group = makeEd25519Key();
    // Another writer (or an earlier signing whose batch landed after all) stored size 2 already.
    const { log: a, theirs } = await storedByAnotherWriter(2, group);
    expect(await a.latestCheckpoint()).toBeUndefined();
    let signed = 0;
    const mine = await a.signCheckpoint(noteKeyFor(group), async (m) => {
      signed++;
      return group.sign(m);
    });
    expect(signed).toBe(0);
    expect(mine.note).toBe(theirs.note);
    expect((await a.latestCheckpoint())?.note).toBe(theirs.note);
    expect((await a.position(1)).checkpoint).toBe(theirs.note);
    // What signCheckpoint returns is the caller's: changing it changes neither root nor latest.
    const root = hex(await a.root());
    mine.rootHash.fill(7);
    expect(hex(await a.root())).toBe(root);
    expect(hex((await a.latestCheckpoint())!.rootHash)).toBe(root);

    // A stored checkpoint signed under another key is not adopted.
    const { log: c } = await storedByAnotherWriter(1, makeEd25519Key());
    await expect(c.signCheckpoint(noteKeyFor(group), group.sign)).rejects.toMatchObject({
      check: 'log.checkpoint',
    });
    expect(await c.latestCheckpoint()).toBeUndefined();
  });

  it('refuses to open a store whose tree does not match its latest checkpoint', async () => {
    const group = makeEd25519Key();
    const store = new MemoryStore();
    const log = await TransparencyLog.open(store, { origin: ORIGIN });
    await log.append(leaf(0));
    await log.append(leaf(1));
    await log.signCheckpoint(noteKeyFor(group), group.sign);
    store.data.set('node/00/0000000000000001', new Uint8Array(32));
    store.data.set('node/01/0000000000000000', new Uint8Array(32));
    const err = await TransparencyLog.open(store, { origin: ORIGIN }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(VerificationError);
    expect((err as VerificationError).check).toBe('log.consistency');
  });
});

describe('TransparencyLog on LevelDB', () => {
  it('persists leaves, nodes and checkpoints across close and reopen', async () => {
    const dir = tempDir();
    const group = makeEd25519Key();
    let db = new Level<string, Uint8Array>(dir, { valueEncoding: 'view' });
    let log = await TransparencyLog.open(levelStore(db), { origin: ORIGIN });
    await Promise.all(Array.from({ length: 37 }, (_, i) => log.append(leaf(i))));
    const cp = await log.signCheckpoint(noteKeyFor(group), group.sign);
    const root = await log.root();
    const proof = await log.inclusionProof(20);
    await db.close();

    db = new Level<string, Uint8Array>(dir, { valueEncoding: 'view' });
    log = await TransparencyLog.open(levelStore(db), { origin: ORIGIN });
    expect(log.size).toBe(37);
    expect(hex(await log.root())).toBe(hex(root));
    expect((await log.inclusionProof(20)).map(hex)).toEqual(proof.map(hex));
    expect((await log.latestCheckpoint())?.note).toBe(cp.note);
    expect(await log.append(leaf(37))).toBe(37);
    await db.close();
  });

  describe('crash recovery', () => {
    beforeAll(() => ensureBuilt(), 180_000);

    it('recovers exactly the landed batches after SIGKILL mid-append', async () => {
      const dir = tempDir();
      const require = createRequire(import.meta.url);
      const script = join(dir, 'writer.mjs');
      writeFileSync(
        script,
        `import { Level } from ${JSON.stringify(pathToFileURL(require.resolve('level')).href)};
import { TransparencyLog } from ${JSON.stringify(pathToFileURL(join(DIST, 'log.js')).href)};
const db = new Level(process.argv[2] + '/db', { valueEncoding: 'view' });
const log = await TransparencyLog.open(
  { get: (k) => db.get(k), getMany: (ks) => db.getMany(ks), batch: (ops) => db.batch(ops) },
  { origin: 'aaps.test/log', maxBatch: 64 },
);
const enc = new TextEncoder();
let i = 0;
for (;;) {
  const batch = [];
  for (let j = 0; j < 50; j++, i++) batch.push(log.append(enc.encode('leaf-' + i)));
  await Promise.all(batch);
  process.stdout.write('landed ' + log.size + '\\n');
}
`,
      );
      const child: ChildProcess = spawn(process.execPath, [script, dir], {
        stdio: ['ignore', 'pipe', 'inherit'],
      });
      let landed = 0;
      await new Promise<void>((resolve, reject) => {
        child.on('error', reject);
        child.on('exit', (code) => reject(new Error(`writer exited early with ${code}`)));
        child.stdout!.on('data', (chunk: Buffer) => {
          const m = /landed (\d+)\n(?![\s\S]*landed)/.exec(chunk.toString());
          if (m) landed = Number(m[1]);
          if (landed >= 2000) resolve();
        });
      });
      child.removeAllListeners('exit');
      const exited = new Promise((r) => child.on('exit', r));
      child.kill('SIGKILL');
      await exited;

      const db = new Level<string, Uint8Array>(join(dir, 'db'), { valueEncoding: 'view' });
      const log = await TransparencyLog.open(levelStore(db), { origin: ORIGIN });
      expect(log.size).toBeGreaterThanOrEqual(landed);
      // Every stored leaf is below the recovered size: no batch landed in part.
      let leafCount = 0;
      for await (const key of db.keys({ gte: 'leaf/', lt: 'leaf0' })) {
        leafCount++;
        expect(Number.parseInt(key.slice(5), 16)).toBeLessThan(log.size);
      }
      expect(leafCount).toBe(log.size);
      const ref = new MemoryMerkleTree();
      for (let i = 0; i < log.size; i++) ref.append(leaf(i));
      expect(hex(await log.root())).toBe(hex(ref.root()));
      // The recovered log keeps going, and old and new proofs verify.
      const size = log.size;
      expect(await log.append(leaf(size))).toBe(size);
      ref.append(leaf(size));
      verifyInclusion(hashLeaf(leaf(7)), 7, size + 1, await log.inclusionProof(7), ref.root());
      verifyConsistency(size, size + 1, await log.consistencyProof(size), ref.root(size), ref.root());
      await db.close();
    });
  });
});

describe('TransparencyLog past 2^47 leaves (review of the 32nd session)', () => {
  it('appends and proves where its cache cannot number the nodes (indexes from 2^47 up)', async () => {
    // A store that holds a log of 2^47 leaves: its size and the one perfect subtree covering it.
    const big = 2 ** 47;
    const store = new MemoryStore();
    const left = hashLeaf(enc.encode('the first 2^47 leaves'));
    store.data.set('size', enc.encode(String(big)));
    store.data.set(`node/2f/${(0).toString(16).padStart(16, '0')}`, left);
    const log = await TransparencyLog.open(store, { origin: ORIGIN });
    const appended = log.append(leaf(big));
    await log.flush();
    expect(await appended).toBe(big);
    expect(hex(await log.root())).toBe(hex(hashChildren(left, hashLeaf(leaf(big)))));
    expect((await log.inclusionProof(big)).map(hex)).toEqual([hex(left)]);
    // Read back by a log that has cached nothing: the leaf's node comes from the store.
    const reopened = await TransparencyLog.open(store, { origin: ORIGIN });
    expect((await reopened.consistencyProof(big, big + 1)).map(hex)).toEqual([hex(hashLeaf(leaf(big)))]);
    expect((await reopened.inclusionProof(big)).map(hex)).toEqual([hex(left)]);
  });
});

describe('TransparencyLog with a small cache answers as one with none (review of the 32nd session)', () => {
  it('property: roots, inclusion and consistency proofs are the same at any cacheSize, across evictions and reopening', async () => {
    const step = fc.oneof(
      fc.record({ append: fc.integer({ min: 1, max: 9 }) }),
      fc.record({ a: fc.nat(), b: fc.nat() }),
      fc.constant({ reopen: true as const }),
    );
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 0, max: 9 }),
        fc.integer({ min: 1, max: 5 }),
        fc.array(step, { minLength: 1, maxLength: 25 }),
        async (cacheSize, maxBatch, steps) => {
          const cachedStore = new MemoryStore();
          const plainStore = new MemoryStore();
          let cached = await TransparencyLog.open(cachedStore, { origin: ORIGIN, cacheSize, maxBatch });
          let plain = await TransparencyLog.open(plainStore, { origin: ORIGIN, cacheSize: 0, maxBatch });
          let n = 0;
          for (const s of steps) {
            if ('append' in s) {
              const leaves = Array.from({ length: s.append }, (_, i) => leaf(n + i));
              n += s.append;
              await Promise.all([
                ...leaves.map((l) => cached.append(l)),
                ...leaves.map((l) => plain.append(l)),
              ]);
            } else if ('reopen' in s) {
              cached = await TransparencyLog.open(cachedStore, { origin: ORIGIN, cacheSize, maxBatch });
              plain = await TransparencyLog.open(plainStore, { origin: ORIGIN, cacheSize: 0, maxBatch });
            } else if (n > 0) {
              const size = 1 + (s.b % n);
              const index = s.a % size;
              const first = 1 + (s.a % size);
              expect(hex(await cached.root(size))).toBe(hex(await plain.root(size)));
              expect((await cached.inclusionProof(index, size)).map(hex)).toEqual(
                (await plain.inclusionProof(index, size)).map(hex),
              );
              expect((await cached.consistencyProof(first, size)).map(hex)).toEqual(
                (await plain.consistencyProof(first, size)).map(hex),
              );
            }
          }
        },
      ),
      { numRuns: 150 },
    );
  });
});
