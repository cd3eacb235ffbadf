/**
 * Checking a human approval's signature: `ed25519:<base64>` over
 * `humanApprovalSigningBytes(approval)`, under the key the roster gives for `approver_id`.
 * The key lookup is injected, so the check stays a pure function of the roster.
 */
import { base64Decode, verifyEd25519 } from '@aaps/mpc-core';
import { type HumanApproval, humanApprovalSigningBytes } from './proposal.js';

const PREFIX = 'ed25519:';

/** A `verifyHumanApproval` for `EvaluationContext`, over the approvers `keyOf` knows. */
export function createHumanApprovalVerifier(
  keyOf: (approverId: string) => Uint8Array | undefined,
): (approval: HumanApproval) => boolean {
  return (approval) => {
    const key = keyOf(approval.approver_id);
    if (
      key === undefined ||
      typeof approval.signature !== 'string' ||
      !approval.signature.startsWith(PREFIX)
    ) {
      return false;
    }
    let sig: Uint8Array;
    try {
      sig = base64Decode(approval.signature.slice(PREFIX.length), 'signature');
    } catch {
      return false;
    }
    return verifyEd25519(key, humanApprovalSigningBytes(approval), sig);
  };
}
