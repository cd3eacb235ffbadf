/**
 * Monitoring: normalise an incoming `IncidentSignal`, classify it on its own reading of the
 * signal's text and facts, and give dedup hints. A signal nothing recognises, or one that reads as
 * two different incident types, is `unknown` and goes to a human: it is never fixed automatically.
 *
 * It reads the metadata keys the intake adapters fill: `reason`, `messages` (free text),
 * `labels` (alert labels), `namespace`, the parsed facts `quota`, `missing_config`, `rbac`,
 * `image`, `limit_range`, `signature_denial`, and the dedup ids `fingerprint`, `group_key`,
 * `delivery_id`.
 */
import type { EnvelopeContext, IncidentSignalPayload } from '@aaps/mpc-core';
import { canonicalBytes, ValidationError } from '@aaps/mpc-core';
import { sha256 } from '@noble/hashes/sha2.js';
import { bytesToHex } from '@noble/hashes/utils.js';
import { isPlainObject } from '../policy/reader.js';

export const INCIDENT_TYPES = [
  'config_validation_failed',
  'image_signature_failed',
  'resource_quota_exceeded',
  'unknown',
] as const;
export type IncidentType = (typeof INCIDENT_TYPES)[number];

export type IncidentSubtype =
  | 'missing_key'
  | 'missing_object'
  | 'yaml_syntax'
  | 'env_var'
  | 'config_error'
  | 'signature_mismatch'
  | 'pull_failure'
  | 'quota_exceeded'
  | 'limit_violation'
  | 'rbac_denied'
  | 'unclassified'
  | 'ambiguous';

export interface QuotaFigure {
  resource: string;
  requested: string;
  used: string;
  limited: string;
}

/** What the signal says, in one normalised shape. */
export interface IncidentFacts {
  namespace: string;
  /** `origin`: a "not found" message, the intake's parsed facts, or only the affected resources. */
  config?: {
    kind: 'configmap' | 'secret';
    namespace: string;
    name: string;
    key?: string;
    origin: 'message' | 'intake' | 'resource';
  };
  env_var?: string;
  image?: { ref: string; digest?: string };
  quota?: { name: string; namespace: string; figures: QuotaFigure[] };
  limit?: { resource: string; scope: string; maximum: string; requested: string };
  rbac?: { user: string; verb: string; resource: string; api_group: string; namespace?: string };
  /** Workload and pod URIs among the affected resources. */
  workloads: string[];
  pods: string[];
}

export interface Triage {
  incident_type: IncidentType;
  subtype: IncidentSubtype;
  /** The rules that matched, first the deciding one. */
  matched: string[];
  /** `auto` may be fixed by an approved action; `human` goes to a person. */
  route: 'auto' | 'human';
  /** The type the intake gave, when it gave one. */
  intake_type?: string;
  facts: IncidentFacts;
  dedup: { key: string; fingerprint?: string; group_key?: string; delivery_id?: string };
}

export interface MonitoringInput {
  incident_id: string;
  context: EnvelopeContext;
  signal: IncidentSignalPayload;
}

/** The monitoring agent's `IncidentSignal` payload: the signal, normalised, with its triage. */
export interface TriagedSignal extends IncidentSignalPayload {
  incident_id: string;
  triage: Triage;
}

interface Match {
  type: Exclude<IncidentType, 'unknown'>;
  subtype: IncidentSubtype;
  rule: string;
}

const SEVERITIES = ['high', 'medium', 'low'] as const;

export function runMonitoringStep(input: MonitoringInput): TriagedSignal {
  const { signal, context } = input;
  if (!isPlainObject(signal) || !isPlainObject(signal.metadata)) {
    throw new ValidationError('INVALID_ARGUMENT', 'signal: expected an IncidentSignal payload', ['signal']);
  }
  const meta = signal.metadata;
  const namespace = str(context?.namespace) ?? str(meta['namespace']) ?? 'default';
  const affected = normaliseUris(signal.affected_resources);
  const evidence = unique(strings(signal.evidence_refs).map((s) => s.trim())).sort();
  const texts = [...strings(meta['messages']), ...optional(str(meta['message']))];
  const labels = isPlainObject(meta['labels']) ? meta['labels'] : {};
  const reason = str(meta['reason']) ?? str(labels['reason']) ?? '';
  const alertname = str(labels['alertname']) ?? str(meta['alertname']) ?? '';

  const facts = extractFacts(meta, texts, namespace, affected);
  const matches = classify(reason, texts, alertname, facts);
  const types = unique(matches.map((m) => m.type));
  const intakeType = str(signal.incident_type);

  let incidentType: IncidentType;
  let subtype: IncidentSubtype;
  if (types.length === 1) {
    incidentType = types[0]!;
    subtype = matches[0]!.subtype;
  } else {
    incidentType = 'unknown';
    subtype = types.length === 0 ? 'unclassified' : 'ambiguous';
  }
  // Two independent readings that disagree go to a human rather than to either fix.
  if (incidentType !== 'unknown' && intakeType && intakeType !== 'unknown' && intakeType !== incidentType) {
    incidentType = 'unknown';
    subtype = 'ambiguous';
  }

  const dedup: Triage['dedup'] = {
    key: bytesToHex(
      sha256(
        canonicalBytes({
          domain: 'aaps.dedup.v1',
          incident_type: incidentType,
          subtype,
          namespace,
          resources: affected,
        }),
      ),
    ),
  };
  for (const k of ['fingerprint', 'group_key', 'delivery_id'] as const) {
    const v = str(meta[k]) ?? (k === 'group_key' ? str(meta['groupKey']) : undefined);
    if (v) dedup[k] = v;
  }

  const triage: Triage = {
    incident_type: incidentType,
    subtype,
    matched: matches.map((m) => m.rule),
    route: incidentType === 'unknown' ? 'human' : 'auto',
    facts,
    dedup,
  };
  if (intakeType) triage.intake_type = intakeType;

  return {
    incident_id: input.incident_id,
    incident_type: incidentType,
    severity: (SEVERITIES as readonly string[]).includes(signal.severity) ? signal.severity : 'high',
    affected_resources: affected,
    evidence_refs: evidence,
    metadata: meta,
    triage,
  };
}

function classify(reason: string, texts: readonly string[], alertname: string, f: IncidentFacts): Match[] {
  const all = texts.join('\n');
  const out: Match[] = [];
  const add = (type: Match['type'], subtype: IncidentSubtype, rule: string, hit: boolean) => {
    if (hit) out.push({ type, subtype, rule });
  };
  // Image: an admission denial by a signature policy controller, or a pull failure.
  add(
    'image_signature_failed',
    'signature_mismatch',
    'image.signature',
    /(signature|cosign|sigstore|attestor|verifyImages|image verification|no matching signatures)/i.test(
      all,
    ) && /(denied|admission webhook|blocked|failed|mismatch)/i.test(all),
  );
  add(
    'image_signature_failed',
    'pull_failure',
    'image.pull',
    /^(ErrImagePull|ImagePullBackOff|ErrImageNeverPull|InvalidImageName)$/.test(reason) ||
      /Failed to pull image|Back-off pulling image|manifest unknown|pull access denied/i.test(all),
  );
  // Quota, limits, RBAC.
  add(
    'resource_quota_exceeded',
    'quota_exceeded',
    'quota.exceeded',
    f.quota !== undefined || /exceeded quota/i.test(all),
  );
  add(
    'resource_quota_exceeded',
    'limit_violation',
    'quota.limit_range',
    f.limit !== undefined ||
      /maximum \S+ usage per (Container|Pod)|must specify (limits|requests)/i.test(all),
  );
  add(
    'resource_quota_exceeded',
    'rbac_denied',
    'rbac.forbidden',
    f.rbac !== undefined || /forbidden: User "[^"]+" cannot/i.test(all),
  );
  // ConfigMap / Secret.
  add(
    'config_validation_failed',
    f.config?.key ? 'missing_key' : 'missing_object',
    'config.missing',
    f.config !== undefined && f.config.origin !== 'resource',
  );
  add(
    'config_validation_failed',
    'yaml_syntax',
    'config.syntax',
    /error converting YAML to JSON|yaml: line \d+|(invalid|malformed) (yaml|json)|cannot unmarshal|mapping values are not allowed/i.test(
      all,
    ),
  );
  add('config_validation_failed', 'env_var', 'config.env_var', f.env_var !== undefined);
  add(
    'config_validation_failed',
    'config_error',
    'config.reason',
    /^(CreateContainerConfigError)$/.test(reason) &&
      (f.config === undefined || f.config.origin === 'resource'),
  );
  if (out.length === 0 && alertname !== '') {
    if (/quota|limitrange/i.test(alertname))
      out.push({ type: 'resource_quota_exceeded', subtype: 'quota_exceeded', rule: 'alert.name' });
    else if (/signature|cosign|imagepull/i.test(alertname)) {
      out.push({ type: 'image_signature_failed', subtype: 'pull_failure', rule: 'alert.name' });
    } else if (/configmap|secret/i.test(alertname)) {
      out.push({ type: 'config_validation_failed', subtype: 'config_error', rule: 'alert.name' });
    }
  }
  // A signature denial is also an image failure, never a pull problem to retry.
  const sig = out.findIndex((m) => m.subtype === 'signature_mismatch');
  if (sig > 0) out.unshift(...out.splice(sig, 1));
  return out;
}

function extractFacts(
  meta: Record<string, unknown>,
  texts: readonly string[],
  namespace: string,
  affected: readonly string[],
): IncidentFacts {
  const all = texts.join('\n');
  const facts: IncidentFacts = {
    namespace,
    workloads: affected.filter((u) => /^(deployment|statefulset|daemonset):\/\//.test(u)),
    pods: affected.filter((u) => u.startsWith('pod://')),
  };

  // ConfigMap / Secret: kubelet's "couldn't find key K in ConfigMap ns/name", "configmap "x" not found".
  const key =
    /couldn't find key ([A-Za-z0-9._-]+) in (ConfigMap|Secret) (?:([a-z0-9.-]+)\/)?([a-z0-9.-]+)/.exec(all);
  const whole = /\b(configmap|secret)s? "([a-z0-9.-]+)" not found/i.exec(all);
  const mc = isPlainObject(meta['missing_config']) ? meta['missing_config'] : undefined;
  if (key) {
    facts.config = {
      kind: key[2] === 'Secret' ? 'secret' : 'configmap',
      namespace: key[3] ?? namespace,
      name: key[4]!,
      key: key[1]!,
      origin: 'message',
    };
  } else if (whole) {
    facts.config = {
      kind: whole[1]!.toLowerCase() === 'secret' ? 'secret' : 'configmap',
      namespace,
      name: whole[2]!,
      origin: 'message',
    };
  } else if (mc && str(mc['name'])) {
    const kind = str(mc['kind'])?.toLowerCase() === 'secret' ? 'secret' : 'configmap';
    facts.config = {
      kind,
      namespace: str(mc['namespace']) ?? namespace,
      name: str(mc['name'])!,
      origin: 'intake',
    };
    const k = str(mc['key']);
    if (k) facts.config.key = k;
  }
  if (!facts.config) {
    // A syntax error names no object; the resource the source reported (e.g. Argo CD's sync result) does.
    const configs = affected.filter((u) => /^(configmap|secret):\/\/[^/]+\/[^/]+$/.test(u));
    if (configs.length === 1) {
      const [kind, rest] = configs[0]!.split('://') as [string, string];
      const [ns, name] = rest.split('/') as [string, string];
      facts.config = {
        kind: kind === 'secret' ? 'secret' : 'configmap',
        namespace: ns,
        name,
        origin: 'resource',
      };
    }
  }
  const env =
    /(?:environment variable|env var(?:iable)?)\s+"?([A-Za-z_][A-Za-z0-9_]*)"?\s+(?:is\s+)?(?:missing|not set|undefined|required|invalid)/i.exec(
      all,
    );
  if (env) facts.env_var = env[1]!;

  // Image.
  const image =
    /image "([^"\s]+)"/.exec(all)?.[1] ??
    (isPlainObject(meta['image']) ? str(meta['image']['ref']) : undefined) ??
    /[a-z0-9][a-z0-9.-]*(?::\d+)?(?:\/[a-z0-9._-]+)+(?::[A-Za-z0-9._-]+)?@sha256:[a-f0-9]{64}/.exec(all)?.[0];
  if (image) {
    const digest = /@(sha256:[a-f0-9]{64})$/.exec(image)?.[1];
    facts.image = digest ? { ref: image, digest } : { ref: image };
  }

  // Quota: "exceeded quota: NAME, requested: a=1,b=2, used: a=3, limited: a=4", or the intake's parsed facts.
  const q = /exceeded quota: ([^,\s]+), requested: (\S+?), used: (\S+?), limited: ([^\s"\]]+)/.exec(all);
  const mq = isPlainObject(meta['quota']) ? meta['quota'] : undefined;
  const quota = q
    ? { name: q[1]!, requested: pairs(q[2]!), used: pairs(q[3]!), limited: pairs(q[4]!) }
    : mq && str(mq['quota'])
      ? {
          name: str(mq['quota'])!,
          requested: stringMap(mq['requested']),
          used: stringMap(mq['used']),
          limited: stringMap(mq['limited']),
        }
      : undefined;
  if (quota) {
    const figures = Object.keys(quota.requested)
      .filter((r) => quota.used[r] !== undefined && quota.limited[r] !== undefined)
      .sort()
      .map((resource) => ({
        resource,
        requested: quota.requested[resource]!,
        used: quota.used[resource]!,
        limited: quota.limited[resource]!,
      }));
    facts.quota = { name: quota.name, namespace: (mq && str(mq['namespace'])) || namespace, figures };
  }

  const lr =
    /maximum (\S+) usage per (Container|Pod) is ([^,\s]+), +but (?:limit|request) is ([^\s,\]]+)/.exec(all);
  if (lr) facts.limit = { resource: lr[1]!, scope: lr[2]!, maximum: lr[3]!, requested: lr[4]! };

  const rb =
    /forbidden: User "([^"]+)" cannot (\S+) resource "([^"]+)" in API group "([^"]*)"(?: in the namespace "([^"]+)")?/.exec(
      all,
    );
  if (rb) {
    facts.rbac = { user: rb[1]!, verb: rb[2]!, resource: rb[3]!, api_group: rb[4]! };
    if (rb[5]) facts.rbac.namespace = rb[5];
  }
  return facts;
}

function pairs(list: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const part of list.split(',')) {
    const eq = part.indexOf('=');
    if (eq > 0) out[part.slice(0, eq).trim()] = part.slice(eq + 1).trim();
  }
  return out;
}

function normaliseUris(list: unknown): string[] {
  return unique(
    strings(list)
      .map((u) => u.trim())
      .filter((u) => u.length > 0)
      .map((u) => {
        const i = u.indexOf('://');
        return i > 0 ? `${u.slice(0, i).toLowerCase()}${u.slice(i)}` : u;
      }),
  ).sort();
}

function str(v: unknown): string | undefined {
  return typeof v === 'string' && v.length > 0 ? v : undefined;
}

function strings(v: unknown): string[] {
  return Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : [];
}

function stringMap(v: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  if (isPlainObject(v)) for (const [k, x] of Object.entries(v)) if (typeof x === 'string') out[k] = x;
  return out;
}

function optional<T>(v: T | undefined): T[] {
  return v === undefined ? [] : [v];
}

function unique<T>(list: readonly T[]): T[] {
  return [...new Set(list)];
}
