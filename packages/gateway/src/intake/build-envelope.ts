/**
 * Turns what an adapter read out of a native payload into an unsigned `IncidentSignal` envelope,
 * classified by {@link classifySignal}. The envelope's `idempotency_key` is the dedup key.
 */
import { type Envelope, type IncidentSignalPayload, SCHEMA_VERSION } from '@aaps/mpc-core';
import { CLASSIFIED_BY, classifySignal } from './classify.js';
import type { IntakeContext, IntakeSource, OpenIncident } from './types.js';

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
  /** See `OpenIncident.recurrence_keys`. */
  recurrence_keys?: string[];
  /**
   * The namespace the source named; `undefined` when it named none (a GitHub run, an alert without
   * a `namespace` label). It is never guessed: `metadata.namespace` is then `null`, which the
   * monitoring agent reads as "no namespace" so no namespaced fix is made; `context.namespace`,
   * which an envelope must fill, holds {@link DEFAULT_NAMESPACE} only as that placeholder.
   */
  namespace: string | undefined;
  cluster?: string;
  affected_resources: string[];
  evidence_refs: string[];
  /** Must hold the keys `classifySignal` reads (`reason`, `messages`, `labels`, `namespace`) where known. */
  metadata: Record<string, unknown>;
}

function unique(list: readonly string[]): string[] {
  return [...new Set(list.filter((x) => x !== ''))];
}

/** `axm-YYYYMMDD-<id>`, the seed document's trace id form. */
export function traceIdFor(at: Date, id: string): string {
  return `axm-${at.toISOString().slice(0, 10).replaceAll('-', '')}-${id}`;
}

export function openIncident(draft: SignalDraft, ctx: IntakeContext): OpenIncident {
  const c = classifySignal({
    metadata: { ...draft.metadata, ...(draft.namespace === undefined ? {} : { namespace: draft.namespace }) },
  });
  const at = ctx.now();
  const payload: IncidentSignalPayload = {
    incident_type: c.incident_type,
    severity: c.severity,
    affected_resources: unique([...draft.affected_resources, ...c.affected_resources]),
    evidence_refs: unique(draft.evidence_refs),
    metadata: {
      source: draft.source,
      ...draft.metadata,
      namespace: draft.namespace ?? null,
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
      namespace: draft.namespace ?? DEFAULT_NAMESPACE,
      cluster: draft.cluster ?? ctx.cluster ?? DEFAULT_CLUSTER,
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
    ...(draft.recurrence_keys === undefined ? {} : { recurrence_keys: unique(draft.recurrence_keys) }),
    ref: draft.ref,
    envelope,
  };
}
