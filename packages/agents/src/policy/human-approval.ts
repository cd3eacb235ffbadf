/**
 * Checking a human approval's signature: `ed25519:<base64>` over
 * `humanApprovalSigningBytes(approval)`, under the key the roster gives for `approver_id`.
 * The key lookup is injected, so the check stays a pure function of the roster.
 */
import { base64Decode, verifyEd25519 } from '@aaps/mpc-core';
import { type HumanApproval, humanApprovalSigningBytes } from './proposal.js';

const PREFIX = 'ed25519:';

/**
 * Whether `signature` (`ed25519:<base64>`) is `key`'s signature over `bytes`; anything malformed
 * is false. One check for every signed human decision (approvals, rejections), at the parties and
 * at the gateway.
 */
export function verifyApproverSignature(key: Uint8Array, signature: unknown, bytes: Uint8Array): boolean {
  if (typeof signature !== 'string' || !signature.startsWith(PREFIX)) return false;
  let sig: Uint8Array;
  try {
    sig = base64Decode(signature.slice(PREFIX.length), 'signature');
  } catch {
    return false;
  }
  return verifyEd25519(key, bytes, sig);
}

/** A `verifyHumanApproval` for `EvaluationContext`, over the approvers `keyOf` knows. */
export function createHumanApprovalVerifier(
  keyOf: (approverId: string) => Uint8Array | undefined,
): (approval: HumanApproval) => boolean {
  return (approval) => {
    const key = keyOf(approval.approver_id);
    return (
      key !== undefined &&
      verifyApproverSignature(key, approval.signature, humanApprovalSigningBytes(approval))
    );
  };
}
