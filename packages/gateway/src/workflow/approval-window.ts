/**
 * The validity window of a human approval, checked at the gateway exactly as the parties check it
 * before they sign: the `human_approval.expired` rule in packages/agents/src/policy/rules.ts
 * (`checkHumanApproval`), whose conditions `@aaps/agents` exports as `approvalWindowIssues`.
 * Checked here, an approval every party would refuse is a 400 and the incident keeps waiting for a
 * good one. The check uses the parties' default limits, or the longer validity the operator
 * configured for the departments' policies (`--approval-max-validity-seconds`): one a party's own,
 * stricter policy refuses (or one that ran out while the incident waited) sends the incident back
 * to `awaiting_human` (runner.ts), where a new one can be posted.
 */
import {
  type ApprovalWindowRules,
  DEFAULT_POLICIES,
  type HumanApproval,
  approvalWindowIssues as issuesOf,
} from '@aaps/agents';
import { ValidationError } from '@aaps/mpc-core';

/** The parties' default limits (every role's default policy has the same `human_approval`). */
const DEFAULT_RULES = DEFAULT_POLICIES.strategy.human_approval;

/** The longest approval a party with the default policy accepts, seconds (86400). */
export const MAX_APPROVAL_VALIDITY_SECONDS = DEFAULT_RULES.max_validity_seconds;

export type { ApprovalWindowRules };

export const DEFAULT_APPROVAL_WINDOW: ApprovalWindowRules = {
  maxValiditySeconds: DEFAULT_RULES.max_validity_seconds,
  clockSkewSeconds: DEFAULT_RULES.clock_skew_seconds,
};

/** Every way `approval` falls outside its window at `now`, as `field: problem`. */
export function approvalWindowIssues(
  approval: Pick<HumanApproval, 'approved_at' | 'expires_at'>,
  now: Date,
  rules: ApprovalWindowRules = DEFAULT_APPROVAL_WINDOW,
): { field: 'approved_at' | 'expires_at'; problem: string }[] {
  return issuesOf(approval, now, rules);
}

/** Throws a 400 `INVALID_ARGUMENT` naming every field of `approval` outside its window. */
export function checkApprovalWindow(
  approval: Pick<HumanApproval, 'approved_at' | 'expires_at'>,
  now: Date,
  rules: ApprovalWindowRules = DEFAULT_APPROVAL_WINDOW,
): void {
  const issues = approvalWindowIssues(approval, now, rules);
  if (issues.length === 0) return;
  throw new ValidationError(
    'INVALID_ARGUMENT',
    `the approval is outside its validity window: ${issues.map((i) => `${i.field} ${i.problem}`).join('; ')}`,
    [...new Set(issues.map((i) => i.field))],
  );
}
