/**
 * The policy rules a party holds a proposal to, in order. Pure and fail closed: the first rule that
 * does not hold refuses, a rule that throws refuses under its own name, and only a proposal that
 * passes every rule is approved. `evaluateProposal` (evaluate.ts) adds the quality-assurance veto.
 */
import { isAapsError, ValidationError } from '@aaps/mpc-core';
import { repositoryOf } from '../steps/image-ref.js';
import { approvalWindowIssues } from './approval-window.js';
import { ownEnvironment, understates } from './environments.js';
import { type ActionParameters, parseActionParameters } from './parameters.js';
import {
  type AggregationRef,
  type ApprovalProposal,
  computeProposalDigest,
  type HumanApproval,
  parseApprovalProposal,
} from './proposal.js';
import { quotaAdjustable, quotaCap, withinQuotaFactor } from './quota-bounds.js';
import { isEvidenceRef, parseResourceUri, type ResourceRef } from './resource-uri.js';
import { combineRiskScores, computeRiskScore } from './risk.js';
import {
  ACTION_SPECS,
  type ActionName,
  type ActionSpec,
  type AgentRole,
  CONSTRAINT_KINDS,
  isActionName,
  isAgentRole,
  ROLE_PERMISSIONS,
} from './roles.js';
import { isImageAllowed, isNamespaceAllowed, type Policy } from './schema.js';

/** Rule names a refusal may carry. `permission.constraint.*` names the seed constraint. */
export type RefusalRule =
  | 'proposal.schema'
  | 'role.unknown'
  | 'policy.role_mismatch'
  | 'proposal.digest_mismatch'
  | 'action.unknown'
  | 'action.not_allowed'
  | 'evidence.missing'
  | 'evidence.invalid_ref'
  | 'target.invalid'
  | 'target.kind'
  | 'target.namespace'
  | 'permission.not_executor'
  | 'permission.write_scope'
  | 'permission.constraint.no_network_policy'
  | 'permission.constraint.no_rbac_changes'
  | 'parameters.invalid'
  | 'bounds.quota_resource'
  | 'bounds.quota_factor'
  | 'bounds.quota_below_usage'
  | 'bounds.quota_max'
  | 'bounds.image_digest'
  | 'bounds.image_prefix'
  | 'bounds.image_repository'
  | 'risk.environment_understated'
  | 'risk.pooled_required'
  | 'risk.score_mismatch'
  | 'risk.aggregation_unverified'
  | 'risk.aggregation_stale'
  | 'risk.over_max'
  | 'human_approval.binding'
  | 'human_approval.expired'
  | 'human_approval.signature'
  | 'human_approval.required'
  | 'risk.over_auto_threshold'
  | 'qa.veto'
  | 'internal.error';

export interface Approve {
  decision: 'approve';
}
export interface Refuse {
  decision: 'refuse';
  rule: RefusalRule;
  message: string;
  /** Dot paths of the offending fields, where there are any. */
  fields?: string[];
}
export type EvaluationResult = Approve | Refuse;

/** What the party knows that the proposal does not carry. Every function here is injected. */
export interface EvaluationContext {
  /** Current time, milliseconds since the epoch. */
  now: number;
  /** Checks a human approval's signature against the roster's approver keys. */
  verifyHumanApproval(approval: HumanApproval): boolean;
  /**
   * Checks that an aggregation reference matches an opened aggregation this party took part in,
   * pooled for this proposal (its incident, action and risk factors): `true` when it holds,
   * `'stale'` for such a round that no longer counts (the party's risk view changed since, or
   * the round is past its retention window: rule `risk.aggregation_stale`, on which a gateway
   * pools again), `false` for anything else (`risk.aggregation_unverified`).
   */
  verifyAggregationRef?(ref: AggregationRef, proposal: ApprovalProposal): boolean | 'stale';
}

/** A proposal that passed every rule, with what the rules learned about it. */
export interface CheckedProposal {
  proposal: ApprovalProposal;
  spec: ActionSpec;
  target: ResourceRef;
  parameters: ActionParameters;
}

export type CheckOutcome = { decision: 'approve'; checked: CheckedProposal } | Refuse;

class Refused {
  constructor(readonly refusal: Refuse) {}
}

function refuse(rule: RefusalRule, message: string, fields?: readonly string[]): never {
  const r: Refuse = { decision: 'refuse', rule, message };
  if (fields && fields.length > 0) r.fields = [...fields];
  throw new Refused(r);
}

/** Run one rule; anything it throws other than its own refusal refuses under `rule`. */
function rule<T>(name: RefusalRule, fn: () => T): T {
  try {
    return fn();
  } catch (e) {
    if (e instanceof Refused) throw e;
    const fields = e instanceof ValidationError ? e.fields : undefined;
    // Our own errors carry a safe message (field paths, no values); anything else is not echoed.
    return refuse(name, isAapsError(e) ? e.message : `${name}: check failed unexpectedly`, fields);
  }
}

/** Every rule but the quality-assurance veto. */
export function checkProposal(
  policy: Policy,
  role: AgentRole,
  input: unknown,
  ctx: EvaluationContext,
): CheckOutcome {
  try {
    return { decision: 'approve', checked: runRules(policy, role, input, ctx) };
  } catch (e) {
    if (e instanceof Refused) return e.refusal;
    return { decision: 'refuse', rule: 'internal.error', message: 'evaluation failed outside any rule' };
  }
}

function runRules(policy: Policy, role: AgentRole, input: unknown, ctx: EvaluationContext): CheckedProposal {
  const proposal = rule('proposal.schema', () => parseApprovalProposal(input));

  rule('role.unknown', () => {
    if (!isAgentRole(role)) refuse('role.unknown', 'not a known agent role');
  });
  rule('policy.role_mismatch', () => {
    if (policy.role !== role) refuse('policy.role_mismatch', `policy is for ${policy.role}, not ${role}`);
  });
  rule('proposal.digest_mismatch', () => {
    if (computeProposalDigest(proposal) !== proposal.proposal_digest) {
      refuse('proposal.digest_mismatch', 'proposal_digest does not match the proposal', ['proposal_digest']);
    }
  });

  const action = rule('action.unknown', (): ActionName => {
    if (!isActionName(proposal.action)) refuse('action.unknown', 'not a known action', ['action']);
    return proposal.action as ActionName;
  });
  const needsHuman = rule('action.not_allowed', () => {
    const human = policy.require_human_approval.includes(action);
    if (!human && !policy.allowed_auto_actions.includes(action)) {
      refuse('action.not_allowed', `${action} is in neither list of this policy`, ['action']);
    }
    return human;
  });

  rule('evidence.missing', () => {
    if (proposal.evidence_refs.length < policy.evidence.min_refs) {
      refuse('evidence.missing', `at least ${policy.evidence.min_refs} evidence reference(s) required`, [
        'evidence_refs',
      ]);
    }
  });
  rule('evidence.invalid_ref', () => {
    const bad = proposal.evidence_refs.flatMap((r, i) => (isEvidenceRef(r) ? [] : [`evidence_refs.${i}`]));
    if (bad.length > 0) refuse('evidence.invalid_ref', 'evidence references must be URIs', bad);
  });

  const spec = ACTION_SPECS[action];
  const target = rule('target.invalid', () => parseResourceUri(proposal.target, 'target'));
  rule('target.namespace', () => {
    if (!isNamespaceAllowed(policy.bounds, target.namespace)) {
      refuse('target.namespace', 'target namespace is outside the policy bounds', ['target']);
    }
  });
  // The permission table first: a forbidden kind is named as such, not as a mere kind mismatch.
  checkPermissions(role, spec, [target]);
  rule('target.kind', () => {
    if (!spec.target_kinds.includes(target.kind)) {
      refuse('target.kind', `${action} cannot target a ${target.kind}`, ['target']);
    }
  });

  const parameters = rule('parameters.invalid', () =>
    parseActionParameters(action, target, proposal.parameters),
  );
  if ('workloads' in parameters) checkPermissions(role, spec, parameters.workloads);
  checkBounds(policy, parameters);
  checkRisk(policy, proposal, action, target, ctx);
  checkHumanApproval(policy, proposal, action, needsHuman, ctx);
  return { proposal, spec, target, parameters };
}

/** The seed's permission table: the executor writes only its scopes and never its forbidden kinds. */
function checkPermissions(role: AgentRole, spec: ActionSpec, touched: readonly ResourceRef[]): void {
  rule('permission.not_executor', () => {
    if (role === 'maintenance' && spec.executor !== 'maintenance') {
      refuse('permission.not_executor', 'maintenance does not carry out human-approval actions');
    }
  });
  if (spec.executor !== 'maintenance') return;
  const executor = ROLE_PERMISSIONS.maintenance;
  rule('permission.write_scope', () => {
    if (!executor.write.includes(spec.writes)) {
      refuse('permission.write_scope', `maintenance may not write ${spec.writes}`);
    }
  });
  for (const constraint of executor.constraints) {
    const name = `permission.constraint.${constraint}` as RefusalRule;
    rule(name, () => {
      if (touched.some((t) => CONSTRAINT_KINDS[constraint].includes(t.kind))) {
        refuse(name, `maintenance is bound by ${constraint}`, ['target']);
      }
    });
  }
}

function checkBounds(policy: Policy, parameters: ActionParameters): void {
  if (parameters.action === 'resource_quota_adjust') {
    const { params, figures } = parameters;
    const bounds = policy.bounds.resource_quota;
    params.changes.forEach((change, i) => {
      const f = figures[i]!;
      const field = `parameters.changes.${i}`;
      rule('bounds.quota_resource', () => {
        if (!quotaAdjustable(bounds, change.resource)) {
          refuse('bounds.quota_resource', `${change.resource} may not be adjusted`, [`${field}.resource`]);
        }
      });
      rule('bounds.quota_factor', () => {
        if (!withinQuotaFactor(bounds, f.current_hard, f.new_hard)) {
          refuse(
            'bounds.quota_factor',
            `new hard limit exceeds ${bounds.max_increase_factor}x the current one`,
            [`${field}.new_hard`],
          );
        }
      });
      rule('bounds.quota_below_usage', () => {
        if (f.new_hard < f.used) {
          refuse('bounds.quota_below_usage', 'new hard limit is below current usage', [`${field}.new_hard`]);
        }
      });
      // The factor is relative to a current limit only the gateway reports; the cap is this
      // party's own figure. A listed resource without one (a policy from before caps) refuses.
      rule('bounds.quota_max', () => {
        const cap = quotaCap(bounds, change.resource);
        if (cap === undefined) {
          refuse(
            'bounds.quota_max',
            `this party's policy sets no cap for ${change.resource} (bounds.resource_quota.max_hard): it signs no change of its hard limit`,
            [`${field}.new_hard`],
          );
        } else if (f.new_hard > cap.value) {
          refuse(
            'bounds.quota_max',
            `new hard limit for ${change.resource} exceeds this policy's cap ${cap.text}`,
            [`${field}.new_hard`],
          );
        }
      });
    });
  }
  if (parameters.action === 'image_rollback' && parameters.params.basis === 'deployment_history') {
    const to = parameters.params.to_image;
    rule('bounds.image_digest', () => {
      if (policy.bounds.image_rollback.require_digest && !/@sha256:[0-9a-f]{64}$/.test(to)) {
        refuse('bounds.image_digest', 'rollback image must be pinned by digest', ['parameters.to_image']);
      }
    });
    // The image comes from deployment history the gateway reports: a digest pins it, but only the
    // policy's own list says whose image it may be.
    rule('bounds.image_prefix', () => {
      if (!isImageAllowed(policy.bounds, to)) {
        refuse('bounds.image_prefix', 'rollback image is outside the allowed image prefixes', [
          'parameters.to_image',
        ]);
      }
    });
    // `from_image` is the failing image as the problem solver read it from the signal. A rollback
    // sets one container to `to_image`: an image of another repository is another container's
    // (a sidecar's), and setting it leaves the failing container as it was.
    const from = parameters.params.from_image;
    rule('bounds.image_repository', () => {
      if (from !== undefined && repositoryOf(to) !== repositoryOf(from)) {
        refuse(
          'bounds.image_repository',
          'rollback image is of another repository than the failing image (from_image)',
          ['parameters.to_image', 'parameters.from_image'],
        );
      }
    });
  }
}

function checkRisk(
  policy: Policy,
  proposal: ApprovalProposal,
  action: ActionName,
  target: ResourceRef,
  ctx: EvaluationContext,
): void {
  const { risk } = proposal;
  // The declared environment is the gateway's word; this party's own view of the target's
  // namespace is the floor. Refused, not rescored: the signed bytes carry the factors.
  rule('risk.environment_understated', () => {
    const own = ownEnvironment(policy, target.namespace);
    if (understates(risk.factors.environment, own)) {
      const where =
        target.namespace === undefined ? 'a cluster-scoped target' : `namespace ${target.namespace}`;
      refuse(
        'risk.environment_understated',
        `${where} is ${own} in this party's view, but the proposal declares ${risk.factors.environment}`,
        ['risk.factors.environment'],
      );
    }
  });
  // A party that requires the pooled score does not let the gateway fall back to the formula by
  // leaving the reference out.
  rule('risk.pooled_required', () => {
    if (policy.risk?.require_pooled === true && risk.aggregation_ref === undefined) {
      refuse('risk.pooled_required', 'this party requires a pooled risk score', ['risk.aggregation_ref']);
    }
  });
  rule('risk.aggregation_unverified', () => {
    if (risk.aggregation_ref === undefined) return;
    const held = ctx.verifyAggregationRef?.(risk.aggregation_ref, proposal);
    if (held === 'stale') {
      // This party confirmed that very round for this proposal, and it no longer counts here: a
      // fresh round of pooling replaces it (the gateway pools again on this rule alone).
      refuse(
        'risk.aggregation_stale',
        'pooled risk score no longer stands for this party (its risk view changed since the round, or the round is past the retention window): pool again',
        ['risk.aggregation_ref'],
      );
    }
    if (held !== true) {
      refuse('risk.aggregation_unverified', 'pooled risk score could not be verified', [
        'risk.aggregation_ref',
      ]);
    }
  });
  rule('risk.score_mismatch', () => {
    const expected = combineRiskScores(computeRiskScore(action, risk.factors), risk.aggregation_ref?.value);
    if (risk.score !== expected) {
      refuse('risk.score_mismatch', `risk score is not what the formula gives (${expected})`, ['risk.score']);
    }
  });
  rule('risk.over_max', () => {
    if (risk.score > policy.bounds.max_risk_score) {
      refuse('risk.over_max', `risk ${risk.score} is over the policy maximum`, ['risk.score']);
    }
  });
}

function checkHumanApproval(
  policy: Policy,
  proposal: ApprovalProposal,
  action: ActionName,
  needsHuman: boolean,
  ctx: EvaluationContext,
): void {
  const approval = proposal.human_approval;
  if (approval) {
    // An approval that rides along must be valid even where none is needed: it ends up in the signed bytes.
    rule('human_approval.binding', () => {
      const bad: string[] = [];
      if (approval.incident_id !== proposal.incident_id) bad.push('human_approval.incident_id');
      if (approval.action !== proposal.action) bad.push('human_approval.action');
      if (approval.proposal_digest !== proposal.proposal_digest) bad.push('human_approval.proposal_digest');
      if (bad.length > 0)
        refuse('human_approval.binding', 'approval is for another incident, action or proposal', bad);
    });
    rule('human_approval.expired', () => {
      const rules = policy.human_approval;
      const issues = approvalWindowIssues(approval, new Date(ctx.now), {
        maxValiditySeconds: rules.max_validity_seconds,
        clockSkewSeconds: rules.clock_skew_seconds,
      });
      if (issues.length > 0)
        refuse('human_approval.expired', 'approval is outside its validity window', ['human_approval']);
    });
    rule('human_approval.signature', () => {
      if (ctx.verifyHumanApproval(approval) !== true) {
        refuse('human_approval.signature', 'approval signature does not verify against an approver key', [
          'human_approval.signature',
        ]);
      }
    });
    return;
  }
  rule('human_approval.required', () => {
    if (needsHuman)
      refuse('human_approval.required', `${action} needs a signed human approval`, ['human_approval']);
  });
  rule('risk.over_auto_threshold', () => {
    if (proposal.risk.score > policy.bounds.max_auto_risk_score) {
      refuse('risk.over_auto_threshold', `risk ${proposal.risk.score} needs a signed human approval`, [
        'human_approval',
      ]);
    }
  });
}
