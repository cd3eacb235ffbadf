/**
 * The verifier aaps-verify's main thread uses for a directory or a stream: aggregation records
 * re-checked in full by mpc-core (`withAggregationRecheck`), loaded before the first bundle. (A
 * single BUNDLE, and each worker thread, load the re-check only if a bundle calls for it:
 * lazy-verifier.ts.)
 */
import type { BundleVerifierOptions } from '../bundle/verify.js';
import { type TappedVerifier, tappedVerifier } from './verify-pool.js';

/** A tapped verifier for `options` that re-checks aggregation records, as aaps-verify runs it. */
export async function mainVerifier(options: BundleVerifierOptions): Promise<TappedVerifier> {
  const { withAggregationRecheck } = await import('../bundle/aggregation-recheck.js');
  return tappedVerifier(withAggregationRecheck(options));
}
