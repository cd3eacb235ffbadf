/**
 * The first classification of a signal into the three incident types the workflow fixes (or
 * `unknown`, which goes to a human). Pure and deterministic: it reads only these `metadata` keys,
 * which every intake adapter fills, so the monitoring agent can run it again on the payload:
 *
 * - `reason`: the source's reason word (a Kubernetes event reason, an alert's `reason` label);
 * - `messages`: the free text to read (event messages, sync results, alert annotations);
 * - `labels`: alert labels (`alertname`, `severity`);
 * - `namespace`: where resources named without a namespace live, when the source named one (none is
 *   guessed: without it, or with `null`, no resource URI that needs a namespace is made).
 */
import { INTAKE_CLASSIFIER, matchSignalRules, SIGNAL_RULES } from '@aaps/agents';
import {
  parseImageRef,
  parseLimitRange,
  parseMissingConfig,
  parseQuotaExceeded,
  parseRbacForbidden,
  parseSignatureDenial,
  splitImageRef,
} from './parse-messages.js';
import type { IncidentType, Severity, Urgency } from './types.js';

/** The shared rule set's rules (`@aaps/agents`, `matchSignalRules`), and `none`. */
export const CLASSIFY_RULES = [...SIGNAL_RULES, 'none'] as const;
export type ClassifyRule = (typeof CLASSIFY_RULES)[number];

/** `metadata.classification.by` on the signals this classifier reads. */
export const CLASSIFIED_BY = INTAKE_CLASSIFIER;

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

/**
 * The first rule of the shared rule set that matches decides the type; the facts are what that
 * rule's parser reads. `ns` is the namespace the source named, if it named one: resources are
 * never placed in a namespace the source did not give.
 */
function decide(
  reason: string,
  texts: readonly string[],
  labels: Record<string, string>,
  ns: string | undefined,
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
  const first = matchSignalRules({ reason, texts, alertname: labels['alertname'] ?? '' })[0];
  if (first === undefined) return { type: 'unknown', rule: 'none', facts: {}, resources: [] };
  const decided = (facts: Record<string, unknown> = {}, resources: string[] = []): Decision => ({
    type: first.type,
    rule: first.rule,
    facts,
    resources,
  });
  switch (first.rule) {
    case 'image.signature_denied': {
      const img = imageFacts();
      return decided({ signature_denial: found(parseSignatureDenial), ...img.facts }, img.resources);
    }
    case 'image.pull_failed': {
      const img = imageFacts();
      return decided(img.facts, img.resources);
    }
    case 'quota.exceeded': {
      const quota = found(parseQuotaExceeded);
      if (quota === undefined) return decided();
      return ns === undefined
        ? decided({ quota })
        : decided({ quota: { namespace: ns, ...quota } }, [`resourcequota://${ns}/${quota.quota}`]);
    }
    case 'limit_range.exceeded': {
      const limit = found(parseLimitRange);
      return decided(limit === undefined ? {} : { limit_range: limit });
    }
    case 'rbac.forbidden': {
      const rbac = found(parseRbacForbidden);
      if (rbac === undefined) return decided();
      const sa = /^system:serviceaccount:([^:]+):([^:]+)$/.exec(rbac.user);
      return decided({ rbac }, [sa === null ? `user://${rbac.user}` : `serviceaccount://${sa[1]}/${sa[2]}`]);
    }
    case 'config.missing': {
      const missing = found(parseMissingConfig);
      const where = missing?.namespace ?? ns;
      // A volume's missing key names the pod's volume, not the object: no resource is made up.
      if (missing === undefined || where === undefined || missing.name === undefined)
        return decided(missing ? { missing_config: missing } : {});
      return decided({ missing_config: { ...missing, namespace: where } }, [
        `${missing.kind.toLowerCase()}://${where}/${missing.name}`,
      ]);
    }
    default:
      return decided();
  }
}

/** Classifies a signal from its `metadata` (see the module comment for the keys it reads). */
export function classifySignal(payload: ClassifyInput): Classification {
  const meta = payload.metadata;
  const labels = stringMap(meta['labels']);
  const reason = stringField(meta, 'reason') ?? labels['reason'] ?? '';
  const texts = stringList(meta['messages']);
  // `namespace: null`: the caller says the source named none (or it was set aside), whatever the labels say.
  const named =
    meta['namespace'] === null ? undefined : (stringField(meta, 'namespace') ?? labels['namespace']);
  const ns = named === undefined || named === '' ? undefined : named;
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
