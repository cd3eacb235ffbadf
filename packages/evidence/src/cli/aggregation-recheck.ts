/**
 * mpc-core's offline re-check of aggregation records, looked up rather than imported so that the
 * CLI also runs against an mpc-core build that does not export it (records are then only checked
 * against their signed digest, and `--json` says so). Applied where a verifier is created — in the
 * main thread and in each worker — because functions do not cross to worker threads.
 */
import * as core from '@aaps/mpc-core';
import type { BundleVerifierOptions } from '../bundle/verify.js';

const recheck = (core as { verifyAggregation?: (record: string) => unknown }).verifyAggregation;

export function withAggregationRecheck(options: BundleVerifierOptions): BundleVerifierOptions {
  if (recheck === undefined || options.verifyAggregation !== undefined) return options;
  return { ...options, verifyAggregation: (record) => recheck(core.canonicalize(record)) };
}
