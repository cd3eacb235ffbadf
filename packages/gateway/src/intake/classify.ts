/**
 * The first classification of a signal into the three incident types the workflow fixes (or
 * `unknown`, which goes to a human). Pure and deterministic: it reads only these `metadata` keys,
 * which every intake adapter fills, so the monitoring agent can run it again on the payload:
 *
 * - `reason`: the source's reason word (a Kubernetes event reason, an alert's `reason` label);
 * - `messages`: the free text to read (event messages, sync results, alert annotations);
 * - `labels`: alert labels (`alertname`, `severity`);
 * - `namespace`: where resources named without a namespace live.
 */
import {
  isConfigSyntaxError,
  isImagePullFailure,
  parseImageRef,
  parseLimitRange,
  parseMissingConfig,
  parseQuotaExceeded,
  parseRbacForbidden,
  parseSignatureDenial,
  splitImageRef,
} from './parse-messages.js';
import type { IncidentType, Severity, Urgency } from './types.js';

export const CLASSIFY_RULES = [
  'image.signature_denied',
  'quota.exceeded',
  'limit_range.exceeded',
  'rbac.forbidden',
  'config.missing',
  'config.syntax',
  'config.reason',
  'image.pull_failed',
  'alert.name',
  'none',
] as const;
export type ClassifyRule = (typeof CLASSIFY_RULES)[number];

export interface Classification {
  incident_type: IncidentType;
  severity: Severity;
  urgency: Urgency;
  /** Which rule decided. */
  rule: ClassifyRule;
  /** Parsed facts for `metadata`: `quota`, `limit_range`, `rbac`, `missing_config`, `image`, `signature_denial`. */
  facts: Record<string, unknown>;
  /** Resource URIs the facts name (`configmap://ns/name`, `image://repo@digest`...). */
  affected_resources: string[];
}

export interface ClassifyInput {
  metadata: Record<string, unknown>;
}

const DEFAULT_SEVERITY: Record<IncidentType, Severity> = {
  config_validation_failed: 'high',
  image_signature_failed: 'high',
  resource_quota_exceeded: 'medium',
  unknown: 'medium',
};

const URGENCY: Record<Severity, Urgency> = { high: 'P1', medium: 'P2', low: 'P3' };

function stringField(meta: Record<string, unknown>, key: string): string | undefined {
  const v = meta[key];
  return typeof v === 'string' ? v : undefined;
}

function stringList(v: unknown): string[] {
  return Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : [];
}

function stringMap(v: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return out;
  for (const [k, x] of Object.entries(v)) if (typeof x === 'string') out[k] = x;
  return out;
}

/** Alertmanager/Prometheus severity words to ours. */
export function severityFromLabel(label: string | undefined): Severity | undefined {
  switch (label?.toLowerCase()) {
    case 'critical':
    case 'page':
    case 'high':
    case 'error':
      return 'high';
    case 'warning':
    case 'warn':
    case 'medium':
      return 'medium';
    case 'info':
    case 'low':
    case 'none':
      return 'low';
    default:
      return undefined;
  }
}

interface Decision {
  type: IncidentType;
  rule: ClassifyRule;
  facts: Record<string, unknown>;
  resources: string[];
}

function decide(
  reason: string,
  texts: readonly string[],
  labels: Record<string, string>,
  ns: string,
): Decision {
  const found = <T>(parse: (m: string) => T | undefined): T | undefined => {
    for (const t of texts) {
      const r = parse(t);
      if (r !== undefined) return r;
    }
    return undefined;
  };
  const imageFacts = (): { facts: Record<string, unknown>; resources: string[] } => {
    const ref = found(parseImageRef);
    return ref === undefined
      ? { facts: {}, resources: [] }
      : { facts: { image: { ref, ...splitImageRef(ref) } }, resources: [`image://${ref}`] };
  };

  const denial = found(parseSignatureDenial);
  if (denial !== undefined) {
    const img = imageFacts();
    return {
      type: 'image_signature_failed',
      rule: 'image.signature_denied',
      facts: { signature_denial: denial, ...img.facts },
      resources: img.resources,
    };
  }
  const quota = found(parseQuotaExceeded);
  if (quota !== undefined) {
    return {
      type: 'resource_quota_exceeded',
      rule: 'quota.exceeded',
      facts: { quota: { namespace: ns, ...quota } },
      resources: [`resourcequota://${ns}/${quota.quota}`],
    };
  }
  const limit = found(parseLimitRange);
  if (limit !== undefined) {
    return {
      type: 'resource_quota_exceeded',
      rule: 'limit_range.exceeded',
      facts: { limit_range: limit },
      resources: [],
    };
  }
  const rbac = found(parseRbacForbidden);
  if (rbac !== undefined) {
    const sa = /^system:serviceaccount:([^:]+):([^:]+)$/.exec(rbac.user);
    const subject = sa === null ? `user://${rbac.user}` : `serviceaccount://${sa[1]}/${sa[2]}`;
    return { type: 'resource_quota_exceeded', rule: 'rbac.forbidden', facts: { rbac }, resources: [subject] };
  }
  const missing = found(parseMissingConfig);
  if (missing !== undefined) {
    const where = `${missing.namespace ?? ns}/${missing.name}`;
    return {
      type: 'config_validation_failed',
      rule: 'config.missing',
      facts: { missing_config: { ...missing, namespace: missing.namespace ?? ns } },
      resources: [`${missing.kind.toLowerCase()}://${where}`],
    };
  }
  if (texts.some(isConfigSyntaxError)) {
    return { type: 'config_validation_failed', rule: 'config.syntax', facts: {}, resources: [] };
  }
  if (/^(CreateContainerConfigError|CreateContainerError)$/.test(reason)) {
    return { type: 'config_validation_failed', rule: 'config.reason', facts: {}, resources: [] };
  }
  if (isImagePullFailure(reason, texts.join('\n'))) {
    const img = imageFacts();
    return {
      type: 'image_signature_failed',
      rule: 'image.pull_failed',
      facts: img.facts,
      resources: img.resources,
    };
  }
  const alertname = labels['alertname'] ?? '';
  if (alertname !== '') {
    const byName: [RegExp, IncidentType][] = [
      [/quota|limitrange|forbidden|rbac/i, 'resource_quota_exceeded'],
      [/imagepull|signature|cosign|sigstore/i, 'image_signature_failed'],
      [/configmap|secret|config(uration)?error/i, 'config_validation_failed'],
    ];
    const hit = byName.find(([re]) => re.test(alertname));
    if (hit !== undefined) return { type: hit[1], rule: 'alert.name', facts: {}, resources: [] };
  }
  return { type: 'unknown', rule: 'none', facts: {}, resources: [] };
}

/** Classifies a signal from its `metadata` (see the module comment for the keys it reads). */
export function classifySignal(payload: ClassifyInput): Classification {
  const meta = payload.metadata;
  const labels = stringMap(meta['labels']);
  const reason = stringField(meta, 'reason') ?? labels['reason'] ?? '';
  const texts = stringList(meta['messages']);
  const ns = stringField(meta, 'namespace') ?? labels['namespace'] ?? 'default';
  const d = decide(reason, texts, labels, ns);
  const severity = severityFromLabel(labels['severity']) ?? DEFAULT_SEVERITY[d.type];
  return {
    incident_type: d.type,
    severity,
    urgency: URGENCY[severity],
    rule: d.rule,
    facts: d.facts,
    affected_resources: d.resources,
  };
}
