/** Fresh `IncidentSignal` envelopes (unsigned: the gateway re-signs them) the agents fix on their own. */
let seq = 0;

export type IncidentKind = 'image' | 'config';

export function incidentSignal(kind: IncidentKind = 'image', tag = 'fault'): Record<string, unknown> {
  seq++;
  const n = `${tag}-${process.pid}-${Date.now().toString(36)}-${seq}`;
  // A distinct workload per incident: a signal about a workload with an open incident joins it.
  const app = `${tag}-app-${process.pid}-${seq}`;
  const payload =
    kind === 'image'
      ? {
          incident_type: 'image_signature_failed',
          severity: 'high',
          affected_resources: [`deployment://shop/${app}`],
          evidence_refs: [`log://shop/${n}`],
          metadata: {
            image: `registry.example/shop/${app}@sha256:${'c'.repeat(64)}`,
            reason: 'ErrImagePull',
          },
        }
      : {
          incident_type: 'config_validation_failed',
          severity: 'high',
          affected_resources: [`configmap://shop/${app}-config`, `deployment://shop/${app}`],
          evidence_refs: [`log://shop/${n}`],
          metadata: {
            missing_config: {
              kind: 'ConfigMap',
              namespace: 'shop',
              name: `${app}-config`,
              key: 'DATABASE_URL',
            },
            sources: {
              [`configmap://shop/${app}-config`]: {
                kind: 'gitops',
                repo: 'https://git.example/platform/deploy.git',
                path: `shop/${app}-config.yaml`,
              },
            },
          },
        };
  return {
    meta: {
      trace_id: `trace-${n}`,
      span_id: `span-${n}`,
      timestamp: new Date().toISOString(),
      source_agent: 'monitoring-agent',
      target_agent: 'super-agent',
      message_type: 'IncidentSignal',
      schema_version: 'v1.0.0',
      idempotency_key: `idem-${n}`,
    },
    context: {
      namespace: 'shop',
      cluster: 'prod-eu-1',
      urgency: 'P2',
      constraints_ref: 'policy://risk-management/v1',
    },
    payload,
  };
}
