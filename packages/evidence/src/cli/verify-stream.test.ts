/**
 * `aaps-verify -` verifies a stream as it arrives: a bundle is verified before the stream's next
 * bytes are even produced, in this thread and on workers; reading pauses while too much waits;
 * a read error or a closed output ends the run with what was verified.
 */
import { Worker } from 'node:worker_threads';
import { beforeAll, describe, expect, it } from 'vitest';
import { DIST, ensureBuilt } from '../test-helpers/build-dist.js';
import { makeLoggedBundles } from '../test-helpers/fixtures.js';
import type { Outcome, WorkerSetup } from './verify-pool.js';
import { MIN_FOR_WORKERS, setUpWorkers } from './verify-pool.js';
import { verifyStream } from './verify-stream.js';

let texts: string[];
let options: { groupPublicKey: Uint8Array };

beforeAll(async () => {
  ensureBuilt();
  const fx = await makeLoggedBundles(4);
  options = { groupPublicKey: fx.group.publicKey };
  // Valid bundles, and an invalid one (its signature's last byte changed) every fifth.
  const valid = fx.bundles.map((b) => JSON.stringify(b));
  const bad = structuredClone(fx.bundles[0]!);
  const sig = Buffer.from(bad.dsseEnvelope.signatures[0]!.sig, 'base64');
  sig[sig.length - 1]! ^= 1;
  bad.dsseEnvelope.signatures[0]!.sig = sig.toString('base64');
  texts = [...valid, JSON.stringify(bad)];
}, 60_000);

/** The `i`th bundle of a stream: the fixtures in turn. */
const nth = (i: number) => texts[i % texts.length]!;
const invalidAt = (i: number) => i % texts.length === texts.length - 1;

/** Workers from the built package (the source tree has no `.js` worker to start). */
function builtWorkers(count: number, setup: WorkerSetup): Worker[] {
  const workers = Array.from({ length: count }, () => new Worker(`${DIST}cli/verify-worker.js`));
  setUpWorkers(workers, setup);
  return workers;
}

/**
 * A stream of `total` bundles, `per` to a chunk, each chunk produced only once `ready(sent)`
 * holds (sent: bundles produced so far); records how many bytes were produced.
 */
function stream(total: number, per: number, ready: (sent: number) => boolean | Promise<boolean>) {
  const state = { sent: 0, bytes: 0, closed: false };
  async function* chunks(): AsyncGenerator<Uint8Array> {
    try {
      while (state.sent < total) {
        for (let tries = 0; !(await ready(state.sent)); tries++) {
          if (tries > 2000) throw new Error(`stream stalled after ${state.sent} bundles: never verified`);
          await new Promise((r) => setTimeout(r, 5));
        }
        const n = Math.min(per, total - state.sent);
        const chunk = Buffer.from(Array.from({ length: n }, (_, k) => `${nth(state.sent + k)}\n`).join(''));
        state.sent += n;
        state.bytes += chunk.length;
        yield chunk;
      }
    } finally {
      state.closed = true;
    }
  }
  return { state, chunks: chunks() };
}

/** What was emitted: each index once, in order, valid (`null` in brief detail) or its failed check. */
function collector() {
  const seen: Array<string | null> = [];
  const emit = (o: Outcome | null, index: number) => {
    expect(index).toBe(seen.length);
    seen.push(o === null ? null : 'report' in o ? (o.report.failure?.check ?? 'valid') : o.unreadable);
  };
  return { seen, emit };
}

const expected = (n: number) => Array.from({ length: n }, (_, i) => (invalidAt(i) ? 'dsse.signature' : null));

describe('verifyStream', () => {
  it('verifies each bundle before the next is produced, in this thread (--jobs 1 and a short stream)', async () => {
    for (const jobs of [1, 2]) {
      const { seen, emit } = collector();
      // The next bundle comes only once every one before it has been verified.
      const { chunks } = stream(12, 1, (sent) => seen.length === sent);
      const end = await verifyStream(options, chunks, emit, { jobs, detail: 'brief' });
      expect(end).toEqual({ count: 12 });
      expect(seen).toEqual(expected(12));
    }
  });

  it('verifies on workers as the stream arrives, in order', async () => {
    const total = MIN_FOR_WORKERS + 40;
    const { seen, emit } = collector();
    // The first chunk starts the workers; every later one waits until all before it are verified.
    const { chunks } = stream(total, MIN_FOR_WORKERS, (sent) => seen.length === sent);
    const started = builtWorkers(2, { options, detail: 'brief' });
    const end = await verifyStream(options, chunks, emit, { jobs: 2, detail: 'brief', started });
    expect(end).toEqual({ count: total });
    expect(seen).toEqual(expected(total));
  }, 60_000);

  it('stops reading at the high-water mark while the workers hold their batches', async () => {
    const total = 1500;
    const bundleBytes = Math.max(...texts.map((t) => t.length + 1));
    const highWaterBytes = 100 * bundleBytes;
    const { chunks, state } = stream(total, 8, () => true);
    // Workers that take batches and never answer: only the high-water mark stops the reading.
    const stuck = Array.from(
      { length: 2 },
      () => new Worker("require('node:worker_threads').parentPort.on('message', () => {})", { eval: true }),
    );
    const run = verifyStream(options, chunks, () => {}, {
      jobs: 2,
      detail: 'brief',
      started: stuck,
      highWaterBytes,
    });
    run.catch(() => {});
    // Wait until the stream is no longer read from (or is read whole).
    for (let last = -1; state.bytes !== last && state.sent < total; ) {
      last = state.bytes;
      await new Promise((r) => setTimeout(r, 100));
    }
    // Read: at most the high-water mark, one chunk past it, and the two batches each worker holds.
    expect(state.sent).toBeLessThan(total);
    expect(state.bytes).toBeLessThanOrEqual(highWaterBytes + 8 * bundleBytes + 2 * 2 * 64 * bundleBytes);
    expect(state.bytes).toBeGreaterThanOrEqual(highWaterBytes);
    // A worker that ends with batches unanswered fails the run (it does not wait forever).
    await Promise.all(stuck.map((w) => w.terminate()));
    await expect(run).rejects.toThrow(/exited/);
  }, 60_000);

  it('counts unreadable items against the high-water mark too (a stream of stray lines)', async () => {
    const highWaterBytes = 64 * 1024;
    const perChunk = 100;
    const state = { items: 0 };
    async function* stray(): AsyncGenerator<Uint8Array> {
      for (let k = 0; k < 500; k++) {
        state.items += perChunk;
        yield Buffer.from('x\n'.repeat(perChunk));
      }
    }
    const stuck = Array.from(
      { length: 2 },
      () => new Worker("require('node:worker_threads').parentPort.on('message', () => {})", { eval: true }),
    );
    const run = verifyStream(options, stray(), () => {}, {
      jobs: 2,
      detail: 'brief',
      started: stuck,
      highWaterBytes,
    });
    run.catch(() => {});
    for (let last = -1; state.items !== last && state.items < 50_000; ) {
      last = state.items;
      await new Promise((r) => setTimeout(r, 100));
    }
    // Each item costs at least 64 bytes of the mark: reading stops after about a thousand of them
    // (and the batches the workers hold), not at the end of the stream.
    expect(state.items).toBeLessThan(highWaterBytes / 64 + 2 * perChunk + 2 * 2 * 64);
    await Promise.all(stuck.map((w) => w.terminate()));
    await expect(run).rejects.toThrow(/exited/);
  }, 60_000);

  it('ends with what was read when reading fails, and stops reading once told to stop', async () => {
    async function* failing(): AsyncGenerator<Uint8Array> {
      yield Buffer.from(`${nth(0)}\n${nth(1)}\n{"cut`);
      throw Object.assign(new Error('read failed'), { code: 'EIO' });
    }
    const { seen, emit } = collector();
    const end = await verifyStream(options, failing(), emit, { jobs: 1, detail: 'brief' });
    expect(end.count).toBe(2);
    expect((end.readError as NodeJS.ErrnoException).code).toBe('EIO');
    expect(seen).toEqual([null, null]);

    const stopping = collector();
    const { chunks, state } = stream(1000, 1, () => true);
    await verifyStream(options, chunks, stopping.emit, {
      jobs: 1,
      detail: 'brief',
      stop: () => stopping.seen.length >= 3,
    });
    expect(stopping.seen).toHaveLength(3);
    expect(state.closed).toBe(true);
    expect(state.sent).toBeLessThan(10);
  });
});
