/**
 * The validity window of a human approval, checked at the gateway exactly as the parties check it
 * before they sign: the `human_approval.expired` rule in packages/agents/src/policy/rules.ts
 * (`checkHumanApproval`). `@aaps/agents` exports no function for that rule alone, so its
 * conditions are repeated here; keep the two in step. An approval the gateway let through but
 * every party refuses would end the incident `rejected`; checked here, it is a 400 instead and
 * the incident keeps waiting for a good one.
 */
import { DEFAULT_POLICIES, type HumanApproval } from '@aaps/agents';
import { ValidationError } from '@aaps/mpc-core';

/** The parties' default limits (every role's default policy has the same `human_approval`). */
const DEFAULT_RULES = DEFAULT_POLICIES.strategy.human_approval;

/** The longest approval a party with the default policy accepts, seconds (86400). */
export const MAX_APPROVAL_VALIDITY_SECONDS = DEFAULT_RULES.max_validity_seconds;

export interface ApprovalWindowRules {
  /** Longest `expires_at - approved_at`, seconds. */
  maxValiditySeconds: number;
  /** How far `approved_at` may be ahead of the gateway's clock, seconds. */
  clockSkewSeconds: number;
}

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
  const approvedAt = Date.parse(approval.approved_at);
  const expiresAt = Date.parse(approval.expires_at);
  const at = now.getTime();
  const issues: { field: 'approved_at' | 'expires_at'; problem: string }[] = [];
  // A syntactically fine but impossible date (month 13) parses to NaN, which compares false
  // with everything: without these two checks it would pass every comparison below.
  if (!Number.isFinite(approvedAt)) issues.push({ field: 'approved_at', problem: 'is not a real date' });
  if (!Number.isFinite(expiresAt)) issues.push({ field: 'expires_at', problem: 'is not a real date' });
  if (issues.length > 0) return issues;
  if (approvedAt > at + rules.clockSkewSeconds * 1000)
    issues.push({ field: 'approved_at', problem: 'is in the future' });
  if (expiresAt <= approvedAt) issues.push({ field: 'expires_at', problem: 'is not after approved_at' });
  else if (expiresAt - approvedAt > rules.maxValiditySeconds * 1000)
    issues.push({
      field: 'expires_at',
      problem: `is more than ${rules.maxValiditySeconds} s after approved_at, longer than the parties accept`,
    });
  if (at >= expiresAt) issues.push({ field: 'expires_at', problem: 'has passed' });
  return issues;
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
