/** Starting verify worker threads (Node built-ins only, so the launcher can use it first thing). */
import { Worker } from 'node:worker_threads';

/** The worker module, beside this one. */
export const WORKER_URL = new URL('./verify-worker.js', import.meta.url);

/** Start `count` verify workers; each loads the verifier and waits for its setup message. */
export function spawnWorkers(count: number): Worker[] {
  return Array.from({ length: count }, () => new Worker(WORKER_URL));
}
