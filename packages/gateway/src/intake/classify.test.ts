import { describe, expect, it } from 'vitest';
import { classifySignal, severityFromLabel } from './classify.js';

const classify = (metadata: Record<string, unknown>) => classifySignal({ metadata });

describe('classifySignal', () => {
  it('sorts messages into the three incident types', () => {
    expect(classify({ messages: ["Error: couldn't find key A in ConfigMap ns/cm"] })).toMatchObject({
      incident_type: 'config_validation_failed',
      rule: 'config.missing',
      affected_resources: ['configmap://ns/cm'],
    });
    expect(classify({ reason: 'CreateContainerConfigError', messages: [] })).toMatchObject({
      incident_type: 'config_validation_failed',
      rule: 'config.reason',
    });
    expect(classify({ reason: 'ErrImagePull', messages: [] })).toMatchObject({
      incident_type: 'image_signature_failed',
      rule: 'image.pull_failed',
    });
    expect(
      classify({
        namespace: 'team-a',
        messages: ['exceeded quota: q1, requested: pods=1, used: pods=10, limited: pods=10'],
      }),
    ).toMatchObject({
      incident_type: 'resource_quota_exceeded',
      rule: 'quota.exceeded',
      affected_resources: ['resourcequota://team-a/q1'],
      facts: { quota: { namespace: 'team-a', quota: 'q1' } },
    });
  });

  it('prefers a signature denial over the quota and RBAC words in the same message', () => {
    const msg =
      'Error creating: pods "x" is forbidden: admission webhook "validate.kyverno.svc" denied the request: failed to verify image a.io/b/c:1: no matching signatures';
    expect(classify({ messages: [msg] }).rule).toBe('image.signature_denied');
  });

  it('falls back to the alert name, and to unknown', () => {
    expect(classify({ labels: { alertname: 'KubeQuotaAlmostFull' } })).toMatchObject({
      incident_type: 'resource_quota_exceeded',
      rule: 'alert.name',
    });
    expect(classify({ labels: { alertname: 'NodeDiskPressure' } })).toMatchObject({
      incident_type: 'unknown',
      rule: 'none',
      severity: 'medium',
      urgency: 'P2',
    });
    expect(classify({})).toMatchObject({ incident_type: 'unknown', facts: {}, affected_resources: [] });
  });

  it('takes severity from the alert label, else from the incident type', () => {
    expect(classify({ labels: { alertname: 'X', severity: 'info' } })).toMatchObject({
      severity: 'low',
      urgency: 'P3',
    });
    expect(classify({ reason: 'ErrImagePull' })).toMatchObject({ severity: 'high', urgency: 'P1' });
    expect(severityFromLabel('CRITICAL')).toBe('high');
    expect(severityFromLabel('warning')).toBe('medium');
    expect(severityFromLabel('whatever')).toBeUndefined();
  });

  it('ignores metadata of the wrong shape', () => {
    expect(classify({ reason: 7, messages: 'ErrImagePull', labels: ['a'] }).incident_type).toBe('unknown');
    expect(classify({ messages: [1, null, "couldn't find key K in Secret a/b"] }).rule).toBe(
      'config.missing',
    );
  });
});
