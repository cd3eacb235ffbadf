/**
 * Turns what an adapter read out of a native payload into an unsigned `IncidentSignal` envelope,
 * classified by {@link classifySignal}. The envelope's `idempotency_key` is the dedup key. The
 * workload recurrence key is made here, not in the adapters, so that one failure of one workload
 * has the same key whichever system reported it.
 */
import type { NamespaceSetAside } from '@aaps/agents';
import { type Envelope, type IncidentSignalPayload, SCHEMA_VERSION } from '@aaps/mpc-core';
import { CLASSIFIED_BY, classifySignal } from './classify.js';
import { sourceNamespace } from './namespace.js';
import type { IncidentType, IntakeContext, IntakeSource, OpenIncident } from './types.js';

export const GATEWAY_AGENT = 'gateway';
export const MONITORING_AGENT = 'monitoring-agent';
export const DEFAULT_CLUSTER = 'default';
/** `context.namespace` of a signal whose source named none (see `SignalDraft.namespace`). */
export const DEFAULT_NAMESPACE = 'default';
export const DEFAULT_CONSTRAINTS_REF = 'policy://risk-management/v1';

/** What an adapter knows about one occurrence before classification. */
export interface SignalDraft {
  source: Exclude<IntakeSource, 'envelope'>;
  ref: string;
  dedup_key: string;
  /** See `OpenIncident.extra_dedup_keys`. */
  extra_dedup_keys?: string[];
  correlation_key: string;
  /** See `OpenIncident.joinable_by`. */
  joinable_by?: string[];
  /** See `OpenIncident.recurrence_keys`. */
  recurrence_keys?: string[];
  /**
   * The namespace the source named; `undefined` when it named none (a GitHub run, an alert without
   * a `namespace` label); `''` counts as none (a cluster-scoped object's). It is never guessed: `metadata.namespace` is then `null`, which the
   * monitoring agent reads as "no namespace" so no namespaced fix is made; `context.namespace`,
   * which an envelope must fill, holds {@link DEFAULT_NAMESPACE} only as that placeholder.
   */
  namespace: string | undefined;
  /**
   * A namespace the source gave that the adapter set aside (`namespace.ts`), `namespace` then
   * `undefined`. A `namespace` that is no Kubernetes namespace name is set aside here.
   */
  namespace_set_aside?: NamespaceSetAside;
  /** `''` counts as none: the context's cluster is used. */
  cluster?: string | undefined;
  /**
   * A `deployment://`, `statefulset://` or `daemonset://<ns>/<name>` among them (or among the
   * classifier's) gives the signal that workload's recurrence key ({@link workloadRecurrenceKey}).
   */
  affected_resources: string[];
  evidence_refs: string[];
  /** Must hold the keys `classifySignal` reads (`reason`, `messages`, `labels`, `namespace`) where known. */
  metadata: Record<string, unknown>;
}

function unique(list: readonly string[]): string[] {
  return [...new Set(list.filter((x) => x !== ''))];
}

/** `undefined` for `''`: a source that writes an empty namespace or cluster named none. */
function named(v: string | undefined): string | undefined {
  return v === '' ? undefined : v;
}

/** The workload resource schemes and the kind each names in a recurrence key. */
const WORKLOAD_KINDS: ReadonlyMap<string, string> = new Map([
  ['deployment', 'Deployment'],
  ['statefulset', 'StatefulSet'],
  ['daemonset', 'DaemonSet'],
]);

/**
 * The recurrence key of one incident type on one workload, whichever source reported it:
 * `kubernetes:<Kind>/<ns>/<name>:<type>` (the spelling the Kubernetes intake always gave, so fixes
 * recorded under it still count). An alert about a pod and the pod's own Event name the same
 * Deployment, so the fix one of them gets holds the other's back (a second `rollout undo` would
 * undo the first). `undefined` for a resource that is no namespaced workload, and for `unknown`:
 * two unclassified signals need not be one failure (and the workflow gives them to a person).
 */
export function workloadRecurrenceKey(resource: string, type: IncidentType): string | undefined {
  const m = /^([a-z]+):\/\/([^/]+)\/([^/]+)$/.exec(resource);
  const kind = m === null ? undefined : WORKLOAD_KINDS.get(m[1]!);
  if (m === null || kind === undefined || type === 'unknown') return undefined;
  return `kubernetes:${kind}/${m[2]}/${m[3]}:${type}`;
}

/** The draft's own recurrence keys, then its workloads' ({@link workloadRecurrenceKey}). */
function recurrenceKeys(
  draft: SignalDraft,
  resources: readonly string[],
  type: IncidentType,
): string[] | undefined {
  const workloads = resources
    .map((r) => workloadRecurrenceKey(r, type))
    .filter((k): k is string => k !== undefined);
  if (draft.recurrence_keys === undefined && workloads.length === 0) return undefined;
  return unique([...(draft.recurrence_keys ?? []), ...workloads]);
}

/** `axm-YYYYMMDD-<id>`, the seed document's trace id form. */
export function traceIdFor(at: Date, id: string): string {
  return `axm-${at.toISOString().slice(0, 10).replaceAll('-', '')}-${id}`;
}

export function openIncident(draft: SignalDraft, ctx: IntakeContext): OpenIncident {
  const read = sourceNamespace(draft.namespace);
  const namespace = read.namespace;
  const setAside = draft.namespace_set_aside ?? read.set_aside;
  const c = classifySignal({
    metadata: { ...draft.metadata, namespace: namespace ?? null },
  });
  const at = ctx.now();
  const resources = unique([...draft.affected_resources, ...c.affected_resources]);
  const recurrence = recurrenceKeys(draft, resources, c.incident_type);
  const payload: IncidentSignalPayload = {
    incident_type: c.incident_type,
    severity: c.severity,
    affected_resources: resources,
    evidence_refs: unique(draft.evidence_refs),
    metadata: {
      source: draft.source,
      ...draft.metadata,
      namespace: namespace ?? null,
      ...(setAside === undefined ? {} : { namespace_set_aside: { ...setAside } }),
      ...c.facts,
      classification: { rule: c.rule, by: CLASSIFIED_BY },
    },
  };
  const envelope: Envelope<IncidentSignalPayload> = {
    meta: {
      trace_id: traceIdFor(at, ctx.newId()),
      span_id: ctx.newId(),
      timestamp: at.toISOString(),
      source_agent: GATEWAY_AGENT,
      target_agent: MONITORING_AGENT,
      message_type: 'IncidentSignal',
      schema_version: SCHEMA_VERSION,
      idempotency_key: draft.dedup_key,
    },
    context: {
      namespace: namespace ?? DEFAULT_NAMESPACE,
      cluster: named(draft.cluster) ?? named(ctx.cluster) ?? DEFAULT_CLUSTER,
      urgency: c.urgency,
      constraints_ref: ctx.constraintsRef ?? DEFAULT_CONSTRAINTS_REF,
    },
    payload,
  };
  return {
    action: 'open',
    dedup_key: draft.dedup_key,
    ...(draft.extra_dedup_keys === undefined ? {} : { extra_dedup_keys: draft.extra_dedup_keys }),
    correlation_key: draft.correlation_key,
    ...(draft.joinable_by === undefined ? {} : { joinable_by: draft.joinable_by }),
    ...(recurrence === undefined ? {} : { recurrence_keys: recurrence }),
    ref: draft.ref,
    envelope,
  };
}
