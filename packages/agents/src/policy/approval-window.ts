/**
 * The validity window of a human approval: the conditions of the `human_approval.expired` rule
 * (rules.ts, `checkHumanApproval`), as a pure check that names every problem. The gateway runs the
 * same check before it passes an approval on, so an approval every party would refuse is turned
 * away there instead.
 */
import type { HumanApproval } from './proposal.js';

export interface ApprovalWindowRules {
  /** Longest `expires_at - approved_at`, seconds. */
  maxValiditySeconds: number;
  /** How far `approved_at` may be ahead of the checker's clock, seconds. */
  clockSkewSeconds: number;
}

/** Every way `approval` falls outside its window at `now`, as `field: problem`. */
export function approvalWindowIssues(
  approval: Pick<HumanApproval, 'approved_at' | 'expires_at'>,
  now: Date,
  rules: ApprovalWindowRules,
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
