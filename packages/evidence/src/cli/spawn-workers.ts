/** Starting verify worker threads (Node built-ins only, so the launcher can use it first thing). */
import { Worker } from 'node:worker_threads';

/** The worker module, beside this one. */
const WORKER_URL = new URL('./verify-worker.js', import.meta.url);

/** Why a worker ended before it was done with, recorded from the moment it starts. */
const ended = new WeakMap<Worker, Error>();

/**
 * Start `count` verify workers; each loads the verifier and waits for its setup message. An error
 * or exit from the start on is recorded (see {@link workerEnded}), so one that happens before the
 * pool listens is neither lost nor a crash.
 */
export function spawnWorkers(count: number): Worker[] {
  return Array.from({ length: count }, () => {
    const worker = new Worker(WORKER_URL);
    worker.once('error', (error) => {
      if (!ended.has(worker)) ended.set(worker, error);
    });
    worker.once('exit', (code) => {
      if (!ended.has(worker)) ended.set(worker, new Error(`a verify worker exited with ${code}`));
    });
    return worker;
  });
}

/** How a worker from {@link spawnWorkers} ended, if it has. */
export function workerEnded(worker: Worker): Error | undefined {
  return ended.get(worker);
}
