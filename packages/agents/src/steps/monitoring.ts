/**
 * Monitoring: normalise an incoming `IncidentSignal`, classify it on its own reading of the
 * signal's text and facts, and give dedup hints. A signal nothing recognises, or one that reads as
 * two different incident types, is `unknown` and goes to a human: it is never fixed automatically.
 * It reads the text with the same rule set as the gateway's intake (`signal-rules.ts`), and a
 * signal the intake classified as `unknown` stays `unknown`: this step can only send a signal to a
 * person that the intake would have fixed, never the reverse.
 *
 * It reads the metadata keys the intake adapters fill: `reason`, `messages` (free text),
 * `labels` (alert labels), `namespace`, the parsed facts `quota`, `missing_config`, `rbac`,
 * `image`, `limit_range`, `signature_denial`, a Kubernetes event's `object.container`, an Argo CD
 * sync's `git_source`, `revision` and `sync_history`, the intake's `namespace_set_aside` (a namespace
 * that is no Kubernetes name is set aside here too), and the dedup ids `fingerprint`,
 * `group_key`, `delivery_id`.
 */

import type { EnvelopeContext, IncidentSignalPayload } from '@aaps/mpc-core';
import { canonicalBytes, ValidationError } from '@aaps/mpc-core';
import { sha256 } from '@noble/hashes/sha2.js';
import { bytesToHex } from '@noble/hashes/utils.js';
import { isPlainObject } from '../policy/reader.js';
import { isCommitId, sameGitRepository } from './git-repo.js';
import { objectLabels } from './metric-labels.js';
import { isNamespaceName, type NamespaceSetAside, readNamespaceSetAside } from './namespace.js';
import {
  INTAKE_CLASSIFIER,
  type IncidentSubtype,
  type IncidentType,
  matchSignalRules,
  type RuleMatch,
  type SignalRule,
} from './signal-rules.js';
import {
  type LimitRangeFacts,
  type PullTlsFacts,
  parseImageRef,
  parseLimitRange,
  parseMissingConfig,
  parseMissingEnvVar,
  parsePullTlsFailure,
  parseQuotaExceeded,
  parseRbacForbidden,
  type RbacFacts,
} from './signal-text.js';

export { INCIDENT_TYPES, type IncidentSubtype, type IncidentType } from './signal-rules.js';

export interface QuotaFigure {
  resource: string;
  requested: string;
  used: string;
  limited: string;
}

/** What the signal says, in one normalised shape. */
export interface IncidentFacts {
  /**
   * The namespace the signal names (its context, else its metadata); absent when its metadata says
   * `namespace: null` (the source named none, e.g. a GitHub run) or nothing names one. Never
   * guessed: a fix that needs a namespace then goes to a person.
   */
  namespace?: string;
  /**
   * A namespace the signal gave that is not used (see `namespace.ts`): the intake's
   * `metadata.namespace_set_aside`, or a context or metadata namespace that is no Kubernetes
   * namespace name. `namespace` is then absent, and an escalation says why.
   */
  namespace_set_aside?: NamespaceSetAside;
  /** `origin`: a "not found" message, the intake's parsed facts, or only the affected resources. */
  config?: {
    kind: 'configmap' | 'secret';
    /** Absent when neither the message nor the signal names one. */
    namespace?: string;
    name: string;
    key?: string;
    origin: 'message' | 'intake' | 'resource';
  };
  env_var?: string;
  image?: { ref: string; digest?: string };
  /**
   * A pull that failed on TLS certificates (subtype `pull_tls`): whose certificate, and the host
   * the message says the TLS session was with (with a registry mirror, the mirror's).
   */
  pull_tls?: PullTlsFacts;
  /**
   * The container names the signal gives for what failed, distinct and sorted: a Kubernetes
   * event's field path `spec.containers{name}` (the intake's `object.container`), an alert's
   * `container` label, and `spec.containers{name}` in its text. Absent when it names none; more
   * than one leaves the failing container unknown.
   */
  containers?: string[];
  quota?: { name: string; namespace?: string; figures: QuotaFigure[] };
  limit?: LimitRangeFacts;
  rbac?: RbacFacts;
  /** Workload and pod URIs among the affected resources. */
  workloads: string[];
  pods: string[];
  /**
   * Workloads among `workloads` that the source did not name: an intake read them from a pod's
   * name (`metadata.workload` with `inferred: true`).
   */
  inferred_workloads?: string[];
  /**
   * The Argo CD sync that failed (`metadata.source: argocd`): the Git repository and revision it
   * failed at, and the newest revision the application's history (`sync_history`, newest last)
   * says Argo CD deployed successfully from that same repository. A configuration re-rendered from
   * that repository must not be read at the revision that failed.
   */
  argocd_sync?: ArgoSync;
}

export interface ArgoSync {
  repo: string;
  /** The application's path in the repository, when the sync named one. */
  path?: string;
  /** The revision whose sync failed. */
  revision: string;
  /** Argo CD records a revision in its history only when a sync of it succeeded. */
  last_deployed?: { revision: string; deployed_at?: string };
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

type Match = RuleMatch;

const SEVERITIES = ['high', 'medium', 'low'] as const;

export function runMonitoringStep(input: MonitoringInput): TriagedSignal {
  const { signal, context } = input;
  if (!isPlainObject(signal) || !isPlainObject(signal.metadata)) {
    throw new ValidationError('INVALID_ARGUMENT', 'signal: expected an IncidentSignal payload', ['signal']);
  }
  const meta = signal.metadata;
  // `metadata.namespace: null`: the source named no namespace (the gateway's intake says so rather
  // than guess one); `context.namespace` then only fills the envelope's required field.
  const given = meta['namespace'] === null ? undefined : (str(context?.namespace) ?? str(meta['namespace']));
  // A namespace that is no Kubernetes name is none: a fix placed there would only be refused.
  const namespace = validNs(given);
  const setAside: NamespaceSetAside | undefined =
    given !== undefined && namespace === undefined
      ? { namespace: given, why: 'not_a_namespace' }
      : readNamespaceSetAside(meta['namespace_set_aside']);
  const affected = normaliseUris(signal.affected_resources);
  const evidence = unique(strings(signal.evidence_refs).map((s) => s.trim())).sort();
  const texts = [...strings(meta['messages']), ...optional(str(meta['message']))];
  const labels = isPlainObject(meta['labels']) ? meta['labels'] : {};
  const reason = str(meta['reason']) ?? str(labels['reason']) ?? '';
  const alertname = str(labels['alertname']) ?? str(meta['alertname']) ?? '';

  const facts = extractFacts(meta, texts, namespace, affected);
  if (setAside !== undefined && namespace === undefined) facts.namespace_set_aside = setAside;
  const matches = classify(reason, texts, alertname, facts);
  const types = unique(matches.map((m) => m.type));
  const intakeType = str(signal.incident_type);
  const classification = isPlainObject(meta['classification']) ? meta['classification'] : {};
  const intakeFoundNothing = intakeType === 'unknown' && classification['by'] === INTAKE_CLASSIFIER;

  let incidentType: IncidentType;
  let subtype: IncidentSubtype;
  if (intakeFoundNothing) {
    // The intake read this text with the same rules and found no type: a reading here that finds
    // one (from facts a sender put in the metadata) is not a reason to change something.
    incidentType = 'unknown';
    subtype = types.length === 0 ? 'unclassified' : 'ambiguous';
  } else if (types.length === 1) {
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
          namespace: namespace ?? '',
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

/**
 * The shared rules over the text, then the facts a sender parsed into the metadata (a native
 * envelope may carry `quota` or `missing_config` without the message they came from). A fact adds
 * its rule only where the text did not already match it.
 */
function classify(reason: string, texts: readonly string[], alertname: string, f: IncidentFacts): Match[] {
  const out: Match[] = matchSignalRules({ reason, texts, alertname });
  const add = (rule: SignalRule, type: Match['type'], subtype: IncidentSubtype, hit: boolean) => {
    if (hit && !out.some((m) => m.rule === rule)) out.push({ type, subtype, rule });
  };
  add('quota.exceeded', 'resource_quota_exceeded', 'quota_exceeded', f.quota !== undefined);
  add('limit_range.exceeded', 'resource_quota_exceeded', 'limit_violation', f.limit !== undefined);
  add('rbac.forbidden', 'resource_quota_exceeded', 'rbac_denied', f.rbac !== undefined);
  add(
    'config.missing',
    'config_validation_failed',
    f.config?.key ? 'missing_key' : 'missing_object',
    f.config !== undefined && f.config.origin === 'intake',
  );
  // The alert's name counts only when nothing else matched, facts included.
  const byName = out.findIndex((m) => m.rule === 'alert.name');
  if (byName >= 0 && out.length > 1) out.splice(byName, 1);
  return out;
}

function extractFacts(
  meta: Record<string, unknown>,
  texts: readonly string[],
  namespace: string | undefined,
  affected: readonly string[],
): IncidentFacts {
  const found = <T>(parse: (m: string) => T | undefined): T | undefined => {
    for (const t of texts) {
      const r = parse(t);
      if (r !== undefined) return r;
    }
    return undefined;
  };
  const inNs = (ns: string | undefined): { namespace?: string } =>
    ns === undefined ? {} : { namespace: ns };
  const facts: IncidentFacts = {
    ...inNs(namespace),
    workloads: affected.filter((u) => /^(deployment|statefulset|daemonset):\/\//.test(u)),
    pods: affected.filter((u) => u.startsWith('pod://')),
  };
  const inferred = inferredWorkload(meta, namespace);
  if (inferred !== undefined && facts.workloads.includes(inferred)) facts.inferred_workloads = [inferred];

  // ConfigMap / Secret: kubelet's "couldn't find key K in ConfigMap ns/name", "configmap "x" not found".
  // A volume's missing key names no object (only the pod's volume): none is guessed.
  const missing = found(parseMissingConfig);
  const mc = isPlainObject(meta['missing_config']) ? meta['missing_config'] : undefined;
  if (missing?.name !== undefined) {
    facts.config = {
      kind: missing.kind === 'Secret' ? 'secret' : 'configmap',
      ...inNs(missing.namespace === undefined ? namespace : validNs(missing.namespace)),
      name: missing.name,
      ...(missing.key === undefined ? {} : { key: missing.key }),
      origin: 'message',
    };
  } else if (mc && str(mc['name'])) {
    const kind = str(mc['kind'])?.toLowerCase() === 'secret' ? 'secret' : 'configmap';
    facts.config = {
      kind,
      ...inNs(validNs(str(mc['namespace'])) ?? namespace),
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
  const env = found(parseMissingEnvVar);
  if (env !== undefined) facts.env_var = env;

  // Image.
  const image =
    found(parseImageRef) ?? (isPlainObject(meta['image']) ? str(meta['image']['ref']) : undefined);
  if (image) {
    const digest = /@(sha256:[a-f0-9]{64})$/.exec(image)?.[1];
    facts.image = digest ? { ref: image, digest } : { ref: image };
  }

  const tls = found(parsePullTlsFailure);
  if (tls !== undefined) facts.pull_tls = tls;

  const containers = namedContainers(meta, texts);
  if (containers.length > 0) facts.containers = containers;

  // Quota: "exceeded quota: NAME, requested: a=1,b=2, used: a=3, limited: a=4", or the intake's parsed facts.
  const q = found(parseQuotaExceeded);
  const mq = isPlainObject(meta['quota']) ? meta['quota'] : undefined;
  const quota = q
    ? { name: q.quota, requested: q.requested, used: q.used, limited: q.limited }
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
    facts.quota = { name: quota.name, ...inNs(validNs(mq && str(mq['namespace'])) ?? namespace), figures };
  }

  const lr = found(parseLimitRange);
  if (lr) facts.limit = { ...lr };

  const rb = found(parseRbacForbidden);
  if (rb) facts.rbac = { ...rb };

  const sync = argoSync(meta);
  if (sync) facts.argocd_sync = sync;
  return facts;
}

const FIELD_PATH_CONTAINER = /\bspec\.(?:initContainers|containers)\{([^{}\s]+)\}/g;

/** See {@link IncidentFacts.containers}. */
function namedContainers(meta: Record<string, unknown>, texts: readonly string[]): string[] {
  const object = isPlainObject(meta['object']) ? meta['object'] : {};
  const labels = isPlainObject(meta['labels']) ? meta['labels'] : {};
  const named = [
    ...optional(str(object['container'])),
    ...optional(str(objectLabels(labels)['container'])),
    ...texts.flatMap((t) => [...t.matchAll(FIELD_PATH_CONTAINER)].map((m) => m[1]!)),
  ];
  return unique(named).sort();
}

/**
 * The failed Argo CD sync the intake recorded: `git_source.repoURL` and `revision`, and from
 * `sync_history` the newest entry deployed from the same repository (an entry naming no
 * repository is taken as the application's own). Only commit ids count as revisions: a Helm
 * chart's version names nothing to read a manifest at.
 */
function argoSync(meta: Record<string, unknown>): ArgoSync | undefined {
  if (meta['source'] !== 'argocd') return undefined;
  const source = isPlainObject(meta['git_source']) ? meta['git_source'] : undefined;
  const repo = str(source?.['repoURL']);
  const revision = str(meta['revision']);
  if (repo === undefined || revision === undefined) return undefined;
  const path = str(source?.['path']);
  const sync: ArgoSync = { repo, ...(path === undefined ? {} : { path }), revision };
  const history = Array.isArray(meta['sync_history']) ? meta['sync_history'] : [];
  for (let i = history.length - 1; i >= 0; i--) {
    const entry = history[i];
    if (!isPlainObject(entry)) continue;
    const rev = str(entry['revision']);
    const from = isPlainObject(entry['source']) ? str(entry['source']['repoURL']) : undefined;
    if (rev === undefined || !isCommitId(rev.toLowerCase())) continue;
    if (from !== undefined && !sameGitRepository(from, repo)) continue;
    const at = str(entry['deployed_at']);
    sync.last_deployed = { revision: rev.toLowerCase(), ...(at === undefined ? {} : { deployed_at: at }) };
    break;
  }
  return sync;
}

/**
 * The workload URI the intake guessed from a pod's name (`metadata.workload` with `inferred:
 * true`), in the signal's namespace.
 */
function inferredWorkload(meta: Record<string, unknown>, namespace: string | undefined): string | undefined {
  const w = isPlainObject(meta['workload']) ? meta['workload'] : undefined;
  if (w === undefined || w['inferred'] !== true || namespace === undefined) return undefined;
  const kind = str(w['kind'])?.toLowerCase();
  const name = str(w['name']);
  return kind && name ? `${kind}://${namespace}/${name}` : undefined;
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

/** A namespace a sender put in the metadata, if it is a Kubernetes namespace name. */
function validNs(v: string | undefined): string | undefined {
  return v !== undefined && isNamespaceName(v) ? v : undefined;
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
