/**
 * Executors apply an approved change. Maintenance (`maintenance.ts`) hands one an order only after
 * checking the order's threshold signature. A Kubernetes API executor can implement the same
 * interface later.
 */
import type { ApprovalProposal } from '@aaps/agents';

/** The `ExecutionOrder` payload: the proposal the parties signed and their signature. */
export interface ExecutionOrderPayload {
  incident_id: string;
  proposal: ApprovalProposal;
  approval: {
    ciphersuite: string;
    /** Hex. */
    group_public_key: string;
    /** Hex of the group signature over `proposalSigningBytes(proposal)`. */
    signature: string;
    signers: string[];
  };
  executor: string;
}

export interface PostCheck {
  name: string;
  passed: boolean;
  detail?: string;
}

export interface AppliedChange {
  /** The exact change, as recorded in the incident and its evidence. */
  change: Record<string, unknown>;
  post_checks: PostCheck[];
  /** Where it landed (e.g. a git commit id). */
  ref?: string;
}

export interface RollbackOutcome {
  done: boolean;
  detail: string;
}

export interface Executor {
  readonly name: string;
  /**
   * Why this executor cannot carry out `order` at all (an action it has no way to make, such as a
   * rollout undo or an RBAC change for one that edits manifests), or `undefined`. Asked before
   * `apply`: such an order is recorded as not applied, with nothing to roll back.
   */
  unsupported?(order: ExecutionOrderPayload): string | undefined;
  /** Apply the change; throw an `AapsError` if it cannot be applied (after undoing partial work). */
  apply(order: ExecutionOrderPayload): Promise<AppliedChange>;
  /** Undo a change `apply` made (or, with `applied` undefined, anything a failed apply left). */
  rollback(order: ExecutionOrderPayload, applied: AppliedChange | undefined): Promise<RollbackOutcome>;
}
