import { describe, expect, it } from 'vitest';
import { type AlertmanagerWebhook, alertmanagerDedupKey, intakeAlertmanager } from './alertmanager.js';
import { fixture, invalidFields, mutable, opened, testContext } from './test-helpers/fixtures.js';

describe('intakeAlertmanager', () => {
  it('opens one incident per firing alert, classified from its labels', () => {
    const r = intakeAlertmanager(fixture('alertmanager/firing-group.json'), testContext());
    expect(r.source).toBe('alertmanager');
    expect(r.ignored).toEqual([]);
    const [waiting, quota] = opened(r.items);
    expect(r.items).toHaveLength(2);

    expect(waiting?.dedup_key).toBe('alertmanager:7c2e91f0a4d35b68:2026-11-25T14:02:31.118Z');
    expect(waiting?.correlation_key).toBe('alertmanager:7c2e91f0a4d35b68');
    expect(waiting?.envelope.meta).toMatchObject({
      message_type: 'IncidentSignal',
      schema_version: 'v1.0.0',
      idempotency_key: waiting?.dedup_key,
      timestamp: '2026-11-25T15:30:00.000Z',
      source_agent: 'gateway',
      target_agent: 'monitoring-agent',
    });
    expect(waiting?.envelope.meta.trace_id).toMatch(/^axm-20261125-/);
    expect(waiting?.envelope.meta).not.toHaveProperty('signature');
    expect(waiting?.envelope.context).toEqual({
      namespace: 'shop',
      cluster: 'prod-eu-1',
      urgency: 'P2',
      constraints_ref: 'policy://risk-management/v1',
    });
    expect(waiting?.envelope.payload).toMatchObject({
      incident_type: 'config_validation_failed',
      severity: 'medium',
      // The pod's name shows its Deployment (pod-template hash), marked as inferred.
      affected_resources: ['pod://shop/checkout-6b7f9c8d4-x2lqz', 'deployment://shop/checkout'],
      metadata: {
        source: 'alertmanager',
        alertname: 'KubeContainerWaiting',
        group_key: expect.any(String),
        workload: { kind: 'Deployment', name: 'checkout', inferred: true },
      },
    });
    expect(waiting?.envelope.payload.evidence_refs).toContain('alert://alertmanager/7c2e91f0a4d35b68');

    expect(quota?.envelope.payload).toMatchObject({
      incident_type: 'resource_quota_exceeded',
      severity: 'high',
      affected_resources: ['resourcequota://shop/compute-resources'],
    });
    expect(quota?.envelope.context.urgency).toBe('P1');
  });

  it('classifies a pull back-off as an image incident', () => {
    const [item] = opened(
      intakeAlertmanager(fixture('alertmanager/image-pull-backoff.json'), testContext()).items,
    );
    expect(item?.envelope.payload.incident_type).toBe('image_signature_failed');
    expect(item?.dedup_key).toBe('alertmanager:41aa09c7e2b6d35f:2026-11-25T09:41:12.77+01:00');
  });

  it('gives an alert the recurrence key of its workload, named or inferred, as a Kubernetes Event has it', () => {
    const [pod] = opened(
      intakeAlertmanager(fixture('alertmanager/image-pull-backoff.json'), testContext()).items,
    );
    expect(pod?.recurrence_keys).toEqual([
      'alertmanager:41aa09c7e2b6d35f',
      'kubernetes:Deployment/payments/ledger:image_signature_failed',
    ]);
    const body = mutable('alertmanager/image-pull-backoff.json');
    const labels = (body['alerts'] as { labels: Record<string, string> }[])[0]!.labels;
    labels['statefulset'] = 'ledger-db';
    labels['cluster'] = ''; // an empty label names no cluster
    const [named] = opened(intakeAlertmanager(body, testContext()).items);
    // A named workload is the alert's; the pod's name is not read for another.
    expect(named?.recurrence_keys).toEqual([
      'alertmanager:41aa09c7e2b6d35f',
      'kubernetes:StatefulSet/payments/ledger-db:image_signature_failed',
    ]);
    expect(named?.envelope.context.cluster).toBe('test-cluster');
  });

  it('places nothing in a namespace an alert does not name', () => {
    const body = mutable('alertmanager/image-pull-backoff.json');
    const alert = (body['alerts'] as Record<string, Record<string, unknown>>[])[0]!;
    const { namespace: _dropped, ...labels } = alert['labels'] as Record<string, string>;
    alert['labels'] = labels;
    body['commonLabels'] = labels;
    const [item] = opened(intakeAlertmanager(body, testContext()).items);
    expect(item?.envelope.payload.metadata['namespace']).toBeNull();
    expect(item?.envelope.payload.metadata).not.toHaveProperty('workload');
    expect(item?.envelope.payload.affected_resources.filter((u) => /^(pod|deployment):/.test(u))).toEqual([]);
  });

  it('turns a resolved alert into a resolve of the incident its firing opened', () => {
    const firing = opened(intakeAlertmanager(fixture('alertmanager/firing-group.json'), testContext()).items);
    const r = intakeAlertmanager(fixture('alertmanager/resolved-group.json'), testContext());
    expect(r.items).toEqual([
      {
        action: 'resolve',
        dedup_key: firing[0]?.dedup_key,
        correlation_key: 'alertmanager:7c2e91f0a4d35b68',
        ref: 'alerts[0]',
        at: '2026-11-25T15:20:46.512Z',
        actor: 'source:alertmanager',
      },
    ]);
  });

  it('gives the same keys on redelivery and repeat notifications', () => {
    const a = intakeAlertmanager(
      fixture('alertmanager/firing-group.json'),
      testContext('2026-11-25T15:30:00Z'),
    );
    const again = mutable('alertmanager/firing-group.json');
    again['receiver'] = 'another-receiver';
    const b = intakeAlertmanager(again, testContext('2026-11-25T19:30:00Z'));
    expect(b.items.map((i) => i.dedup_key)).toEqual(a.items.map((i) => i.dedup_key));
    expect(alertmanagerDedupKey('7c2e91f0a4d35b68', '2026-11-25T14:02:31.118Z')).toBe(a.items[0]?.dedup_key);
  });

  it('reports a duplicated alert in one body once as an item and once as ignored', () => {
    const body = mutable('alertmanager/firing-group.json') as unknown as AlertmanagerWebhook;
    body.alerts.push(structuredClone(body.alerts[0]!));
    const r = intakeAlertmanager(body, testContext());
    expect(r.items).toHaveLength(2);
    expect(r.ignored).toEqual([{ ref: 'alerts[2]', reason: 'duplicate_in_batch' }]);
  });

  it('names every failing path of a malformed body', () => {
    const body = mutable('alertmanager/firing-group.json') as unknown as Record<string, unknown> & {
      alerts: Record<string, unknown>[];
    };
    body['version'] = '3';
    delete body['groupKey'];
    body.alerts[0]!['labels'] = {};
    body.alerts[0]!['startsAt'] = 'yesterday';
    delete body.alerts[1]!['fingerprint'];
    body.alerts[1]!['status'] = 'pending';
    expect([...invalidFields(() => intakeAlertmanager(body, testContext()))].sort()).toEqual(
      [
        'version',
        'groupKey',
        'alerts[0].labels',
        'alerts[0].startsAt',
        'alerts[1].fingerprint',
        'alerts[1].status',
      ].sort(),
    );
  });

  it('rejects an empty alert list and a body that is not an object', () => {
    const body = mutable('alertmanager/firing-group.json');
    body['alerts'] = [];
    expect(invalidFields(() => intakeAlertmanager(body, testContext()))).toEqual(['alerts']);
    expect(invalidFields(() => intakeAlertmanager([], testContext()))).toEqual(['$']);
  });
});
