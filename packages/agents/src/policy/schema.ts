/**
 * A party's policy, as data: which actions it approves on its own, which need a signed human
 * approval, and the bounds it holds proposals to. `parsePolicy` is the strict loader: unknown
 * fields, unknown actions, an action listed twice and out-of-range bounds are all reported at
 * once as dot paths.
 */

import { imageRepository } from './parameters.js';
import { parseQuantity } from './quantity.js';
import { Reader } from './reader.js';
import { ACTIONS, type ActionName, AGENT_ROLES, type AgentRole } from './roles.js';

export const POLICY_SCHEMA_VERSION = 'aaps.policy.v1';

export const VERIFICATION_STAGES = [
  'schema_validation',
  'policy_compliance',
  'sbom_scan',
  'signature_verify',
  'attestation_check',
  'test_coverage',
  'security_scan',
  'post_change_check',
] as const;
export type VerificationStageName = (typeof VERIFICATION_STAGES)[number];

export const SEVERITIES = ['low', 'medium', 'high', 'critical'] as const;
export type Severity = (typeof SEVERITIES)[number];

export interface PolicyBounds {
  /** Namespaces a target may be in: `allow` (`*` for any) minus `deny`. */
  namespaces: { allow: string[]; deny: string[] };
  /** Highest risk score (0..100) approved without a human. */
  max_auto_risk_score: number;
  /** Highest risk score approved at all, even with a human approval. */
  max_risk_score: number;
  resource_quota: {
    /** A new hard limit may be at most this many times the current one. */
    max_increase_factor: number;
    /** Quota resources (`requests.cpu`, `limits.memory`, `pods`, …) that may be adjusted. */
    resources: string[];
    /**
     * The highest hard limit this party approves for each resource in `resources`, as a Kubernetes
     * quantity (`64`, `256Gi`). The factor is relative to a current limit only the gateway reports;
     * this cap is the party's own figure. Required for every listed resource (a cap the file does
     * not state would have to be made up here), and for no other.
     */
    max_hard: Record<string, string>;
  };
  image_rollback: {
    /** A rollback to a named image must pin it by digest (`@sha256:`). */
    require_digest: boolean;
    /**
     * Image repositories a rollback to a named image may target: an entry ending in `/` is a
     * prefix (`registry.example/shop/`), any other names one repository exactly. Absent: any image
     * (the default, so existing policies keep working); empty: none. Departments should set it: the
     * image comes from deployment history the gateway reports, and a digest says nothing of whose
     * image it is.
     */
    allowed_image_prefixes?: string[];
  };
}

export interface HumanApprovalRules {
  /** Longest validity window (`expires_at - approved_at`) accepted. */
  max_validity_seconds: number;
  /** Tolerance for an `approved_at` slightly in the future. */
  clock_skew_seconds: number;
}

export interface VerificationRules {
  /** A failed mandatory stage is a veto. */
  mandatory: VerificationStageName[];
  /** A skipped stage here counts as failed: its data must be present. */
  require_data: VerificationStageName[];
  /** A vulnerability or finding at or above this severity fails the scan stages. */
  fail_severity: Severity;
  /** Minimal line coverage (0..1) for `test_coverage`. */
  min_test_coverage: number;
}

/**
 * When this party releases its share of a sealed field (docs/sealing.md). Absent: it releases
 * nothing (rule `unseal.disabled`).
 */
/** The shortest reason (trimmed) a party whose policy has `unseal.require_reason` takes. */
export const MIN_UNSEAL_REASON = 8;

export interface UnsealRules {
  /** Roster approver ids this party releases to (`*`: any roster approver). */
  approvers: string[];
  /** JSON pointer patterns of fields it releases (`*` one segment, `**` any run; `/**`: all). */
  paths: string[];
  /** Detector kinds it releases for (`*`: any; the kind the gateway recorded at intake). */
  detectors: string[];
  /** A request must give a reason of at least {@link MIN_UNSEAL_REASON} characters (trimmed). */
  require_reason: boolean;
  /** Most fields one request may ask this party for. */
  max_fields_per_request: number;
  /** Oldest request accepted: seconds since its `issued_at`. */
  max_request_age_seconds: number;
}

export interface Policy {
  schema_version: typeof POLICY_SCHEMA_VERSION;
  role: AgentRole;
  allowed_auto_actions: ActionName[];
  require_human_approval: ActionName[];
  bounds: PolicyBounds;
  evidence: { min_refs: number };
  human_approval: HumanApprovalRules;
  verification: VerificationRules;
  unseal?: UnsealRules;
  /** This department's own view of risk, used for its private input to a pooled score. */
  risk?: DepartmentRiskView;
  /** Who may author this party's caller-supplied aggregation inputs. Absent: anyone (unauthenticated). */
  aggregation?: AggregationRules;
}

/**
 * The department's rules for secret-shared aggregation (docs/aggregation.md, "Department-signed
 * inputs").
 */
export interface AggregationRules {
  /**
   * The Ed25519 keys allowed to author this party's sealed inputs (`agg.deal`'s `input`): with the
   * list set, a box whose statement is not signed by one of them, for this session, party, roster
   * and circuit, is refused (`INPUT_UNAUTHENTICATED`); an empty list refuses every sealed input.
   */
  input_signers: InputSigner[];
}

/** One key allowed to sign a party's aggregation inputs. */
export interface InputSigner {
  /** The name the party's audit trail records for inputs this key signed. */
  id: string;
  /** Ed25519 public key, 32 bytes as lower-case hex. */
  public_key: string;
}

/**
 * A department's private risk view: its score for a proposal is
 * `clamp(round(formula * weight_percent / 100) + offset, 0, 100)`. Absent: the formula itself.
 */
export interface DepartmentRiskView {
  weight_percent: number;
  offset: number;
  /**
   * Refuse every proposal that carries no pooled score (`risk.aggregation_ref`), so a gateway
   * cannot fall back to the formula by leaving it out (rule `risk.pooled_required`). Absent: false.
   */
  require_pooled?: boolean;
  /**
   * This party's own view of where namespaces run: a namespace name, or a prefix ending in `*`
   * (`team-*`; `*` alone is every namespace), mapped to `production`, `staging` or `development`.
   * An exact name beats a prefix, a longer prefix a shorter one; an unmapped namespace (and a
   * cluster-scoped target) is `unknown`, which weighs like production. A proposal that declares a
   * lighter environment than this view is refused (`risk.environment_understated`): the declared
   * one comes from the gateway. Absent: every namespace is `unknown`.
   */
  environments?: Record<string, MappedEnvironment>;
}

/** The environments a policy may map a namespace to (`unknown` is what unmapped means). */
export const MAPPED_ENVIRONMENTS = ['production', 'staging', 'development'] as const;
export type MappedEnvironment = (typeof MAPPED_ENVIRONMENTS)[number];

const NAMESPACE_PATTERN = /^(\*|[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?)$/;
/** A namespace name, or a prefix of one ending in `*` (`*` alone: any namespace). */
const NAMESPACE_KEY = /^([a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?|[a-z0-9-]{0,62}\*)$/;
const QUOTA_RESOURCE = /^[a-z0-9]([-a-z0-9./]{0,126}[a-z0-9])?$/;
/** An image repository (`registry.example/shop/web`) or a prefix of whole components (`…/shop/`). */
const IMAGE_PREFIX = /^[a-z0-9][a-z0-9._:/-]{0,254}$/;

/** Validate untrusted JSON into a {@link Policy}; throws `ValidationError` with every bad field. */
export function parsePolicy(json: unknown): Policy {
  const r = new Reader();
  const o = r.object(
    json,
    '',
    [
      'schema_version',
      'role',
      'allowed_auto_actions',
      'require_human_approval',
      'bounds',
      'evidence',
      'human_approval',
      'verification',
    ],
    ['unseal', 'risk', 'aggregation'],
  );
  if (!o) r.throwIfAny('policy');
  const obj = o!;
  if (obj['schema_version'] !== POLICY_SCHEMA_VERSION) {
    r.report('schema_version', `expected ${POLICY_SCHEMA_VERSION}`);
  }
  const role = r.oneOf(obj['role'], 'role', AGENT_ROLES);
  const action = (v: unknown, p: string) => r.oneOf(v, p, ACTIONS);
  const auto = r.array(obj['allowed_auto_actions'], 'allowed_auto_actions', action, { unique: true }) ?? [];
  const human =
    r.array(obj['require_human_approval'], 'require_human_approval', action, { unique: true }) ?? [];
  human.forEach((a, i) => {
    if (auto.includes(a)) r.report(`require_human_approval.${i}`, `${a} is also in allowed_auto_actions`);
  });

  const bounds = readBounds(r, obj['bounds']);
  const ev = r.object(obj['evidence'], 'evidence', ['min_refs']);
  const minRefs = ev && r.number(ev['min_refs'], 'evidence.min_refs', 1, 64, true);
  const ha = r.object(obj['human_approval'], 'human_approval', [
    'max_validity_seconds',
    'clock_skew_seconds',
  ]);
  const maxValidity =
    ha && r.number(ha['max_validity_seconds'], 'human_approval.max_validity_seconds', 1, 604800, true);
  const skew = ha && r.number(ha['clock_skew_seconds'], 'human_approval.clock_skew_seconds', 0, 3600, true);
  const verification = readVerification(r, obj['verification']);
  const unseal = obj['unseal'] === undefined ? undefined : readUnseal(r, obj['unseal']);
  const riskView = obj['risk'] === undefined ? undefined : readRiskView(r, obj['risk']);
  const aggregation = obj['aggregation'] === undefined ? undefined : readAggregation(r, obj['aggregation']);

  r.throwIfAny('policy');
  return {
    schema_version: POLICY_SCHEMA_VERSION,
    role: role!,
    allowed_auto_actions: auto,
    require_human_approval: human,
    bounds: bounds!,
    evidence: { min_refs: minRefs! },
    human_approval: { max_validity_seconds: maxValidity!, clock_skew_seconds: skew! },
    verification: verification!,
    ...(unseal === undefined ? {} : { unseal }),
    ...(riskView === undefined ? {} : { risk: riskView }),
    ...(aggregation === undefined ? {} : { aggregation }),
  };
}

/** An input signer's id: what the audit trail names, so printable and bounded. */
const SIGNER_ID = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$/;

/** Whether `id` is spelled as an `aggregation.input_signers[].id`. */
export function isInputSignerId(id: string): boolean {
  return SIGNER_ID.test(id);
}
const PUBLIC_KEY_HEX = /^[0-9a-f]{64}$/;

function readAggregation(r: Reader, value: unknown): AggregationRules | undefined {
  const a = r.object(value, 'aggregation', ['input_signers']);
  if (!a) return undefined;
  const path = 'aggregation.input_signers';
  const signers = r.array(
    a['input_signers'],
    path,
    (v, p) => {
      const s = r.object(v, p, ['id', 'public_key']);
      if (!s) return undefined;
      const id = r.string(s['id'], `${p}.id`, { pattern: SIGNER_ID, max: 128 });
      const key =
        typeof s['public_key'] === 'string' && PUBLIC_KEY_HEX.test(s['public_key'])
          ? s['public_key']
          : r.report(`${p}.public_key`, 'expected an Ed25519 public key: 32 bytes as lower-case hex');
      return id === undefined || key === undefined ? undefined : { id, public_key: key };
    },
    { max: 256 },
  );
  if (signers === undefined) return undefined;
  // One id per key and one key per id: the audit trail names the signer by its id. Indexes are the
  // file's (an item reported above is skipped, not renumbered).
  const raw = a['input_signers'] as unknown[];
  for (const field of ['id', 'public_key'] as const) {
    const first = new Map<unknown, number>();
    raw.forEach((item, i) => {
      const v =
        item !== null && typeof item === 'object' ? (item as Record<string, unknown>)[field] : undefined;
      if (typeof v !== 'string') return;
      const at = first.get(v);
      if (at === undefined) first.set(v, i);
      else r.report(`${path}.${i}.${field}`, `duplicate of ${path}.${at}.${field}`);
    });
  }
  return { input_signers: signers };
}

function readRiskView(r: Reader, value: unknown): DepartmentRiskView | undefined {
  const v = r.object(value, 'risk', [], ['weight_percent', 'offset', 'require_pooled', 'environments']);
  if (!v) return undefined;
  const weight =
    v['weight_percent'] === undefined
      ? 100
      : r.number(v['weight_percent'], 'risk.weight_percent', 0, 400, true);
  const offset = v['offset'] === undefined ? 0 : r.number(v['offset'], 'risk.offset', -100, 100, true);
  const requirePooled =
    v['require_pooled'] === undefined ? undefined : r.boolean(v['require_pooled'], 'risk.require_pooled');
  const environments = v['environments'] === undefined ? undefined : readEnvironments(r, v['environments']);
  return {
    weight_percent: weight ?? 100,
    offset: offset ?? 0,
    ...(requirePooled === undefined ? {} : { require_pooled: requirePooled }),
    ...(environments === undefined ? {} : { environments }),
  };
}

function readEnvironments(r: Reader, value: unknown): Record<string, MappedEnvironment> | undefined {
  const path = 'risk.environments';
  const o = r.object(value, path, [], Object.keys(value ?? {}));
  if (!o) return undefined;
  if (Object.keys(o).length > 1024) return r.report(path, 'expected at most 1024 entries');
  const out: Record<string, MappedEnvironment> = {};
  for (const [key, env] of Object.entries(o)) {
    if (!NAMESPACE_KEY.test(key)) {
      r.report(`${path}.${key}`, 'expected a namespace or a prefix ending in *');
      continue;
    }
    const e = r.oneOf(env, `${path}.${key}`, MAPPED_ENVIRONMENTS);
    if (e !== undefined) out[key] = e;
  }
  return out;
}

const APPROVER_ID = /^(\*|[A-Za-z0-9][A-Za-z0-9._:-]{0,127})$/;
const POINTER_PATTERN = /^(\/[^/]*)+$/;
const DETECTOR = /^(\*|[a-z][a-z0-9-]{0,62})$/;

function readUnseal(r: Reader, value: unknown): UnsealRules | undefined {
  const u = r.object(value, 'unseal', [
    'approvers',
    'paths',
    'detectors',
    'require_reason',
    'max_fields_per_request',
    'max_request_age_seconds',
  ]);
  if (!u) return undefined;
  const item = (pattern: RegExp) => (v: unknown, p: string) => r.string(v, p, { pattern, max: 512 });
  return {
    approvers: r.array(u['approvers'], 'unseal.approvers', item(APPROVER_ID), { unique: true }) ?? [],
    paths: r.array(u['paths'], 'unseal.paths', item(POINTER_PATTERN), { unique: true }) ?? [],
    detectors: r.array(u['detectors'], 'unseal.detectors', item(DETECTOR), { unique: true }) ?? [],
    require_reason: r.boolean(u['require_reason'], 'unseal.require_reason') ?? true,
    max_fields_per_request:
      r.number(u['max_fields_per_request'], 'unseal.max_fields_per_request', 1, 1024, true) ?? 1,
    max_request_age_seconds:
      r.number(u['max_request_age_seconds'], 'unseal.max_request_age_seconds', 1, 86400, true) ?? 1,
  };
}

function readBounds(r: Reader, value: unknown): PolicyBounds | undefined {
  const b = r.object(value, 'bounds', [
    'namespaces',
    'max_auto_risk_score',
    'max_risk_score',
    'resource_quota',
    'image_rollback',
  ]);
  if (!b) return undefined;
  const ns = r.object(b['namespaces'], 'bounds.namespaces', ['allow', 'deny']);
  const nsItem = (v: unknown, p: string) => r.string(v, p, { pattern: NAMESPACE_PATTERN, max: 63 });
  const allow = ns && r.array(ns['allow'], 'bounds.namespaces.allow', nsItem, { unique: true });
  const deny = ns && r.array(ns['deny'], 'bounds.namespaces.deny', nsItem, { unique: true });
  deny?.forEach((d, i) => {
    if (d === '*') r.report(`bounds.namespaces.deny.${i}`, 'deny takes names, not *');
  });
  const maxAuto = r.number(b['max_auto_risk_score'], 'bounds.max_auto_risk_score', 0, 100, true);
  const max = r.number(b['max_risk_score'], 'bounds.max_risk_score', 0, 100, true);
  if (maxAuto !== undefined && max !== undefined && maxAuto > max) {
    r.report('bounds.max_auto_risk_score', 'exceeds bounds.max_risk_score');
  }
  const rq = r.object(
    b['resource_quota'],
    'bounds.resource_quota',
    ['max_increase_factor', 'resources'],
    ['max_hard'],
  );
  const factor =
    rq && r.number(rq['max_increase_factor'], 'bounds.resource_quota.max_increase_factor', 1, 100);
  // Compared as thousandths (rules.ts): 1.001 * 1000 is 1000.9999999999999 in floating point, so
  // the test is whether the nearest thousandth is the same number, not exact multiplication.
  if (factor !== undefined && Math.round(factor * 1000) / 1000 !== factor) {
    r.report('bounds.resource_quota.max_increase_factor', 'at most three decimals');
  }
  const resources =
    rq &&
    r.array(
      rq['resources'],
      'bounds.resource_quota.resources',
      (v, p) => r.string(v, p, { pattern: QUOTA_RESOURCE, max: 128 }),
      { unique: true },
    );
  const maxHard = rq && readMaxHard(r, rq['max_hard'], resources ?? []);
  const ir = r.object(
    b['image_rollback'],
    'bounds.image_rollback',
    ['require_digest'],
    ['allowed_image_prefixes'],
  );
  const requireDigest = ir && r.boolean(ir['require_digest'], 'bounds.image_rollback.require_digest');
  const prefixes =
    ir?.['allowed_image_prefixes'] === undefined
      ? undefined
      : r.array(
          ir['allowed_image_prefixes'],
          'bounds.image_rollback.allowed_image_prefixes',
          (v, p) => {
            const entry = r.string(v, p, { pattern: IMAGE_PREFIX, max: 255 });
            if (entry === undefined) return undefined;
            // Whole components only: no `@digest`, and nothing a repository name could not be.
            const repository = entry.endsWith('/') ? entry.slice(0, -1) : entry;
            if (repository.split('/').some((c) => c === '' || c === '.' || c === '..')) {
              return r.report(p, 'expected an image repository or a prefix ending in /');
            }
            return entry;
          },
          { unique: true, max: 256 },
        );
  return {
    namespaces: { allow: allow ?? [], deny: deny ?? [] },
    max_auto_risk_score: maxAuto ?? 0,
    max_risk_score: max ?? 0,
    resource_quota: { max_increase_factor: factor ?? 1, resources: resources ?? [], max_hard: maxHard ?? {} },
    image_rollback: {
      require_digest: requireDigest ?? true,
      ...(prefixes === undefined ? {} : { allowed_image_prefixes: prefixes }),
    },
  };
}

/** One cap per listed resource, each a Kubernetes quantity; none for a resource not listed. */
function readMaxHard(
  r: Reader,
  value: unknown,
  resources: readonly string[],
): Record<string, string> | undefined {
  const path = 'bounds.resource_quota.max_hard';
  // A listed resource without a cap is allowed (a policy from before caps loads), and this party
  // then signs no quota change of it (rules.ts, `bounds.quota_max`); the party warns at start.
  if (value === undefined) return {};
  const o = r.object(value, path, [], Object.keys(value ?? {}));
  if (!o) return undefined;
  for (const key of Object.keys(o)) {
    if (!resources.includes(key)) r.report(`${path}.${key}`, 'not in bounds.resource_quota.resources');
  }
  const out: Record<string, string> = {};
  for (const resource of resources) {
    const q = o[resource];
    if (q === undefined) continue; // uncapped: refused at signing
    const at = `${path}.${resource}`;
    if (typeof q !== 'string') {
      r.report(at, 'expected a Kubernetes quantity string');
      continue;
    }
    try {
      parseQuantity(q, at);
      out[resource] = q;
    } catch {
      r.report(at, 'not a Kubernetes quantity');
    }
  }
  return out;
}

function readVerification(r: Reader, value: unknown): VerificationRules | undefined {
  const v = r.object(value, 'verification', [
    'mandatory',
    'require_data',
    'fail_severity',
    'min_test_coverage',
  ]);
  if (!v) return undefined;
  const stage = (x: unknown, p: string) => r.oneOf(x, p, VERIFICATION_STAGES);
  return {
    mandatory: r.array(v['mandatory'], 'verification.mandatory', stage, { unique: true }) ?? [],
    require_data: r.array(v['require_data'], 'verification.require_data', stage, { unique: true }) ?? [],
    fail_severity: r.oneOf(v['fail_severity'], 'verification.fail_severity', SEVERITIES) ?? 'low',
    min_test_coverage: r.number(v['min_test_coverage'], 'verification.min_test_coverage', 0, 1) ?? 1,
  };
}

/**
 * Whether a rollback may target `image`: any image when the policy lists no prefixes, else one
 * whose repository ({@link imageRepository}) is an entry or lies under an entry ending in `/`.
 */
export function isImageAllowed(bounds: PolicyBounds, image: string): boolean {
  const allowed = bounds.image_rollback.allowed_image_prefixes;
  if (allowed === undefined) return true;
  const repository = imageRepository(image);
  if (repository === undefined) return false;
  return allowed.some((a) => (a.endsWith('/') ? repository.startsWith(a) : repository === a));
}

/** Whether `namespace` passes the policy's namespace bounds. */
export function isNamespaceAllowed(bounds: PolicyBounds, namespace: string | undefined): boolean {
  if (namespace === undefined) return bounds.namespaces.allow.includes('*');
  if (bounds.namespaces.deny.includes(namespace)) return false;
  return bounds.namespaces.allow.includes('*') || bounds.namespaces.allow.includes(namespace);
}

/** The quota resources a policy lets be adjusted but sets no cap for (a policy from before caps). */
export function uncappedQuotaResources(policy: Policy): string[] {
  const q = policy.bounds.resource_quota;
  return q.resources.filter((r) => !Object.hasOwn(q.max_hard, r));
}
