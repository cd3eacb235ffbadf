/**
 * The full re-check of a bundle's aggregation record: mpc-core's `verifyAggregation` (opening,
 * commitments, range proofs against the circuit), applied to the record as the bundle carries it
 * (its JSON form, canonicalized). Without it a verifier checks the record only against the digest
 * the quorum signed and the approval cites. The circuit is pinned before the re-check runs: the
 * `aggregation` check accepts only a record embedding the shipped `weighted-risk` circuit
 * (aggregation-binding.ts, by digest), so the re-check is against that circuit.
 * `aaps-verify` always applies it; a library caller opts in with
 * `createBundleVerifier(withAggregationRecheck({ groupPublicKey }))`. (mpc-core's function takes
 * the record's JSON text, CBOR bytes or decoded form, not the bundle's JSON object: pass it
 * through this, not as is.)
 *
 * Looked up rather than imported, so that a verifier also runs against an mpc-core build that
 * does not export it (records are then only checked against their signed digest, and a report
 * says so). Applied where a verifier is created (the CLI's main thread and each worker), because
 * functions do not cross to worker threads.
 */
import * as core from '@aaps/mpc-core';
import { ValidationError } from '@aaps/mpc-core';
import type { JsonObject } from '../statement.js';
import type { BundleVerifierOptions } from './verify.js';

const recheck = (core as { verifyAggregation?: (record: string) => unknown }).verifyAggregation;

/** mpc-core's re-check of a record as a bundle carries it, or `undefined` if this build has none. */
export const aggregationRecheck: ((record: JsonObject) => unknown) | undefined =
  recheck === undefined ? undefined : (record) => recheck(core.canonicalize(record));

/** `options` with `verifyAggregation` set to mpc-core's re-check, unless the caller set one. */
export function withAggregationRecheck(options: BundleVerifierOptions): BundleVerifierOptions {
  if (typeof options !== 'object' || options === null) {
    throw new ValidationError('INVALID_ARGUMENT', 'options: expected an object with groupPublicKey', [
      'options',
    ]);
  }
  if (aggregationRecheck === undefined || options.verifyAggregation !== undefined) return options;
  return { ...options, verifyAggregation: aggregationRecheck };
}
