/**
 * The default policy set, matching DESIGN.md and the seed: the five automatic actions, the five
 * human-approval actions, and conservative bounds (quota caps included). Three settings only a
 * department can fill in are left at their defaults: `bounds.image_rollback.allowed_image_prefixes`
 * (absent: any image), `risk.require_pooled` (absent: the formula alone is accepted) and
 * `risk.environments` (absent: every namespace counts as `unknown`, i.e. production, so a
 * proposal may declare no lighter environment). `policies/<role>.json`
 * holds the same values as files (a test keeps them equal); a party loads its own file with
 * `parsePolicy`.
 */
import { AGENT_ROLES, type AgentRole, AUTO_ACTIONS, HUMAN_ACTIONS } from './roles.js';
import { POLICY_SCHEMA_VERSION, type Policy, VERIFICATION_STAGES } from './schema.js';

export function defaultPolicy(role: AgentRole): Policy {
  return {
    schema_version: POLICY_SCHEMA_VERSION,
    role,
    allowed_auto_actions: [...AUTO_ACTIONS],
    require_human_approval: [...HUMAN_ACTIONS],
    bounds: {
      namespaces: { allow: ['*'], deny: ['kube-system', 'kube-public', 'kube-node-lease'] },
      max_auto_risk_score: 60,
      max_risk_score: 90,
      resource_quota: {
        max_increase_factor: 2,
        resources: [
          'cpu',
          'memory',
          'requests.cpu',
          'requests.memory',
          'limits.cpu',
          'limits.memory',
          'pods',
          'requests.ephemeral-storage',
          'limits.ephemeral-storage',
        ],
        // Absolute caps, the party's own figures (the factor is relative to a limit the gateway
        // reports): about what one team's namespace on a mid-sized cluster should ever need. A
        // department should set its own; a larger quota then goes to a person.
        max_hard: {
          cpu: '64',
          memory: '256Gi',
          'requests.cpu': '64',
          'requests.memory': '256Gi',
          'limits.cpu': '128',
          'limits.memory': '512Gi',
          pods: '500',
          'requests.ephemeral-storage': '1Ti',
          'limits.ephemeral-storage': '2Ti',
        },
      },
      // No `allowed_image_prefixes`: a rollback may target any image pinned by digest, as before the
      // setting existed. A department should list its own registries (policies/README.md).
      image_rollback: { require_digest: true },
    },
    evidence: { min_refs: 1 },
    human_approval: { max_validity_seconds: 86400, clock_skew_seconds: 300 },
    verification: {
      mandatory: [...VERIFICATION_STAGES],
      require_data: ['schema_validation', 'policy_compliance'],
      fail_severity: 'high',
      min_test_coverage: 0.6,
    },
    unseal: {
      approvers: ['*'],
      paths: ['/**'],
      detectors: ['*'],
      require_reason: true,
      max_fields_per_request: 64,
      max_request_age_seconds: 3600,
    },
  };
}

/** The defaults, deeply frozen: share them freely; `defaultPolicy(role)` gives a fresh copy to change. */
export const DEFAULT_POLICIES: Readonly<Record<AgentRole, Policy>> = deepFreeze(
  Object.fromEntries(AGENT_ROLES.map((role) => [role, defaultPolicy(role)])) as Record<AgentRole, Policy>,
);

function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object') {
    for (const v of Object.values(value)) deepFreeze(v);
    Object.freeze(value);
  }
  return value;
}
