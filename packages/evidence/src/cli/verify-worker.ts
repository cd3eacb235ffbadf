/** Worker thread for aaps-verify: verifies batches of bundle sources with one cached verifier. */
import { parentPort, workerData } from 'node:worker_threads';
import { createBundleVerifier } from '../bundle/verify.js';
import { withAggregationRecheck } from './aggregation-recheck.js';
import { type BatchRequest, verifyBatch, type WorkerSetup } from './verify-pool.js';

const { options, detail } = workerData as WorkerSetup;
const verifier = createBundleVerifier(withAggregationRecheck(options));
const report = (bundle: unknown) => verifier.report(bundle);
parentPort?.on('message', (request: BatchRequest) => {
  parentPort?.postMessage(verifyBatch(report, request, detail));
});
