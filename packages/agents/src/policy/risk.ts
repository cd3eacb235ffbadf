/**
 * The risk score (method `aaps.risk.v1`), 0..100, a sum of four documented terms capped at 100:
 *
 *   score = min(100, action + blast + urgency + environment)
 *
 * - action: what the change can break. pod_restart 10, configmap_reload 15, secret_template_render
 *   20, resource_quota_adjust 20, image_rollback 25, ingress_changes 50, cert_management 50,
 *   network_policy_mods 60, rbac_changes 60, pvc_deletion 70; an unknown action 100.
 * - blast (number of resources the incident touches): 1 -> 0, 2..3 -> 5, 4..10 -> 15, more -> 25.
 * - urgency: P1 10, P2 5, P3 0 (a change to a service already visibly failing has more at stake).
 * - environment: production 20, staging 10, development 0, unknown 20 (unknown counts as production).
 *
 * A pooled score from the departments' `weighted-risk` aggregation can only raise the result:
 * the final score is max(formula, pooled), so pooling never talks a party below its own view.
 */
import { type ActionName, isActionName } from './roles.js';

export const RISK_METHOD = 'aaps.risk.v1';
export const ENVIRONMENTS = ['production', 'staging', 'development', 'unknown'] as const;
export type Environment = (typeof ENVIRONMENTS)[number];
export const URGENCY_LEVELS = ['P1', 'P2', 'P3'] as const;
export type UrgencyLevel = (typeof URGENCY_LEVELS)[number];

export interface RiskFactors {
  /** Number of resources the incident touches (>= 1). */
  blast_radius: number;
  urgency: UrgencyLevel;
  environment: Environment;
}

const ACTION_WEIGHT: Readonly<Record<ActionName, number>> = Object.freeze({
  pod_restart: 10,
  configmap_reload: 15,
  secret_template_render: 20,
  resource_quota_adjust: 20,
  image_rollback: 25,
  ingress_changes: 50,
  cert_management: 50,
  network_policy_mods: 60,
  rbac_changes: 60,
  pvc_deletion: 70,
});
const URGENCY_WEIGHT: Readonly<Record<UrgencyLevel, number>> = Object.freeze({ P1: 10, P2: 5, P3: 0 });
const ENVIRONMENT_WEIGHT: Readonly<Record<Environment, number>> = Object.freeze({
  production: 20,
  staging: 10,
  development: 0,
  unknown: 20,
});

function blastWeight(n: number): number {
  if (n <= 1) return 0;
  if (n <= 3) return 5;
  if (n <= 10) return 15;
  return 25;
}

export interface RiskTerms {
  action: number;
  blast: number;
  urgency: number;
  environment: number;
}

/** What an environment adds to the score; an unknown one weighs like production. */
export function environmentWeight(e: Environment): number {
  return ENVIRONMENT_WEIGHT[e] ?? 20;
}

/**
 * The environment to score with, given the one a proposal declares and this party's own view of
 * its target: the own view when it weighs more, else the declared one (on a tie the declared one
 * stays, so a declared `unknown` and an own `production` score, and read, as declared).
 */
export function heavierEnvironment(declared: Environment, own: Environment): Environment {
  return environmentWeight(own) > environmentWeight(declared) ? own : declared;
}

/** The four terms of the formula, for reports. */
export function riskTerms(action: string, f: RiskFactors): RiskTerms {
  return {
    action: isActionName(action) ? ACTION_WEIGHT[action] : 100,
    blast: blastWeight(f.blast_radius),
    urgency: URGENCY_WEIGHT[f.urgency] ?? 10,
    environment: environmentWeight(f.environment),
  };
}

/** The formula score, 0..100. */
export function computeRiskScore(action: string, f: RiskFactors): number {
  const t = riskTerms(action, f);
  return Math.min(100, t.action + t.blast + t.urgency + t.environment);
}

/** The score a proposal carries: the formula, raised to a pooled score if one is bound. */
export function combineRiskScores(formula: number, pooled?: number): number {
  return pooled === undefined ? formula : Math.max(formula, pooled);
}

/** A department's private view of the formula (`Policy.risk`); absent, the formula itself. */
export interface RiskView {
  weight_percent: number;
  offset: number;
}

/** This department's own score for a proposal: its view of the formula, clamped to 0..100. */
export function departmentRiskScore(view: RiskView | undefined, action: string, f: RiskFactors): number {
  const formula = computeRiskScore(action, f);
  if (!view) return formula;
  return Math.min(100, Math.max(0, Math.round((formula * view.weight_percent) / 100) + view.offset));
}

/** The pooled score from the `weighted-risk` output: one definition, the verifier's. */
export { pooledRiskValue } from '@aaps/evidence';
