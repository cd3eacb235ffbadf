/**
 * Verifying many bundles: in this thread, or spread over worker threads (one verifier each, with
 * its own key and checkpoint caches), results returned in input order.
 */
import { Worker } from 'node:worker_threads';
import { type BundleReport, type BundleVerifierOptions, createBundleVerifier } from '../bundle/verify.js';
import { withAggregationRecheck } from './aggregation-recheck.js';
import { type BundleSource, loadSource } from './input.js';

export type Outcome = { name: string } & ({ report: BundleReport } | { unreadable: string });

const BATCH = 32;

/** Verify one source with `verify`; unreadable input becomes an outcome, not an exception. */
export function verifySource(report: (bundle: unknown) => BundleReport, source: BundleSource): Outcome {
  let value: unknown;
  try {
    value = loadSource(source);
  } catch (e) {
    return { name: source.name, unreadable: (e as Error).message };
  }
  return { name: source.name, report: report(value) };
}

/**
 * Verify `count` sources produced on demand by `read(i)`, calling `emit` in input order. With
 * `jobs > 1`, `workerUrl` names the worker module (verify-worker.js).
 */
export async function verifyAll(
  options: BundleVerifierOptions,
  count: number,
  read: (index: number) => BundleSource,
  emit: (outcome: Outcome) => void,
  jobs: number,
  workerUrl: URL,
): Promise<void> {
  if (jobs <= 1 || count < 2 * BATCH) {
    const verifier = createBundleVerifier(withAggregationRecheck(options));
    for (let i = 0; i < count; i++) emit(verifySource((b) => verifier.report(b), read(i)));
    return;
  }
  const results = new Map<number, Outcome[]>();
  let nextBatch = 0;
  let nextEmit = 0;
  const batches = Math.ceil(count / BATCH);
  const flush = () => {
    for (let r = results.get(nextEmit); r !== undefined; r = results.get(nextEmit)) {
      for (const o of r) emit(o);
      results.delete(nextEmit++);
    }
  };
  const workers = Array.from(
    { length: Math.min(jobs, batches) },
    () => new Worker(workerUrl, { workerData: { options } }),
  );
  try {
    await Promise.all(
      workers.map(
        (worker) =>
          new Promise<void>((resolve, reject) => {
            let current = -1;
            let busy = false;
            const dispatch = () => {
              if (nextBatch >= batches) {
                resolve();
                return;
              }
              busy = true;
              current = nextBatch++;
              const sources: BundleSource[] = [];
              for (let i = current * BATCH; i < Math.min(count, (current + 1) * BATCH); i++)
                sources.push(read(i));
              worker.postMessage(sources);
            };
            worker.on('message', (outcomes: Outcome[]) => {
              busy = false;
              results.set(current, outcomes);
              flush();
              dispatch();
            });
            worker.on('error', reject);
            worker.on('exit', (code) => {
              if (busy) reject(new Error(`a verify worker exited with ${code} mid-batch`));
            });
            dispatch();
          }),
      ),
    );
  } finally {
    await Promise.all(workers.map((w) => w.terminate()));
  }
  flush();
}
