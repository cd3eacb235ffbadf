/**
 * A verifier that loads mpc-core's aggregation re-check only when a bundle calls for it: a verify
 * worker's, and aaps-verify's for a single BUNDLE. The re-check (`withAggregationRecheck`) is
 * mpc-core's whole `verifyAggregation`: its groups, Pedersen commitments and range proofs, most of
 * the package by what it loads, which a bundle with no aggregation record never uses. Until it is
 * loaded, the verifier re-checks with a stand-in that marks the run and fails; a marked run is
 * made again once the re-check is loaded. The stand-in is called exactly where the re-check would
 * be, so every result is the one a verifier built with the re-check gives.
 */
import type { BundleVerifierOptions } from '../bundle/verify.js';
import {
  type BatchReply,
  type BatchRequest,
  type Detail,
  type TappedVerifier,
  tappedVerifier,
  toSource,
  type Verdict,
  verifySource,
} from './verify-pool.js';

export class LazyVerifier {
  readonly #options: BundleVerifierOptions;
  #verifier: TappedVerifier;
  /** `met` is set when a run reaches the stand-in; `undefined` once the re-check is loaded. */
  #pending: { met: boolean } | undefined;

  constructor(options: BundleVerifierOptions) {
    this.#options = options;
    if (options.verifyAggregation !== undefined) {
      this.#verifier = tappedVerifier(options);
      return;
    }
    const pending = { met: false };
    this.#pending = pending;
    this.#verifier = tappedVerifier({
      ...options,
      verifyAggregation: () => {
        pending.met = true;
        throw new Error('the aggregation re-check is not loaded yet');
      },
    });
  }

  /** Whether the re-check is in (loaded, or the caller's own). */
  get loaded(): boolean {
    return this.#pending === undefined;
  }

  /** `run` with this verifier; again, once the re-check is loaded, if `run` called for it. */
  async with<T>(run: (verifier: TappedVerifier) => T): Promise<T> {
    const result = run(this.#verifier);
    if (this.#pending === undefined || !this.#pending.met) return result;
    const { withAggregationRecheck } = await import('../bundle/aggregation-recheck.js');
    this.#verifier = tappedVerifier(withAggregationRecheck(this.#options));
    this.#pending = undefined;
    return run(this.#verifier);
  }

  /** Verify a batch as a worker received it, in order. */
  async verifyBatch(request: BatchRequest, detail: Detail): Promise<BatchReply> {
    const reply: Verdict[] = [];
    for (const wire of request.sources) {
      const source = toSource(wire, request.buffer);
      reply.push(await this.with((verifier) => verifySource(verifier, source, detail)));
    }
    return reply;
  }
}
