/** Incident signals in the shapes the intake adapters produce, one per incident type. */
import type { EnvelopeContext, IncidentSignalPayload } from '@aaps/mpc-core';
import type { MonitoringInput } from '../monitoring.js';

export const DIGEST_BAD = `sha256:${'9e'.repeat(32)}`;
export const CONTEXT: EnvelopeContext = {
  namespace: 'shop',
  cluster: 'prod-eu-1',
  urgency: 'P1',
  constraints_ref: 'policy://risk-management/v1',
};

function signal(
  metadata: Record<string, unknown>,
  affected: string[],
  over: Partial<IncidentSignalPayload> = {},
): IncidentSignalPayload {
  return {
    incident_type: 'unknown',
    severity: 'high',
    affected_resources: affected,
    evidence_refs: ['event://shop/evt-1'],
    metadata: { namespace: 'shop', ...metadata },
    ...over,
  };
}

export const SIGNALS = {
  missingKey: signal(
    {
      reason: 'CreateContainerConfigError',
      messages: ["Error: couldn't find key DATABASE_URL in ConfigMap shop/checkout-config"],
    },
    ['pod://shop/checkout-6b7f9c8d4-x2lqz'],
  ),
  yamlSyntax: signal(
    {
      reason: 'SyncFailed',
      messages: [
        'error converting YAML to JSON: yaml: line 7: mapping values are not allowed in this context',
      ],
    },
    ['configmap://shop/app-config', 'deployment://shop/web'],
  ),
  signatureDenied: signal(
    {
      reason: 'FailedCreate',
      messages: [
        `admission webhook "policy.sigstore.dev" denied the request: validation failed: failed policy: image-policy: ` +
          `spec.containers[0].image registry.example/shop/web@${DIGEST_BAD} signature key validation failed: no matching signatures`,
      ],
    },
    ['deployment://shop/web'],
  ),
  pullFailed: signal(
    {
      reason: 'Failed',
      messages: [
        'Failed to pull image "registry.example/shop/web:v2": rpc error: code = NotFound desc = manifest unknown',
      ],
    },
    ['pod://shop/web-7d9f8b6c5-4lqpz'],
  ),
  quotaExceeded: signal(
    {
      reason: 'FailedCreate',
      messages: [
        'Error creating: pods "web-7d9f8b6c5-4lqpz" is forbidden: exceeded quota: compute, requested: ' +
          'limits.cpu=2,limits.memory=1Gi, used: limits.cpu=3,limits.memory=3Gi, limited: limits.cpu=4,limits.memory=4Gi',
      ],
    },
    ['deployment://shop/web'],
  ),
  rbacDenied: signal(
    {
      reason: 'FailedCreate',
      messages: [
        'Error creating: deployments.apps is forbidden: User "system:serviceaccount:shop:deployer" cannot create ' +
          'resource "deployments" in API group "apps" in the namespace "shop"',
      ],
    },
    ['serviceaccount://shop/deployer'],
  ),
  probeFailed: signal(
    { reason: 'Unhealthy', messages: ['Readiness probe failed: HTTP probe failed with statuscode: 503'] },
    ['pod://shop/web-7d9f8b6c5-4lqpz'],
  ),
} satisfies Record<string, IncidentSignalPayload>;

export function monitoringInput(s: IncidentSignalPayload, incident_id = 'inc-0001'): MonitoringInput {
  return { incident_id, context: CONTEXT, signal: s };
}
