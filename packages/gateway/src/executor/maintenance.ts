/**
 * Maintenance: executes an `ExecutionOrder` only after checking that it is for the incident its
 * signed proposal names and that its threshold signature over the proposal bytes holds under the
 * group key it trusts (not the key the order names). A failed apply is rolled back, and the result
 * says so.
 */
import { proposalSigningBytes } from '@aaps/agents';
import {
  bytesToHex,
  type CiphersuiteId,
  getCiphersuite,
  hexToBytes,
  isAapsError,
  VerificationError,
  verify,
} from '@aaps/mpc-core';
import type { ExecutionRecord } from '../workflow/record.js';
import type { AppliedChange, ExecutionOrderPayload, Executor, RollbackOutcome } from './types.js';

export interface TrustedGroupKey {
  ciphersuite: CiphersuiteId;
  groupPublicKey: Uint8Array;
}

/**
 * Throws `VerificationError` unless the order may be executed: check `execution.binding` (code
 * `VERIFICATION_FAILED`) when the order names another incident than its signed proposal (executors
 * label their work with the order's incident: a GitOps commit message, for one), and
 * `execution.order` (code `INVALID_SIGNATURE`) unless it carries a valid group signature.
 */
export function checkExecutionOrder(order: ExecutionOrderPayload, trusted: TrustedGroupKey): void {
  const fail = (why: string): never => {
    throw new VerificationError('execution.order', why, { code: 'INVALID_SIGNATURE' });
  };
  // The signature covers the proposal, not the order around it: its incident must be the proposal's.
  const signedIncident = (order.proposal as { incident_id?: unknown } | null | undefined)?.incident_id;
  if (order.incident_id !== signedIncident) {
    throw new VerificationError('execution.binding', 'the order names another incident than its proposal');
  }
  if (order.approval.ciphersuite !== trusted.ciphersuite) fail('the order names another ciphersuite');
  if (order.approval.group_public_key !== bytesToHex(trusted.groupPublicKey))
    fail('the order names another group key');
  let ok = false;
  try {
    ok = verify(
      getCiphersuite(trusted.ciphersuite),
      trusted.groupPublicKey,
      proposalSigningBytes(order.proposal),
      hexToBytes(order.approval.signature, 'approval.signature'),
    );
  } catch {
    ok = false;
  }
  if (!ok) fail('the threshold signature does not verify over the proposal');
}

/**
 * A rollback that threw, as the incident records it: not done, with the error's code and message
 * (executors' messages name what failed, never credentials or git's output), or only "rollback
 * failed" for an error that is no `AapsError`.
 */
export function rollbackFailed(e: unknown): RollbackOutcome {
  return {
    done: false,
    detail: isAapsError(e) ? `rollback failed: ${e.code}: ${e.message}` : 'rollback failed',
  };
}

/** Check, apply, and on failure roll back. Never throws for an executor failure: the record says. */
export async function executeOrder(
  order: ExecutionOrderPayload,
  executor: Executor,
  trusted: TrustedGroupKey,
): Promise<{ record: ExecutionRecord; applied?: AppliedChange }> {
  checkExecutionOrder(order, trusted);
  const unsupported = executor.unsupported?.(order);
  if (unsupported !== undefined) {
    // Nothing was done, so nothing is rolled back; the signed order stays in the evidence.
    return {
      record: {
        executor: executor.name,
        status: 'failed',
        change: {},
        post_checks: [],
        error: `NOT_APPLIED: ${unsupported}; nothing was changed, and the signed order is in the incident's evidence for a person to carry out`,
      },
    };
  }
  try {
    const applied = await executor.apply(order);
    return {
      applied,
      record: {
        executor: executor.name,
        status: 'succeeded',
        change: applied.change,
        post_checks: applied.post_checks,
        ...(applied.ref === undefined ? {} : { ref: applied.ref }),
      },
    };
  } catch (e) {
    const error = isAapsError(e) ? `${e.code}: ${e.message}` : 'executor failed';
    const rollback = await executor.rollback(order, undefined).catch(rollbackFailed);
    return {
      record: {
        executor: executor.name,
        status: rollback.done ? 'rolled_back' : 'failed',
        change: {},
        post_checks: [],
        rollback,
        error,
      },
    };
  }
}
