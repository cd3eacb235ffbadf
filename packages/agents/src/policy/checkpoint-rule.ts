/**
 * Whether a party signs a transparency-log checkpoint (`docs/evidence.md`, "What the parties
 * check"): pure, and the one place the rule is written. The party node applies it when it claims a
 * checkpoint (`PartyStore.claimCheckpoint`, one claim at a time) and the in-process coordinator for
 * each of its parties.
 *
 * As a C2SP witness: with nothing signed for the origin, the first checkpoint is signed (trust on
 * first use); a smaller tree size is refused (`checkpoint.rollback`); at the same size only the same
 * root (`checkpoint.fork`); a larger tree needs a consistency proof from the size last signed
 * (`checkpoint.behind` without one) that shows the last tree is its prefix (`checkpoint.inconsistent`
 * if not). A refusal names the size last signed: a consistency proof from there lets it sign next.
 */

import { verifyConsistency } from '@aaps/evidence';
import { bytesToHex, hexToBytes, VerificationError } from '@aaps/mpc-core';

/** The last checkpoint a party signed for an origin. */
export interface WitnessedCheckpoint {
  size: number;
  /** Hex. */
  rootHex: string;
}

/** An RFC 9162 consistency proof from the tree of `from` leaves to the proposed tree. */
export interface CheckpointProof {
  from: number;
  /** 32 bytes each. */
  hashes: readonly Uint8Array[];
}

/** A checkpoint a party is asked to sign, with the proofs that it extends smaller trees. */
export interface ProposedCheckpoint {
  size: number;
  /** 32 bytes. */
  root: Uint8Array;
  consistency?: readonly CheckpointProof[];
}

/** Why a checkpoint is not signed. */
export type CheckpointRefusalRule =
  | 'checkpoint.fork'
  | 'checkpoint.rollback'
  | 'checkpoint.behind'
  | 'checkpoint.inconsistent';

export interface CheckpointRefusal {
  rule: CheckpointRefusalRule;
  message: string;
  /** The tree size last signed for the origin (what a consistency proof must start from). */
  signed_size: number;
}

/** Sign, or the refusal. */
export type CheckpointDecision = { ok: true } | ({ ok: false } & CheckpointRefusal);

const SIGN: CheckpointDecision = Object.freeze({ ok: true });

/** Decide whether `proposed` may be signed after `last`, the last checkpoint signed for its origin. */
export function decideCheckpoint(
  last: WitnessedCheckpoint | undefined,
  proposed: ProposedCheckpoint,
): CheckpointDecision {
  if (last === undefined) return SIGN;
  const { size } = proposed;
  const refuse = (rule: CheckpointRefusalRule, message: string): CheckpointDecision => ({
    ok: false,
    rule,
    message,
    signed_size: last.size,
  });
  if (size < last.size) {
    return refuse('checkpoint.rollback', `tree size ${size} is below the latest signed ${last.size}`);
  }
  if (size === last.size) {
    return bytesToHex(proposed.root) === last.rootHex
      ? SIGN
      : refuse('checkpoint.fork', `a different root was already signed for tree size ${size}`);
  }
  const proof = proposed.consistency?.find((p) => p.from === last.size);
  if (proof === undefined) {
    return refuse(
      'checkpoint.behind',
      `no consistency proof from tree size ${last.size}, the last this party signed`,
    );
  }
  try {
    verifyConsistency(last.size, size, proof.hashes, hexToBytes(last.rootHex, 'root', 32), proposed.root);
    return SIGN;
  } catch (e) {
    if (!(e instanceof VerificationError)) throw e;
    return refuse(
      'checkpoint.inconsistent',
      `tree size ${size} does not extend the tree of size ${last.size} this party signed`,
    );
  }
}
