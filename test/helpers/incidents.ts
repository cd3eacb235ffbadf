/** Fresh `IncidentSignal` envelopes (unsigned: the gateway re-signs them) the agents fix on their own. */
import { randomUUID } from 'node:crypto';
import { SCHEMA_VERSION } from '@aaps/mpc-core';
import { incidentEnvelope } from '../../bench/load/cluster.js';

export type IncidentKind = 'image' | 'config';

export function incidentSignal(kind: IncidentKind = 'image', tag = 'fault'): Record<string, unknown> {
  return incidentEnvelope(kind, tag);
}

/**
 * A fresh quota incident on deployment shop/web, as a Prometheus bridge posts it (declared
 * `unknown`, its FailedCreate message naming the exceeded quota), with `metadata` added to the
 * payload's (a namespace, sensitive fields to seal).
 */
export function quotaSignal(metadata: Record<string, unknown> = {}): Record<string, unknown> {
  const n = randomUUID();
  return {
    meta: {
      trace_id: `trace-${n}`,
      span_id: n,
      timestamp: new Date().toISOString(),
      source_agent: 'prometheus-bridge',
      target_agent: 'monitoring-agent',
      message_type: 'IncidentSignal',
      schema_version: SCHEMA_VERSION,
      idempotency_key: n,
    },
    context: {
      namespace: 'shop',
      cluster: 'prod-eu-1',
      urgency: 'P1',
      constraints_ref: 'policy://risk-management/v1',
    },
    payload: {
      incident_type: 'unknown',
      severity: 'high',
      affected_resources: ['deployment://shop/web'],
      evidence_refs: ['event://shop/evt-1'],
      metadata: {
        reason: 'FailedCreate',
        messages: [
          'Error creating: pods "web-7d9f8b6c5-4lqpz" is forbidden: exceeded quota: compute, requested: limits.cpu=2,limits.memory=1Gi, used: limits.cpu=3,limits.memory=3Gi, limited: limits.cpu=4,limits.memory=4Gi',
        ],
        ...metadata,
      },
    },
  };
}
