/**
 * Verifying many bundles: in this thread, or spread over worker threads (one verifier each, with
 * its own key and checkpoint caches), results returned in input order.
 *
 * The main thread only hands out batches: bytes are packed into one transferred buffer per batch
 * (no copy on the way), files are read by the worker that verifies them, and with `detail:
 * 'brief'` a valid bundle comes back as `null` rather than a report of every check. Each verdict
 * comes with the checkpoint that verified, if any, for the caller's fork watch (fork-watch.ts).
 */
import type { Worker } from 'node:worker_threads';
import {
  type BundleReport,
  type BundleVerifier,
  type BundleVerifierOptions,
  createBundleVerifier,
} from '../bundle/verify.js';
import { CheckpointTap, type SeenCheckpoint } from './fork-watch.js';
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

/** What one source came to: its outcome (`null`: valid, in `brief` detail) and its checkpoint, if it verified. */
export interface Verdict {
  outcome: Outcome | null;
  checkpoint?: SeenCheckpoint;
}

/** One verdict per source, in order. */
export type BatchReply = Verdict[];

/**
 * Called once per source, in input order: its outcome (`null`: valid, in `brief` detail), its
 * index, and the checkpoint that verified, if any.
 */
export type Emit = (outcome: Outcome | null, index: number, checkpoint?: SeenCheckpoint) => void;

/** A verifier and the tap that sees each checkpoint it verifies. */
export interface TappedVerifier {
  verifier: BundleVerifier;
  tap: CheckpointTap;
}

/**
 * A verifier for `options`, tapped. aaps-verify re-checks aggregation records: its main thread
 * passes options through `withAggregationRecheck` (main-verifier.ts), and a worker loads the
 * re-check when a record calls for it (lazy-verifier.ts). This module loads neither, so a worker
 * starts without mpc-core's protocol modules.
 */
export function tappedVerifier(options: BundleVerifierOptions): TappedVerifier {
  const tap = new CheckpointTap();
  return { verifier: createBundleVerifier(options, tap), tap };
}

export interface WorkerSetup {
  options: BundleVerifierOptions;
  detail: Detail;
}

/** What a worker is sent: its setup once, first; then batches. */
export type WorkerMessage = { setup: WorkerSetup } | BatchRequest;

/** Fewer bundles than this are verified in this thread: starting workers would cost more. */
export const MIN_FOR_WORKERS = 64;
export const MAX_BATCH = 64;
const MIN_BATCH = 8;

/**
 * Verify one source; unreadable input becomes an outcome, not an exception. In `brief` detail a
 * valid bundle is `null`, found by the verifier's `check` (which records nothing); only an
 * invalid one is verified again for its full report. (One `report` for every bundle measured
 * about 2% slower on a stream of valid bundles: the records cost more than the rare second run.)
 */
export function verifySource(
  { verifier, tap }: TappedVerifier,
  source: BundleSource,
  detail: Detail,
): Verdict {
  let value: unknown;
  try {
    value = loadSource(source);
  } catch (e) {
    if (e instanceof BundleFormatError)
      return { outcome: { name: source.name, report: bundleFormatReport(e) } };
    return { outcome: { name: source.name, unreadable: (e as Error).message } };
  }
  tap.last = undefined;
  const outcome: Outcome | null =
    detail === 'brief' && verifier.check(value)
      ? null
      : { name: source.name, report: verifier.report(value) };
  return tap.last === undefined ? { outcome } : { outcome, checkpoint: tap.last };
}

/** A source as a worker received it: a byte range becomes a view of the batch's buffer. */
export function toSource(wire: WireSource, buffer: ArrayBuffer): BundleSource {
  return 'at' in wire ? { name: wire.name, bytes: new Uint8Array(buffer, wire.at, wire.length) } : wire;
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

export interface VerifyAllOptions {
  /** Threads that verify: this one and `jobs - 1` workers. */
  jobs: number;
  detail?: Detail;
  /**
   * Workers started and set up earlier (spawned by the launcher, then {@link setUpWorkers}); they
   * are used if needed, always terminated.
   */
  started?: Worker[];
  /** This thread's verifier, built for `options` (aaps-verify's re-checks aggregation records: main-verifier.ts). */
  verifier: TappedVerifier;
  /**
   * Asked between bundles: once it returns true no more are handed out, and those in flight are
   * still emitted (the CLI stops when its output is gone).
   */
  stop?: () => boolean;
}

/** The sources to verify, read by index: a directory's files, known at once. */
export interface SourceList {
  count: number;
  read: (index: number) => BundleSource;
}

/** Verify `sources` in this thread, in order, until `stop()`. */
export function verifyHere(
  verifier: TappedVerifier,
  sources: Iterable<BundleSource>,
  detail: Detail,
  emit: (verdict: Verdict) => void,
  stop: () => boolean,
): void {
  for (const source of sources) {
    if (stop()) return;
    emit(verifySource(verifier, source, detail));
  }
}

/**
 * Outcomes put back in input order: batches are numbered as they are cut (batch `b` starting at
 * source `base`), and a batch is emitted once every batch before it has been.
 */
export class InOrder {
  readonly #emit: Emit;
  readonly #waiting = new Map<number, { base: number; reply: BatchReply }>();
  #next = 0;

  constructor(emit: Emit) {
    this.#emit = emit;
  }

  put(batch: number, base: number, reply: BatchReply): void {
    this.#waiting.set(batch, { base, reply });
    for (let r = this.#waiting.get(this.#next); r !== undefined; r = this.#waiting.get(this.#next)) {
      for (let k = 0; k < r.reply.length; k++) {
        const { outcome, checkpoint } = r.reply[k]!;
        this.#emit(outcome, r.base + k, checkpoint);
      }
      this.#waiting.delete(this.#next++);
    }
  }
}

/**
 * A verify worker and the batches it holds, oldest first (a worker replies in order). `ended`
 * rejects if the worker fails or exits before {@link WorkerLane.close}, and resolves on it.
 */
export class WorkerLane {
  readonly worker: Worker;
  /** Batch numbers sent and not yet answered, oldest first. */
  readonly held: number[] = [];
  readonly ended: Promise<void>;
  #close: () => void = () => {};
  #closed = false;

  constructor(worker: Worker, onReply: (lane: WorkerLane, batch: number, reply: BatchReply) => void) {
    this.worker = worker;
    this.ended = new Promise<void>((resolve, reject) => {
      this.#close = resolve;
      // A worker that ended before this lane listened (it may have been started long before).
      const early = workerEnded(worker);
      if (early !== undefined) reject(early);
      worker.on('message', (reply: BatchReply) => onReply(this, this.held.shift()!, reply));
      worker.on('error', reject);
      worker.on('exit', (code) => {
        if (!this.#closed) reject(new Error(`a verify worker exited with ${code} before its work was done`));
      });
    });
    // Failures are reported by whoever awaits `ended`; none is left unhandled meanwhile.
    this.ended.catch(() => {});
  }

  send(batch: number, sources: BundleSource[]): void {
    this.held.push(batch);
    const request = packBatch(sources);
    this.worker.postMessage(request, [request.buffer]);
  }

  /** No more batches will come: `ended` resolves (once the held ones are answered, by the caller's choice). */
  close(): void {
    this.#closed = true;
    this.#close();
  }
}

/** Start or reuse `wanted` workers, set up, and stop the rest of `started`. */
export function enlist(started: readonly Worker[], wanted: number, setup: WorkerSetup): Worker[] {
  const workers = started.slice(0, wanted);
  void Promise.all(started.slice(wanted).map((w) => w.terminate()));
  const spawned = spawnWorkers(wanted - workers.length);
  setUpWorkers(spawned, setup);
  workers.push(...spawned);
  return workers;
}

/**
 * Verify the sources of `list`, calling `emit` in input order (with `null` for a valid bundle in
 * `brief` detail), on `jobs` threads: this one and `jobs - 1` workers. This thread verifies
 * batches too, between handing batches out, so `jobs` threads verify and none only waits.
 */
export async function verifyAll(
  options: BundleVerifierOptions,
  list: SourceList,
  emit: Emit,
  { jobs, detail = 'full', started = [], verifier, stop = () => false }: VerifyAllOptions,
): Promise<void> {
  const { read, count } = list;
  if (jobs <= 1 || count < MIN_FOR_WORKERS) {
    const stopping = Promise.all(started.map((w) => w.terminate()));
    let i = 0;
    verifyHere(
      verifier,
      sourcesFrom(read, 0, count),
      detail,
      (v) => emit(v.outcome, i++, v.checkpoint),
      stop,
    );
    await stopping;
    return;
  }
  // Batch b covers sources [bounds[b], bounds[b + 1]); batches are cut as they are handed out.
  const bounds: number[] = [0];
  const take = (): number | undefined => {
    const start = bounds[bounds.length - 1]!;
    if (stop() || start >= count) return undefined;
    bounds.push(Math.min(count, start + nextBatchSize(count - start, jobs)));
    return bounds.length - 2;
  };
  const sourcesOf = (b: number): BundleSource[] => [...sourcesFrom(read, bounds[b]!, bounds[b + 1]!)];
  const order = new InOrder(emit);
  const dispatch = (lane: WorkerLane) => {
    const b = take();
    if (b !== undefined) lane.send(b, sourcesOf(b));
    else if (lane.held.length === 0) lane.close();
  };
  const workers = enlist(started, Math.min(jobs - 1, Math.floor(count / MIN_BATCH) - 1), { options, detail });
  const lanes = workers.map(
    (worker) =>
      new WorkerLane(worker, (lane, b, reply) => {
        order.put(b, bounds[b]!, reply);
        dispatch(lane);
      }),
  );
  try {
    // Two batches in flight per worker, so none waits while this thread verifies one.
    for (const lane of lanes) dispatch(lane);
    for (const lane of lanes) dispatch(lane);
    for (let b = take(); b !== undefined; b = take()) {
      order.put(
        b,
        bounds[b]!,
        sourcesOf(b).map((source) => verifySource(verifier, source, detail)),
      );
      // Let the workers' replies in before the next batch.
      await new Promise((resolve) => setImmediate(resolve));
    }
    // Workers with nothing left and nothing held are done (a failed one is reported here).
    for (const lane of lanes) if (lane.held.length === 0) lane.close();
    await Promise.all(lanes.map((lane) => lane.ended));
  } finally {
    await Promise.all(workers.map((w) => w.terminate()));
  }
}

function* sourcesFrom(read: (i: number) => BundleSource, from: number, to: number): Generator<BundleSource> {
  for (let i = from; i < to; i++) yield read(i);
}
