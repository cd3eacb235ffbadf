/**
 * `evaluateProposal`: may this party sign this proposal? Pure and fail closed. It runs every
 * policy rule (rules.ts) and, for a role with veto power (quality assurance), the verification
 * stages, refusing with `qa.veto` when a mandatory stage fails.
 */
import { PolicyRefusal } from '@aaps/mpc-core';
import {
  type ExecutionResultSummary,
  runVerification,
  type VerificationArtifacts,
} from '../steps/quality-assurance.js';
import { type AgentRole, isAgentRole, ROLE_PERMISSIONS } from './roles.js';
import { checkProposal, type EvaluationContext, type EvaluationResult, type Refuse } from './rules.js';
import type { Policy } from './schema.js';

export interface EvaluateContext extends EvaluationContext {
  /** Data the veto role's verification stages read; missing data makes stages `skipped`. */
  verification?: { artifacts?: VerificationArtifacts; execution?: ExecutionResultSummary };
}

export function evaluateProposal(
  policy: Policy,
  role: AgentRole,
  proposal: unknown,
  ctx: EvaluateContext,
): EvaluationResult {
  const outcome = checkProposal(policy, role, proposal, ctx);
  if (outcome.decision === 'refuse') return outcome;
  if (!isAgentRole(role) || !ROLE_PERMISSIONS[role].veto_power) return { decision: 'approve' };
  try {
    const report = runVerification(policy, { proposal, ...(ctx.verification ?? {}) }, ctx);
    if (report.verdict === 'pass') return { decision: 'approve' };
    return {
      decision: 'refuse',
      rule: 'qa.veto',
      message: `vetoed by ${report.vetoed_by.join(', ')}`,
      fields: report.vetoed_by.map((s) => `verification.${s}`),
    };
  } catch {
    return { decision: 'refuse', rule: 'qa.veto', message: 'verification could not run' };
  }
}

/** The refusal as the error a party throws (or signs) naming the rule. */
export function toPolicyRefusal(refusal: Refuse): PolicyRefusal {
  return new PolicyRefusal(refusal.rule, refusal.message, {
    details: { rule: refusal.rule, fields: refusal.fields ?? [] },
  });
}
