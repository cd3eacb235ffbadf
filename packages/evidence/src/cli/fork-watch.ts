/**
 * Finding a fork across the bundles of one run (`aaps-verify DIR` or `-`): two checkpoints of one
 * origin and one tree size with different roots, each signed by the log key, prove that the log
 * showed two histories. Each bundle's own checks cannot see this; the run can.
 *
 * Each verifying thread taps its verifier for the checkpoint of every bundle ({@link CheckpointTap})
 * and sends it back with the verdict; the main thread, in input order, keeps the first root seen
 * per (origin, size) ({@link ForkWatch}) and fails `log.consistency` for a later bundle whose
 * checkpoint has another. Input order makes the verdicts the same for every `--jobs`. Memory is one
 * entry per distinct (origin, size). Checkpoints of different sizes are not compared: bundles carry
 * inclusion proofs only, and a consistency proof comes with `--checkpoint`.
 */
import type { BundleReport, CheckResult, VerifierObserver } from '../bundle/verify.js';
import type { SignedCheckpoint } from '../checkpoint.js';
import { toHex } from '../encoding.js';
import type { Outcome } from './verify-pool.js';

/** A checkpoint that verified, as a thread reports it: its origin, tree size and root (hex). */
export interface SeenCheckpoint {
  origin: string;
  size: number;
  root: string;
}

/**
 * The observer of one verifier: `last` is the checkpoint that verified in the latest bundle (the
 * caller clears it before each). One {@link SeenCheckpoint} per cached note, so bundles under one
 * checkpoint share one object, which a worker's reply then carries once (structured cloning keeps
 * shared references).
 */
export class CheckpointTap implements VerifierObserver {
  last: SeenCheckpoint | undefined;
  readonly #seen = new WeakMap<SignedCheckpoint, SeenCheckpoint>();

  readonly checkpoint = (cp: SignedCheckpoint): void => {
    let seen = this.#seen.get(cp);
    if (seen === undefined) {
      seen = { origin: cp.origin, size: cp.size, root: toHex(cp.rootHash) };
      this.#seen.set(cp, seen);
    }
    this.last = seen;
  };
}

/** Where a root was first seen for its origin and size. */
interface FirstSeen {
  root: string;
  bundle: string;
}

/** One root per (origin, size), the first in input order; a later, different root is a fork. */
export class ForkWatch {
  readonly #first = new Map<string, FirstSeen>();
  /** The checkpoint judged last and its earlier sighting (bundles in a row mostly share one). */
  #last: { seen: SeenCheckpoint; conflict: FirstSeen | undefined } | undefined;

  /**
   * The outcome of bundle `name`, whose checkpoint `seen` verified: as it was, or, when an earlier
   * bundle holds a checkpoint of the same origin and size with another root and this bundle was
   * valid so far, invalid at `log.consistency` naming both bundles. A bundle already invalid keeps
   * its first failure (the run fails either way).
   */
  judge(outcome: Outcome | null, name: string, seen: SeenCheckpoint): Outcome | null {
    const conflict = this.#conflictOf(name, seen);
    if (conflict === undefined) return outcome;
    if (outcome !== null && !('report' in outcome && outcome.report.valid)) return outcome;
    const message = `a fork: ${conflict.bundle} holds a checkpoint of ${seen.origin} at tree size ${seen.size} with root ${conflict.root}, this one with root ${seen.root}`;
    const details = {
      origin: seen.origin,
      size: seen.size,
      root: seen.root,
      other: { bundle: conflict.bundle, root: conflict.root },
    };
    return { name, report: forkReport(outcome?.report, message, details) };
  }

  #conflictOf(name: string, seen: SeenCheckpoint): FirstSeen | undefined {
    if (this.#last?.seen === seen) return this.#last.conflict;
    const key = `${seen.size}\n${seen.origin}`;
    const first = this.#first.get(key);
    if (first === undefined) this.#first.set(key, { root: seen.root, bundle: name });
    const conflict = first !== undefined && first.root !== seen.root ? first : undefined;
    this.#last = { seen, conflict };
    return conflict;
  }
}

/**
 * A valid bundle's report with `log.consistency` failed. `valid` is its full report (`--json`), or
 * `undefined` when only the verdict was asked for: the report then holds that one check.
 */
function forkReport(
  valid: BundleReport | undefined,
  message: string,
  details: Readonly<Record<string, unknown>>,
): BundleReport {
  const failed: CheckResult = { check: 'log.consistency', status: 'fail', message };
  const failure = { check: failed.check, message, details };
  if (valid === undefined) return { valid: false, checks: [failed], failure };
  const checks = valid.checks.map((c) => (c.check === failed.check ? failed : c));
  // An invalid bundle's Statement vouches for nothing: no outcome is reported from it.
  const { outcome: _unvouched, ...rest } = valid;
  return { ...rest, valid: false, checks, failure };
}
