/**
 * Verifying a stream of JSON bundles as it arrives (`aaps-verify -`): each bundle is verified once
 * its last byte is read, not once the writer closes the stream, and memory stays bounded however
 * long the stream is (reading pauses while too much waits to be verified).
 *
 * A short stream is verified in this thread. Once {@link MIN_FOR_WORKERS} bundles (or the
 * high-water mark's bytes) wait, `jobs` worker threads verify and this thread only reads, splits and hands out batches: it never blocks
 * the reading with a batch of its own. A worker with nothing to do gets what has arrived at once
 * (a live stream's bundles are not held back to fill a batch); a second batch is queued behind it
 * only when full. In this thread, bundles are verified as each chunk arrives (`--jobs 1`), or,
 * before workers start, once the stream has been quiet for {@link QUIET_MS}.
 */
import type { Worker } from 'node:worker_threads';
import type { BundleVerifierOptions } from '../bundle/verify.js';
import { type BundleSource, MAX_BUNDLE_BYTES, tooLarge } from './input.js';
import { JsonStreamSplitter, type StreamItem } from './json-stream.js';
import { mainVerifier } from './main-verifier.js';
import {
  type Emit,
  enlist,
  InOrder,
  MAX_BATCH,
  MIN_FOR_WORKERS,
  nextBatchSize,
  type TappedVerifier,
  type VerifyAllOptions,
  verifyHere,
  WorkerLane,
} from './verify-pool.js';

/** The name of the `n`th item of a stream (from 1): `stdin#n`. */
export function streamItemName(n: number): string {
  return `stdin#${n}`;
}

/** An item's cost against the high-water mark: its bytes, and {@link ITEM_BYTES} for holding it. */
function sizeOf(source: BundleSource): number {
  return ('bytes' in source ? source.bytes.length : 0) + ITEM_BYTES;
}

/** Before workers start, bundles that arrived are verified here once no byte came for this long. */
export const QUIET_MS = 10;
/** Reading pauses while this many bytes of split bundles wait for a thread, and resumes below half. */
export const HIGH_WATER_BYTES = 16 * 1024 * 1024;

/** How a stream ended: how many items it held, and why reading stopped early, if it did. */
export interface StreamEnd {
  count: number;
  /** The error reading the stream failed with (what was read before it is verified). */
  readError?: unknown;
}

export interface VerifyStreamOptions extends Omit<VerifyAllOptions, 'verifier'> {
  /** This thread's verifier (default: {@link mainVerifier} for `options`). */
  verifier?: TappedVerifier;
  /** Reading pauses while this many bytes of split bundles wait (default {@link HIGH_WATER_BYTES}). */
  highWaterBytes?: number;
  /**
   * Aborted when the run should end (its output is gone): as `stop()`, and it also ends a wait for
   * input that may never come (a live stream whose writer is silent).
   */
  signal?: AbortSignal;
}

/** What an item costs against the high-water mark beyond its bytes (so items with none count too). */
const ITEM_BYTES = 64;

/**
 * Verify the JSON bundles of `chunks` as they arrive, calling `emit` in stream order with the
 * index of each (`null` for a valid bundle in `brief` detail); items are named `stdin#N`.
 * `started` workers are used if the stream is long enough, and all are terminated by the end.
 */
export async function verifyStream(
  options: BundleVerifierOptions,
  chunks: AsyncIterable<Uint8Array>,
  emit: Emit,
  {
    jobs,
    detail = 'full',
    started = [],
    verifier: given,
    stop: stopAsked = () => false,
    highWaterBytes = HIGH_WATER_BYTES,
    signal,
  }: VerifyStreamOptions,
): Promise<StreamEnd> {
  const verifier = given ?? (await mainVerifier(options));
  const stop = () => stopAsked() || signal?.aborted === true;
  const splitter = new JsonStreamSplitter(MAX_BUNDLE_BYTES, tooLarge);
  /** Split bundles no thread has yet, oldest first (from `head`), and their bytes. */
  const queue: BundleSource[] = [];
  let head = 0;
  let queuedBytes = 0;
  let count = 0;
  let ended = false;
  let failure: unknown;
  const order = new InOrder(emit);
  /** Where each batch handed to a worker starts in the stream. */
  const bases: number[] = [];
  let lanes: WorkerLane[] | undefined;
  let workers: Worker[] = [];
  let idle: Worker[] = [...started];

  let wake: () => void = () => {};
  let quiet: ReturnType<typeof setTimeout> | undefined;

  const add = (items: StreamItem[]) => {
    for (const item of items) {
      const name = streamItemName(++count);
      if ('error' in item) queue.push({ name, error: item.error });
      else queue.push({ name, bytes: item.bytes });
      queuedBytes += sizeOf(queue[queue.length - 1]!);
    }
  };
  const takeQueued = (max: number): BundleSource[] => {
    const end = Math.min(queue.length, head + max);
    const out = queue.slice(head, end);
    head = end;
    for (const s of out) queuedBytes -= sizeOf(s);
    if (head === queue.length) {
      queue.length = 0;
      head = 0;
    }
    return out;
  };
  const waiting = () => queue.length - head;

  /** Verify what waits in this thread (before workers start, or with `--jobs 1`). */
  const verifyWaiting = () => {
    const base = count - waiting();
    let i = base;
    verifyHere(verifier, takeQueued(waiting()), detail, (v) => emit(v.outcome, i++, v.checkpoint), stop);
  };

  const startLanes = () => {
    workers = enlist(idle, jobs, { options, detail });
    idle = [];
    lanes = workers.map(
      (worker) =>
        new WorkerLane(worker, (lane, b, reply) => {
          order.put(b, bases[b]!, reply);
          pump(lane);
        }),
    );
    for (const lane of lanes)
      lane.ended.catch((e) => {
        failure ??= e;
        wake();
      });
  };

  /** Hand `lane` what it may take now; close it once the stream is over and it holds nothing. */
  const pump = (lane: WorkerLane) => {
    if (stop()) takeQueued(waiting());
    while (lane.held.length < 2 && waiting() > 0) {
      // A second batch waits behind the first only when full (or at the end, sized to share the rest).
      if (lane.held.length > 0 && !ended && waiting() < MAX_BATCH) break;
      const size = ended ? nextBatchSize(waiting(), jobs) : MAX_BATCH;
      bases.push(count - waiting());
      lane.send(bases.length - 1, takeQueued(size));
    }
    if (ended && waiting() === 0 && lane.held.length === 0) lane.close();
    if (queuedBytes < highWaterBytes / 2) wake();
  };

  /** Give out what has arrived: to workers, or here. */
  const dispatch = () => {
    if (lanes === undefined) {
      // Many bundles, or few large ones (as many bytes as reading may run ahead): a long stream.
      if (jobs > 1 && (waiting() >= MIN_FOR_WORKERS || queuedBytes >= highWaterBytes)) startLanes();
      else if (jobs <= 1 || ended) verifyWaiting();
      else if (waiting() > 0) {
        clearTimeout(quiet);
        quiet = setTimeout(verifyWaiting, QUIET_MS);
      }
    }
    // Least loaded first, so a live stream's bundles go to an idle worker.
    if (lanes !== undefined)
      for (const lane of [...lanes].sort((a, b) => a.held.length - b.held.length)) pump(lane);
  };

  const iterator = chunks[Symbol.asyncIterator]();
  /** Settles once `signal` aborts: a pending read is then left, not awaited. */
  const aborted = new Promise<'aborted'>((resolve) => {
    if (signal?.aborted === true) resolve('aborted');
    signal?.addEventListener(
      'abort',
      () => {
        resolve('aborted');
        wake();
      },
      { once: true },
    );
  });
  let readError: unknown;
  /** A read was left pending when the run was aborted. */
  let abandoned = false;
  try {
    for (;;) {
      while (failure === undefined && !stop() && queuedBytes >= highWaterBytes)
        await new Promise<void>((resolve) => {
          wake = resolve;
        });
      if (failure !== undefined || stop()) break;
      let next: IteratorResult<Uint8Array> | 'aborted';
      const reading = iterator.next();
      try {
        next = await Promise.race([reading, aborted]);
      } catch (e) {
        // A read that fails once the run was told to stop is part of stopping, not a read error.
        if (!stop()) readError = e;
        break;
      }
      if (next === 'aborted') {
        // The read may never finish (a silent writer): leave it, and let it fail quietly. (The
        // caller releases the stream: an iterator's return would wait for that read.)
        reading.catch(() => {});
        abandoned = true;
        break;
      }
      clearTimeout(quiet);
      if (next.done) {
        add(splitter.end());
        break;
      }
      add(splitter.push(next.value));
      dispatch();
    }
    if (!abandoned && readError === undefined && (failure !== undefined || stop())) await iterator.return?.();
    clearTimeout(quiet);
    ended = true;
    dispatch();
    if (lanes !== undefined) await Promise.all(lanes.map((lane) => lane.ended));
  } finally {
    clearTimeout(quiet);
    await Promise.all([...workers, ...idle].map((w) => w.terminate()));
  }
  return readError === undefined ? { count } : { count, readError };
}
