import { describe, expect, it } from 'vitest';
import { inferDeployment, intakeKubernetes } from './kubernetes.js';
import { fixture, invalidFields, mutable, opened, testContext } from './test-helpers/fixtures.js';

describe('intakeKubernetes', () => {
  it('reads a missing ConfigMap key from a core/v1 kubelet event', () => {
    const r = intakeKubernetes(fixture('kubernetes/core-v1-missing-configmap-key.json'), testContext());
    const [item] = opened(r.items);
    expect(r.items).toHaveLength(1);
    expect(item?.dedup_key).toBe('kubernetes:5f0c2d1e-7a44-4b9e-9c61-2d8e3f7a1b90:4');
    // Object, reason and type: kubelet's `Failed` is also its pull failures' reason.
    expect(item?.correlation_key).toBe(
      'kubernetes:Pod/shop/checkout-6b7f9c8d4-x2lqz:Failed:config_validation_failed',
    );
    expect(item?.envelope.context).toMatchObject({
      namespace: 'shop',
      cluster: 'test-cluster',
      urgency: 'P1',
    });
    expect(item?.envelope.payload).toMatchObject({
      incident_type: 'config_validation_failed',
      severity: 'high',
      affected_resources: [
        'pod://shop/checkout-6b7f9c8d4-x2lqz',
        'deployment://shop/checkout',
        'configmap://shop/checkout-config',
      ],
      evidence_refs: ['event://kubernetes/shop/checkout-6b7f9c8d4-x2lqz.187b2f6a0c9d41e2'],
      metadata: {
        missing_config: {
          kind: 'ConfigMap',
          namespace: 'shop',
          name: 'checkout-config',
          key: 'DATABASE_URL',
        },
        object: { kind: 'Pod', container: 'checkout' },
        workload: { kind: 'Deployment', name: 'checkout', inferred: true },
        classification: { rule: 'config.missing' },
      },
    });
  });

  it('reads the image of a pull failure', () => {
    const [item] = opened(
      intakeKubernetes(fixture('kubernetes/core-v1-image-pull-failed.json'), testContext()).items,
    );
    const ref =
      'registry.example.net/payments/ledger@sha256:3f9a1c0e5b7d2468ace13579bdf02468ace13579bdf02468ace13579bdf02468';
    expect(item?.envelope.payload.incident_type).toBe('image_signature_failed');
    expect(item?.envelope.payload.affected_resources).toContain(`image://${ref}`);
    expect(item?.envelope.payload.affected_resources).toContain('deployment://payments/ledger');
    expect(item?.envelope.payload.metadata['image']).toEqual({
      ref,
      repository: 'registry.example.net/payments/ledger',
      digest: 'sha256:3f9a1c0e5b7d2468ace13579bdf02468ace13579bdf02468ace13579bdf02468',
    });
  });

  it('parses quota figures from an events.k8s.io/v1 FailedCreate', () => {
    const [item] = opened(
      intakeKubernetes(fixture('kubernetes/events-v1-quota-exceeded.json'), testContext()).items,
    );
    expect(item?.dedup_key).toBe('kubernetes:a7c4e2f1-0d3b-4e96-8f25-c1b9d7e3a460:7');
    expect(item?.envelope.payload).toMatchObject({
      incident_type: 'resource_quota_exceeded',
      severity: 'medium',
      affected_resources: [
        'replicaset://shop/web-7d9f8b6c5',
        'deployment://shop/web',
        'resourcequota://shop/compute-resources',
      ],
      metadata: {
        quota: {
          namespace: 'shop',
          quota: 'compute-resources',
          requested: { 'limits.memory': '2Gi' },
          used: { 'limits.memory': '7Gi' },
          limited: { 'limits.memory': '8Gi' },
        },
        event: { count: 7, reporter: 'replicaset-controller' },
      },
    });
  });

  it('reads events.k8s.io/v1 Events without TypeMeta: list items from the API server, informer caches', () => {
    // The API server leaves apiVersion and kind off list items (GET /apis/events.k8s.io/v1/events);
    // so does an Event taken from a client-go informer cache.
    const bare = () => {
      const ev = mutable('kubernetes/events-v1-quota-exceeded.json');
      delete ev['apiVersion'];
      delete ev['kind'];
      return ev;
    };
    const list = { kind: 'EventList', apiVersion: 'events.k8s.io/v1', metadata: {}, items: [bare()] };
    for (const body of [list, bare()]) {
      const [item] = opened(intakeKubernetes(body, testContext()).items);
      expect(item?.envelope.payload).toMatchObject({ incident_type: 'resource_quota_exceeded' });
    }
  });

  it('sorts an EventList into incidents and ignored events', () => {
    const r = intakeKubernetes(fixture('kubernetes/event-list-mixed.json'), testContext());
    const items = opened(r.items);
    expect(
      items.map((i) => [
        i.ref,
        i.envelope.payload.incident_type,
        i.envelope.payload.metadata['classification'],
      ]),
    ).toEqual([
      ['items[0]', 'image_signature_failed', { rule: 'image.signature_denied', by: 'gateway.intake' }],
      ['items[1]', 'image_signature_failed', { rule: 'image.signature_denied', by: 'gateway.intake' }],
      ['items[2]', 'resource_quota_exceeded', { rule: 'rbac.forbidden', by: 'gateway.intake' }],
    ]);
    expect(items[0]?.envelope.payload.metadata['signature_denial']).toEqual({
      controller: 'kyverno',
      webhook: 'mutate.kyverno.svc-fail',
    });
    expect(items[0]?.envelope.payload.affected_resources).toContain('image://ghcr.io/acme/shop-api:2.14.0');
    expect(items[1]?.envelope.payload.metadata['signature_denial']).toMatchObject({
      controller: 'sigstore-policy-controller',
    });
    expect(items[2]?.envelope.payload.metadata['rbac']).toEqual({
      user: 'system:serviceaccount:ci:deployer',
      verb: 'create',
      resource: 'deployments',
      api_group: 'apps',
      namespace: 'shop',
    });
    expect(items[2]?.envelope.payload.affected_resources).toContain('serviceaccount://ci/deployer');
    expect(r.ignored).toEqual([
      { ref: 'items[3]', reason: 'event_type_normal' },
      { ref: 'items[4]', reason: 'reason_not_handled' },
    ]);
  });

  it('reads `kubectl get events -o json`: a List of core/v1 Events', () => {
    const r = intakeKubernetes(fixture('kubernetes/kubectl-get-events.json'), testContext());
    const items = opened(r.items);
    expect(items.map((i) => [i.ref, i.envelope.payload.incident_type, i.dedup_key])).toEqual([
      ['items[1]', 'image_signature_failed', 'kubernetes:0b6e7d3a-91c2-4f57-b8a0-4e2d9c6f1a83:8'],
      ['items[3]', 'config_validation_failed', 'kubernetes:5f0c2d1e-7a44-4b9e-9c61-2d8e3f7a1b90:4'],
    ]);
    // A scheduler warning no incident type covers is dropped, not sent to a person.
    expect(r.ignored).toEqual([
      { ref: 'items[0]', reason: 'event_type_normal' },
      { ref: 'items[2]', reason: 'reason_not_handled' },
    ]);
    expect(items[0]?.envelope.payload.metadata['event']).toMatchObject({
      count: 8,
      reporter: 'kubelet',
      first_seen: '2026-11-25T08:40:03Z',
      last_seen: '2026-11-25T09:12:44Z',
    });
    expect(items[0]?.recurrence_keys).toEqual([
      'kubernetes-event:0b6e7d3a-91c2-4f57-b8a0-4e2d9c6f1a83',
      'kubernetes:Pod/payments/ledger-5d8c7b9f6-qwk4r:Failed',
      'kubernetes:Deployment/payments/ledger:image_signature_failed',
    ]);
  });

  it('reads `kubectl get events.v1.events.k8s.io -o json`: the same Events keep their keys', () => {
    const v1 = intakeKubernetes(fixture('kubernetes/kubectl-get-events-v1.json'), testContext());
    const core = intakeKubernetes(fixture('kubernetes/kubectl-get-events.json'), testContext());
    const [pull, quota] = opened(v1.items);
    const corePull = opened(core.items)[0];
    expect(pull?.dedup_key).toBe(corePull?.dedup_key);
    expect(pull?.correlation_key).toBe(corePull?.correlation_key);
    expect(pull?.recurrence_keys).toEqual(corePull?.recurrence_keys);
    expect(quota?.envelope.payload.incident_type).toBe('resource_quota_exceeded');
    // No reportingController: the reporter comes from deprecatedSource.
    expect(quota?.envelope.payload.metadata['event']).toMatchObject({
      count: 7,
      reporter: 'replicaset-controller',
    });
    expect(v1.ignored).toEqual([{ ref: 'items[2]', reason: 'event_type_normal' }]);
  });

  it('refuses a List of other kinds, or another object, naming its kind', () => {
    const configmaps = () =>
      intakeKubernetes(fixture('kubernetes/kubectl-get-configmaps.json'), testContext());
    expect(invalidFields(configmaps)).toEqual(['items[0].kind']);
    expect(configmaps).toThrow(/items\[0\]\.kind: is ConfigMap: a List sent here must hold Events only/);
    const mixed = mutable('kubernetes/kubectl-get-events.json') as { items: Record<string, unknown>[] };
    mixed.items[2]!['kind'] = 'Pod';
    expect(invalidFields(() => intakeKubernetes(mixed, testContext()))).toEqual(['items[2].kind']);
    const pod = { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'web-0' } };
    expect(() => intakeKubernetes(pod, testContext())).toThrow(
      /kind: is Pod: expected an Event, an EventList or a List of Events/,
    );
    // An Event without its object is still reported by the schema, under its path in the List.
    const broken = mutable('kubernetes/kubectl-get-events.json') as { items: Record<string, unknown>[] };
    delete broken.items[1]!['involvedObject'];
    expect(invalidFields(() => intakeKubernetes(broken, testContext()))).toEqual(['items[1]']);
  });

  it('opens a config incident for a FailedMount of a missing ConfigMap, and drops other FailedMounts', () => {
    const mount = (message: string) => {
      const e = mutable('kubernetes/core-v1-missing-configmap-key.json');
      e['reason'] = 'FailedMount';
      e['message'] = message;
      return intakeKubernetes(e, testContext());
    };
    const missing = mount(
      'MountVolume.SetUp failed for volume "config" : configmap "checkout-config" not found',
    );
    expect(opened(missing.items)[0]?.envelope.payload).toMatchObject({
      incident_type: 'config_validation_failed',
      affected_resources: expect.arrayContaining(['configmap://shop/checkout-config']),
    });
    const other = mount(
      'Unable to attach or mount volumes: unmounted volumes=[data]: timed out waiting for the condition',
    );
    expect(other.items).toEqual([]);
    expect(other.ignored).toEqual([{ ref: '$', reason: 'reason_not_handled' }]);
  });

  it('keeps the key on redelivery and changes it when the event repeats', () => {
    const a = intakeKubernetes(fixture('kubernetes/core-v1-missing-configmap-key.json'), testContext());
    const b = intakeKubernetes(
      fixture('kubernetes/core-v1-missing-configmap-key.json'),
      testContext('2027-01-01T00:00:00Z'),
    );
    expect(b.items[0]?.dedup_key).toBe(a.items[0]?.dedup_key);
    const repeat = mutable('kubernetes/core-v1-missing-configmap-key.json');
    repeat['count'] = 5;
    const c = intakeKubernetes(repeat, testContext());
    expect(c.items[0]?.dedup_key).not.toBe(a.items[0]?.dedup_key);
    expect(c.items[0]?.correlation_key).toBe(a.items[0]?.correlation_key);
  });

  it('falls back to the object, reason and first time when the event has no uid', () => {
    const e = mutable('kubernetes/core-v1-missing-configmap-key.json');
    e['metadata'] = { name: 'x', namespace: 'shop' };
    const [item] = intakeKubernetes(e, testContext()).items;
    expect(item?.dedup_key).toBe(
      'kubernetes:Pod/shop/checkout-6b7f9c8d4-x2lqz:Failed:2026-11-25T14:01:58Z:4',
    );
  });

  it('names the failing paths of malformed events and lists', () => {
    const e = mutable('kubernetes/core-v1-missing-configmap-key.json');
    e['count'] = 'four';
    e['involvedObject'] = 'Pod/x';
    e['lastTimestamp'] = 'later';
    expect([...invalidFields(() => intakeKubernetes(e, testContext()))].sort()).toEqual(
      ['count', 'involvedObject', 'lastTimestamp'].sort(),
    );

    const v1 = mutable('kubernetes/events-v1-quota-exceeded.json');
    v1['series'] = { count: -1 };
    delete v1['regarding'];
    v1['note'] = 42;
    expect([...invalidFields(() => intakeKubernetes(v1, testContext()))].sort()).toEqual(
      ['note', 'regarding', 'series.count', 'series.lastObservedTime'].sort(),
    );

    const list = mutable('kubernetes/event-list-mixed.json') as { items: Record<string, unknown>[] };
    list.items[1] = { metadata: {} };
    (list.items[2] as { metadata: { uid: unknown } }).metadata.uid = 7;
    expect([...invalidFields(() => intakeKubernetes(list, testContext()))].sort()).toEqual(
      ['items[1]', 'items[2].metadata.uid'].sort(),
    );
  });

  it('correlates on the object, the reason and the type: two kinds of `Failed` of one pod are two incidents', () => {
    const e = (uid: string, count: number, message: string) => {
      const ev = mutable('kubernetes/core-v1-image-pull-failed.json');
      (ev['metadata'] as Record<string, unknown>)['uid'] = uid;
      ev['count'] = count;
      ev['message'] = message;
      return ev;
    };
    const key = (ev: unknown) => opened(intakeKubernetes(ev, testContext()).items)[0]!.correlation_key;
    const pull = 'Failed to pull image "registry.example.net/payments/ledger:2.4.0": not found';
    const secret = "Error: couldn't find key PASSWORD in Secret payments/ledger-creds";
    const pod = 'kubernetes:Pod/payments/ledger-5d8c7b9f6-qwk4r:Failed';
    expect(key(e('a', 1, pull))).toBe(`${pod}:image_signature_failed`);
    // The same Event again (count raised): the same key, so it joins the open incident.
    expect(key(e('a', 2, pull))).toBe(key(e('a', 1, pull)));
    expect(key(e('b', 1, secret))).toBe(`${pod}:config_validation_failed`);
    // The recurrence key stays the object and reason: any failure of it soon after a fix goes to a person.
    const [item] = opened(intakeKubernetes(e('b', 1, secret), testContext()).items);
    expect(item!.recurrence_keys).toContain(pod);
  });

  it("marks an init container, and a policy engine's report", () => {
    const ev = mutable('kubernetes/core-v1-image-pull-failed.json');
    (ev['involvedObject'] as Record<string, unknown>)['fieldPath'] = 'spec.initContainers{migrate}';
    const [init] = opened(intakeKubernetes(ev, testContext()).items);
    expect(init!.envelope.payload.metadata['object']).toMatchObject({
      container: 'migrate',
      init_container: true,
    });
    expect(init!.envelope.payload.metadata).not.toHaveProperty('policy_report');

    const report = mutable('kubernetes/core-v1-image-pull-failed.json');
    report['involvedObject'] = { kind: 'Deployment', namespace: 'payments', name: 'ledger' };
    report['reason'] = 'PolicyViolation';
    report['source'] = { component: 'kyverno-scan' };
    report['message'] =
      'policy verify-image/verify-image fail: failed to verify image registry.example.net/payments/ledger:2.3.0: no matching signatures';
    const [item] = opened(intakeKubernetes(report, testContext()).items);
    expect(item!.envelope.payload.metadata).toMatchObject({
      policy_report: { reason: 'PolicyViolation', reporter: 'kyverno-scan' },
    });
    expect(item!.envelope.payload.metadata['object']).not.toHaveProperty('init_container');
  });

  it('infers Deployments from pod-template-hash names only', () => {
    expect(inferDeployment('Pod', 'web-7d9f8b6c5-4lqpz')).toBe('web');
    expect(inferDeployment('ReplicaSet', 'api-server-6c8d5f7b9')).toBe('api-server');
    expect(inferDeployment('Pod', 'postgres-0')).toBeUndefined();
    expect(inferDeployment('Job', 'deploy-bot')).toBeUndefined();
  });
});
