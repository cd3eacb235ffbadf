/**
 * Worker thread for aaps-verify: told its setup once (the launcher may start it before the
 * arguments are checked), then verifies batches of bundle sources with one cached verifier, in
 * the order they arrive (a batch may wait for the aggregation re-check to load: lazy-verifier.ts).
 */
import { parentPort } from 'node:worker_threads';
import { LazyVerifier } from './lazy-verifier.js';
import type { Detail, WorkerMessage } from './verify-pool.js';

let verifier: { lazy: LazyVerifier; detail: Detail } | undefined;
let queue: Promise<void> = Promise.resolve();
parentPort?.on('message', (message: WorkerMessage) => {
  if ('setup' in message) {
    verifier = { lazy: new LazyVerifier(message.setup.options), detail: message.setup.detail };
    return;
  }
  const current = verifier;
  if (current === undefined) throw new Error('aaps-verify worker: a batch arrived before its setup');
  // One batch at a time, replies in order; a failure ends the worker (its pool reports it).
  queue = queue
    .then(() => current.lazy.verifyBatch(message, current.detail))
    .then((reply) => parentPort?.postMessage(reply))
    .catch((e: unknown) => {
      setImmediate(() => {
        throw e;
      });
    });
});
