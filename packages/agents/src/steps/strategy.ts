/**
 * Strategy: turn the preferred fix into an `ApprovalProposal`, score its risk (risk.ts documents
 * the formula), bind a pooled score from the departments' `weighted-risk` aggregation when there is
 * one, and decide: `auto` (the parties may approve it alone), `needs_human` (a signed human
 * approval must come first) or `refuse`. The decision is the party policy's own verdict on the
 * proposal, so strategy and the signing parties cannot disagree on the rules.
 *
 * The environment the gateway declares is scored no lighter than this party's own view of the
 * target's namespace (`risk.environments`): the heavier one goes into the factors it signs, so a
 * signer that holds the same view agrees, and a gateway that calls production `development` gains
 * nothing here.
 */
import { ValidationError } from '@aaps/mpc-core';
import type { RiskSubject } from '../party/pooled-risk.js';
import { ownEnvironment } from '../policy/environments.js';
import { type AggregationRef, type ApprovalProposal, buildApprovalProposal } from '../policy/proposal.js';
import { isPlainObject } from '../policy/reader.js';
import { tryParseResourceUri } from '../policy/resource-uri.js';
import {
  combineRiskScores,
  computeRiskScore,
  type Environment,
  heavierEnvironment,
  RISK_METHOD,
  type RiskFactors,
  type RiskTerms,
  riskTerms,
} from '../policy/risk.js';
import { checkProposal, type EvaluationContext, type RefusalRule } from '../policy/rules.js';
import type { Policy } from '../policy/schema.js';
import type { FixProposal } from './problem-solver.js';

export interface StrategyInput {
  incident_id: string;
  /** The envelope context's urgency. */
  urgency: 'P1' | 'P2' | 'P3';
  /**
   * Where the gateway says the target runs; unknown counts as production. Scored no lighter than
   * this party's own view of the target's namespace.
   */
  environment?: Environment;
  /** The fix to decide on (normally the rank-1 proposal). */
  fix: FixProposal;
  policy: Policy;
  /** The opened result of the `weighted-risk` aggregation, if the departments pooled scores. */
  pooled?: AggregationRef;
}

export type StrategyDecision = 'auto' | 'needs_human' | 'refuse';

/** The `ApprovalDecision` payload the strategy agent signs. */
export interface ApprovalDecisionPayload {
  incident_id: string;
  decision: StrategyDecision;
  /** The rule behind `needs_human` or `refuse`. */
  rule?: RefusalRule;
  reason: string;
  proposal: ApprovalProposal;
  risk: { score: number; formula_score: number; terms: RiskTerms; pooled_score?: number };
}

/** The risk factors strategy scores a fix under (what a pooled-risk subject must carry too). */
export function strategyRiskFactors(
  fix: Pick<FixProposal, 'blast_radius'>,
  urgency: RiskFactors['urgency'],
  environment: Environment | undefined,
): RiskFactors {
  return {
    blast_radius: Number.isInteger(fix.blast_radius) && fix.blast_radius >= 1 ? fix.blast_radius : 1,
    urgency,
    environment: environment ?? 'unknown',
  };
}

/**
 * The pooled-risk subject for a fix (docs/aggregation.md, "Pooled risk"): its incident, action,
 * target namespace (`null` for a cluster-scoped or unreadable target) and the factors strategy
 * would score under the declared environment. Each party scores it on its own view of that
 * namespace, and a proposal may cite the round only for a target in the same namespace.
 */
export function strategyRiskSubject(
  incidentId: string,
  fix: Pick<FixProposal, 'action' | 'target' | 'blast_radius'>,
  urgency: RiskFactors['urgency'],
  environment: Environment | undefined,
): RiskSubject {
  return {
    incident_id: incidentId,
    action: fix.action,
    namespace: tryParseResourceUri(fix.target)?.namespace ?? null,
    factors: strategyRiskFactors(fix, urgency, environment),
  };
}

const NEEDS_HUMAN: readonly RefusalRule[] = ['human_approval.required', 'risk.over_auto_threshold'];

export function runStrategyStep(
  input: StrategyInput,
  ctx: Pick<EvaluationContext, 'now' | 'verifyAggregationRef'>,
): ApprovalDecisionPayload {
  const { fix, policy } = input;
  if (!isPlainObject(fix) || typeof fix.action !== 'string') {
    throw new ValidationError('INVALID_ARGUMENT', 'fix: expected a FixProposal', ['fix']);
  }
  const declared = input.environment ?? 'unknown';
  const namespace = tryParseResourceUri(fix.target)?.namespace;
  const environment = heavierEnvironment(declared, ownEnvironment(policy, namespace));
  const factors = strategyRiskFactors(fix, input.urgency, environment);
  const formula = computeRiskScore(fix.action, factors);
  const score = combineRiskScores(formula, input.pooled?.value);
  const risk: ApprovalProposal['risk'] = { score, method: RISK_METHOD, factors };
  if (input.pooled) risk.aggregation_ref = { ...input.pooled };
  const proposal = buildApprovalProposal({
    incident_id: input.incident_id,
    action: fix.action,
    target: fix.target,
    parameters: fix.parameters,
    evidence_refs: fix.evidence_refs,
    risk,
  });

  // No human approval exists yet: the policy's refusal for its absence is exactly "needs human".
  const outcome = checkProposal(policy, policy.role, proposal, {
    now: ctx.now,
    verifyHumanApproval: () => false,
    ...(ctx.verifyAggregationRef ? { verifyAggregationRef: ctx.verifyAggregationRef } : {}),
  });
  const riskOut: ApprovalDecisionPayload['risk'] = {
    score,
    formula_score: formula,
    terms: riskTerms(fix.action, factors),
  };
  if (input.pooled) riskOut.pooled_score = input.pooled.value;
  // Said in the reason, as the factors alone would not tell why they differ from the gateway's.
  const raised =
    environment === declared
      ? ''
      : ` (environment ${environment}, this party's view of ${namespace === undefined ? 'a cluster-scoped target' : `namespace ${namespace}`}, not the declared ${declared})`;
  if (outcome.decision === 'approve') {
    return {
      incident_id: input.incident_id,
      decision: 'auto',
      reason: `within policy${raised}`,
      proposal,
      risk: riskOut,
    };
  }
  return {
    incident_id: input.incident_id,
    decision: NEEDS_HUMAN.includes(outcome.rule) ? 'needs_human' : 'refuse',
    rule: outcome.rule,
    reason: `${outcome.message}${raised}`,
    proposal,
    risk: riskOut,
  };
}
