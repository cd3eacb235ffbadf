/**
 * Worker thread for aaps-verify: told its setup once (the launcher may start it before the
 * arguments are checked), then verifies batches of bundle sources with one cached verifier.
 */
import { parentPort } from 'node:worker_threads';
import {
  type BatchReply,
  type BatchRequest,
  tappedVerifier,
  verifyBatch,
  type WorkerMessage,
} from './verify-pool.js';

let verify: ((request: BatchRequest) => BatchReply) | undefined;
parentPort?.on('message', (message: WorkerMessage) => {
  if ('setup' in message) {
    const { options, detail } = message.setup;
    const verifier = tappedVerifier(options);
    verify = (request) => verifyBatch(verifier, request, detail);
    return;
  }
  if (verify === undefined) throw new Error('aaps-verify worker: a batch arrived before its setup');
  parentPort?.postMessage(verify(message));
});
