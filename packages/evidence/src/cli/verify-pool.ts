/**
 * Verifying many bundles: in this thread, or spread over worker threads (one verifier each, with
 * its own key and checkpoint caches), results returned in input order.
 *
 * The main thread only hands out batches: bytes are packed into one transferred buffer per batch
 * (no copy on the way), files are read by the worker that verifies them, and with `detail:
 * 'brief'` a valid bundle comes back as `null` rather than a report of every check.
 */
import type { Worker } from 'node:worker_threads';
import { withAggregationRecheck } from '../bundle/aggregation-recheck.js';
import {
  type BundleReport,
  type BundleVerifier,
  type BundleVerifierOptions,
  createBundleVerifier,
} from '../bundle/verify.js';
import { BundleFormatError, type BundleSource, bundleFormatReport, loadSource } from './input.js';
import { spawnWorkers, workerEnded } from './spawn-workers.js';

export type Outcome = { name: string } & ({ report: BundleReport } | { unreadable: string });

/** `full`: every outcome carries every check's status; `brief`: a valid bundle is reported as `null`. */
export type Detail = 'full' | 'brief';

/** A source as it crosses to a worker: bytes become a range of the batch's buffer. */
export type WireSource = { name: string } & (
  | { at: number; length: number }
  | { text: string }
  | { path: string }
  | { error: string }
);

export interface BatchRequest {
  sources: WireSource[];
  buffer: ArrayBuffer;
}

/** One entry per source, in order; `null` is a valid bundle in `brief` detail. */
export type BatchReply = Array<Outcome | null>;

export interface WorkerSetup {
  options: BundleVerifierOptions;
  detail: Detail;
}

/** What a worker is sent: its setup once, first; then batches. */
export type WorkerMessage = { setup: WorkerSetup } | BatchRequest;

/** Fewer bundles than this are verified in this thread: starting workers would cost more. */
const MIN_FOR_WORKERS = 64;
const MAX_BATCH = 64;
const MIN_BATCH = 8;

/**
 * Verify one source; unreadable input becomes an outcome, not an exception. In `brief` detail a
 * valid bundle is `null`, found by the verifier's `check` (which records nothing); only an
 * invalid one is verified again for its full report. (One `report` for every bundle measured
 * about 2% slower on a stream of valid bundles: the records cost more than the rare second run.)
 */
function verifySource(verifier: BundleVerifier, source: BundleSource, detail: Detail): Outcome | null {
  let value: unknown;
  try {
    value = loadSource(source);
  } catch (e) {
    if (e instanceof BundleFormatError) return { name: source.name, report: bundleFormatReport(e) };
    return { name: source.name, unreadable: (e as Error).message };
  }
  if (detail === 'brief' && verifier.check(value)) return null;
  return { name: source.name, report: verifier.report(value) };
}

/** Verify a batch as a worker received it. */
export function verifyBatch(verifier: BundleVerifier, request: BatchRequest, detail: Detail): BatchReply {
  return request.sources.map((wire) => {
    const source: BundleSource =
      'at' in wire ? { name: wire.name, bytes: new Uint8Array(request.buffer, wire.at, wire.length) } : wire;
    return verifySource(verifier, source, detail);
  });
}

/** Pack sources for a worker: every byte source is copied into one buffer that is transferred. */
function packBatch(sources: BundleSource[]): BatchRequest {
  let total = 0;
  for (const s of sources) if ('bytes' in s) total += s.bytes.length;
  const buffer = new ArrayBuffer(total);
  const bytes = new Uint8Array(buffer);
  let at = 0;
  const wire = sources.map((s): WireSource => {
    if (!('bytes' in s)) return s;
    bytes.set(s.bytes, at);
    const out = { name: s.name, at, length: s.bytes.length };
    at += s.bytes.length;
    return out;
  });
  return { sources: wire, buffer };
}

/**
 * The size of the next batch when `remaining` sources are left: large while there is much to do
 * (few messages), shrinking toward the end (guided scheduling), so no thread is left verifying a
 * full batch while the others have nothing.
 */
export function nextBatchSize(remaining: number, jobs: number): number {
  return Math.max(MIN_BATCH, Math.min(MAX_BATCH, Math.ceil(remaining / (jobs * 4))));
}

/** Tell started workers what to trust and how much to report (before any batch). */
export function setUpWorkers(workers: readonly Worker[], setup: WorkerSetup): void {
  const message: WorkerMessage = { setup };
  for (const w of workers) w.postMessage(message);
}

/** Start `count` verify workers, set up; they load while input is read. */
export function startWorkers(setup: WorkerSetup, count: number): Worker[] {
  const workers = spawnWorkers(count);
  setUpWorkers(workers, setup);
  return workers;
}

export interface VerifyAllOptions {
  /** Threads that verify: this one and `jobs - 1` workers. */
  jobs: number;
  detail?: Detail;
  /**
   * Workers started and set up earlier ({@link startWorkers}, or spawned by the launcher and then
   * {@link setUpWorkers}); they are used if needed, always terminated.
   */
  started?: Worker[];
  /** This thread's verifier, if the caller has built one for `options` (default: a new one). */
  verifier?: BundleVerifier;
  /**
   * Asked between bundles: once it returns true no more are handed out, and those in flight are
   * still emitted (the CLI stops when its output is gone).
   */
  stop?: () => boolean;
}

/**
 * The sources to verify, read by index. Either all are known (`count`), or only the first `head`
 * are, and `settle()` finds the rest and returns the total (a stream being split: workers get
 * their first batches before the rest of the input is split).
 */
export type SourceList = { read: (index: number) => BundleSource } & (
  | { count: number }
  | { head: number; settle: () => number }
);

/** How many sources a stream should split before workers start: their first two batches each. */
export const STREAM_HEAD = 4 * MAX_BATCH;

/**
 * Verify the sources of `list`, calling `emit` in input order (with `null` for a valid bundle in
 * `brief` detail), on `jobs` threads: this one and `jobs - 1` workers. This thread verifies
 * batches too, between handing batches out, so `jobs` threads verify and none only waits.
 */
export async function verifyAll(
  options: BundleVerifierOptions,
  list: SourceList,
  emit: (outcome: Outcome | null, index: number) => void,
  {
    jobs,
    detail = 'full',
    started = [],
    verifier = createBundleVerifier(withAggregationRecheck(options)),
    stop = () => false,
  }: VerifyAllOptions,
): Promise<void> {
  const { read } = list;
  // The total, once known; until then batches are cut only from the first `head` sources.
  let count: number | undefined = 'count' in list ? list.count : undefined;
  if ('head' in list && (jobs <= 1 || list.head < STREAM_HEAD)) count = list.settle();
  const limitOf = () => count ?? ('head' in list ? list.head : 0);
  const limit = limitOf();
  if (jobs <= 1 || limit < MIN_FOR_WORKERS) {
    const stopping = Promise.all(started.map((w) => w.terminate()));
    for (let i = 0; i < limit && !stop(); i++) emit(verifySource(verifier, read(i), detail), i);
    await stopping;
    return;
  }
  // Batch b covers sources [bounds[b][0], bounds[b][1]); batches are cut as they are handed out.
  const bounds: [number, number][] = [];
  const take = (): number | undefined => {
    const start = bounds.length === 0 ? 0 : bounds[bounds.length - 1]![1];
    const known = stop() ? start : limitOf();
    if (start >= known) return undefined;
    const size = count === undefined ? MAX_BATCH : nextBatchSize(count - start, jobs);
    bounds.push([start, Math.min(known, start + size)]);
    return bounds.length - 1;
  };
  const results = new Map<number, BatchReply>();
  let nextEmit = 0;
  const flush = () => {
    for (let r = results.get(nextEmit); r !== undefined; r = results.get(nextEmit)) {
      const base = bounds[nextEmit]![0];
      for (let k = 0; k < r.length; k++) emit(r[k]!, base + k);
      results.delete(nextEmit++);
    }
  };
  const sourcesOf = (b: number): BundleSource[] => {
    const out: BundleSource[] = [];
    const [start, end] = bounds[b]!;
    for (let i = start; i < end; i++) out.push(read(i));
    return out;
  };
  const wanted = Math.min(jobs - 1, Math.floor(limit / MIN_BATCH) - 1);
  const workers = started.slice(0, wanted);
  const spare = started.slice(wanted);
  workers.push(...startWorkers({ options, detail }, wanted - workers.length));
  void Promise.all(spare.map((w) => w.terminate()));
  const runs = workers.map((worker) => {
    // Batches this worker holds, oldest first; it replies in order.
    const inFlight: number[] = [];
    let done: () => void = () => {};
    let over = false;
    const finished = new Promise<void>((resolve, reject) => {
      done = () => {
        over = true;
        resolve();
      };
      // A worker that ended before this pool listened (it may have been started long before).
      const early = workerEnded(worker);
      if (early !== undefined) reject(early);
      worker.on('message', (reply: BatchReply) => {
        results.set(inFlight.shift()!, reply);
        flush();
        dispatch();
      });
      worker.on('error', reject);
      worker.on('exit', (code) => {
        if (!over) reject(new Error(`a verify worker exited with ${code} before its work was done`));
      });
    });
    const dispatch = () => {
      const b = take();
      if (b === undefined) {
        // Out of batches: the end only once the total is known.
        if (count !== undefined && inFlight.length === 0) done();
        return;
      }
      inFlight.push(b);
      const request = packBatch(sourcesOf(b));
      worker.postMessage(request, [request.buffer]);
    };
    /** Up to two batches in flight (or, with none left, the end). */
    const topUp = () => {
      if (inFlight.length === 0) dispatch();
      if (inFlight.length === 1) dispatch();
    };
    return { dispatch, finished, topUp };
  });
  try {
    // Two batches in flight per worker, so none waits while this thread verifies one.
    for (const r of runs) r.dispatch();
    for (const r of runs) r.dispatch();
    if ('settle' in list && count === undefined) {
      // The workers are busy: now find the rest of the stream, and top up any worker the head
      // left short (or end it, if there is nothing more).
      count = list.settle();
      for (const r of runs) r.topUp();
    }
    // A failed worker is reported by Promise.all below, once this thread's batches are done.
    for (const r of runs) r.finished.catch(() => {});
    for (let b = take(); b !== undefined; b = take()) {
      results.set(
        b,
        sourcesOf(b).map((source) => verifySource(verifier, source, detail)),
      );
      flush();
      // Let the workers' replies in before the next batch.
      await new Promise((resolve) => setImmediate(resolve));
    }
    await Promise.all(runs.map((r) => r.finished));
  } finally {
    await Promise.all(workers.map((w) => w.terminate()));
  }
  flush();
}
