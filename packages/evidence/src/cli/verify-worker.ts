/** Worker thread for aaps-verify: verifies batches of bundle sources with one cached verifier. */
import { parentPort, workerData } from 'node:worker_threads';
import { type BundleVerifierOptions, createBundleVerifier } from '../bundle/verify.js';
import { withAggregationRecheck } from './aggregation-recheck.js';
import type { BundleSource } from './input.js';
import { verifySource } from './verify-pool.js';

const verifier = createBundleVerifier(
  withAggregationRecheck((workerData as { options: BundleVerifierOptions }).options),
);
parentPort?.on('message', (sources: BundleSource[]) => {
  parentPort?.postMessage(sources.map((s) => verifySource((b) => verifier.report(b), s)));
});
