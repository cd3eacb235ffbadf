/**
 * Agent roles, the seed's permission table (`agent_permissions`) and the catalogue of remediation
 * actions, as data.
 *
 * The five party roles are the processes `aaps up` starts; `maintenance` is the executor, which
 * signs nothing but is bound by the same table: it may write only its scopes and never touches
 * network policy or RBAC. The seed gives no row for `strategy` and `audit`; the rows below for them
 * grant what their steps need and nothing that changes a cluster.
 */

export const PARTY_ROLES = [
  'monitoring',
  'problem-solver',
  'strategy',
  'quality-assurance',
  'audit',
] as const;
export type PartyRole = (typeof PARTY_ROLES)[number];

export const AGENT_ROLES = [...PARTY_ROLES, 'maintenance'] as const;
export type AgentRole = (typeof AGENT_ROLES)[number];

export const ROLE_CONSTRAINTS = ['no_network_policy', 'no_rbac_changes'] as const;
export type RoleConstraint = (typeof ROLE_CONSTRAINTS)[number];

export interface RolePermissions {
  /** What the role may read (seed scope names). */
  readonly read: readonly string[];
  /** What the role may write (seed scope names). */
  readonly write: readonly string[];
  readonly constraints: readonly RoleConstraint[];
  /** Quality assurance may veto: a failed mandatory verification stage refuses the approval. */
  readonly veto_power: boolean;
}

function freezePermissions(p: RolePermissions): RolePermissions {
  return Object.freeze({
    read: Object.freeze([...p.read]),
    write: Object.freeze([...p.write]),
    constraints: Object.freeze([...p.constraints]),
    veto_power: p.veto_power,
  });
}

/** The seed's `agent_permissions` table, one row per role. */
export const ROLE_PERMISSIONS: Readonly<Record<AgentRole, RolePermissions>> = Object.freeze({
  monitoring: freezePermissions({
    read: ['metrics', 'logs', 'events', 'rbac'],
    write: [],
    constraints: [],
    veto_power: false,
  }),
  'problem-solver': freezePermissions({
    read: ['incidents', 'configs', 'git_history'],
    write: ['rca_reports', 'fix_proposals'],
    constraints: [],
    veto_power: false,
  }),
  // Not in the seed: reads what the risk decision needs, writes only the decision.
  strategy: freezePermissions({
    read: ['incidents', 'rca_reports', 'fix_proposals', 'policies'],
    write: ['approval_decisions'],
    constraints: [],
    veto_power: false,
  }),
  'quality-assurance': freezePermissions({
    read: ['all_artifacts'],
    write: ['verification_reports', 'attestations'],
    constraints: [],
    veto_power: true,
  }),
  // Not in the seed: reads everything it must account for, writes only evidence.
  audit: freezePermissions({
    read: ['all_artifacts'],
    write: ['evidence_summaries'],
    constraints: [],
    veto_power: false,
  }),
  maintenance: freezePermissions({
    read: ['execution_plans', 'rollback_points'],
    // `resourcequotas` is added to the seed's row: the seed allows `resource_quota_adjust` as an
    // automatic action, which its executor could not carry out otherwise.
    write: ['configmaps', 'secrets', 'deployments', 'resourcequotas'],
    constraints: ['no_network_policy', 'no_rbac_changes'],
    veto_power: false,
  }),
});

export function isAgentRole(value: unknown): value is AgentRole {
  return typeof value === 'string' && (AGENT_ROLES as readonly string[]).includes(value);
}

export function isPartyRole(value: unknown): value is PartyRole {
  return typeof value === 'string' && (PARTY_ROLES as readonly string[]).includes(value);
}

export const AUTO_ACTIONS = [
  'configmap_reload',
  'secret_template_render',
  'image_rollback',
  'resource_quota_adjust',
  'pod_restart',
] as const;
export const HUMAN_ACTIONS = [
  'rbac_changes',
  'network_policy_mods',
  'pvc_deletion',
  'ingress_changes',
  'cert_management',
] as const;
export const ACTIONS = [...AUTO_ACTIONS, ...HUMAN_ACTIONS] as const;
export type ActionName = (typeof ACTIONS)[number];

export function isActionName(value: unknown): value is ActionName {
  return typeof value === 'string' && (ACTIONS as readonly string[]).includes(value);
}

/** Kubernetes kinds a resource URI (`kind://namespace/name`) may name, lower-case. */
export const RESOURCE_KINDS = [
  'configmap',
  'secret',
  'deployment',
  'statefulset',
  'daemonset',
  'pod',
  'resourcequota',
  'limitrange',
  'role',
  'rolebinding',
  'clusterrole',
  'clusterrolebinding',
  'serviceaccount',
  'networkpolicy',
  'persistentvolumeclaim',
  'ingress',
  'certificate',
] as const;
export type ResourceKind = (typeof RESOURCE_KINDS)[number];

/** Kinds that have no namespace. */
export const CLUSTER_SCOPED_KINDS: readonly ResourceKind[] = Object.freeze([
  'clusterrole',
  'clusterrolebinding',
]);

/** Kinds each constraint forbids the constrained role to touch. */
export const CONSTRAINT_KINDS: Readonly<Record<RoleConstraint, readonly ResourceKind[]>> = Object.freeze({
  no_network_policy: Object.freeze(['networkpolicy'] as const),
  no_rbac_changes: Object.freeze(['role', 'rolebinding', 'clusterrole', 'clusterrolebinding'] as const),
});

export interface ActionSpec {
  /** Kinds the action's target may be. */
  readonly target_kinds: readonly ResourceKind[];
  /** The write scope (seed scope name) the executor needs. */
  readonly writes: string;
  /** Who carries the action out once approved. Human actions are done by a person, never by maintenance. */
  readonly executor: 'maintenance' | 'human';
}

const WORKLOADS: readonly ResourceKind[] = ['deployment', 'statefulset', 'daemonset'];

function spec(s: ActionSpec): ActionSpec {
  return Object.freeze({ ...s, target_kinds: Object.freeze([...s.target_kinds]) });
}

/** What each known action touches. The policy decides which of them a party approves. */
export const ACTION_SPECS: Readonly<Record<ActionName, ActionSpec>> = Object.freeze({
  configmap_reload: spec({ target_kinds: ['configmap'], writes: 'configmaps', executor: 'maintenance' }),
  secret_template_render: spec({ target_kinds: ['secret'], writes: 'secrets', executor: 'maintenance' }),
  image_rollback: spec({ target_kinds: WORKLOADS, writes: 'deployments', executor: 'maintenance' }),
  resource_quota_adjust: spec({
    target_kinds: ['resourcequota'],
    writes: 'resourcequotas',
    executor: 'maintenance',
  }),
  pod_restart: spec({ target_kinds: WORKLOADS, writes: 'deployments', executor: 'maintenance' }),
  rbac_changes: spec({
    target_kinds: ['role', 'rolebinding', 'clusterrole', 'clusterrolebinding'],
    writes: 'rbac',
    executor: 'human',
  }),
  network_policy_mods: spec({
    target_kinds: ['networkpolicy'],
    writes: 'network_policies',
    executor: 'human',
  }),
  pvc_deletion: spec({
    target_kinds: ['persistentvolumeclaim'],
    writes: 'persistentvolumeclaims',
    executor: 'human',
  }),
  ingress_changes: spec({ target_kinds: ['ingress'], writes: 'ingresses', executor: 'human' }),
  cert_management: spec({
    target_kinds: ['certificate', 'secret'],
    writes: 'certificates',
    executor: 'human',
  }),
} satisfies Record<ActionName, ActionSpec>);
