import { describe, expect, it } from 'vitest';
import { HISTORY_KEPT, incidentNamespace, intakeArgoCD } from './argocd.js';
import { fixture, invalidFields, mutable, opened, testContext } from './test-helpers/fixtures.js';

describe('intakeArgoCD', () => {
  it('opens a config incident from the documented template body', () => {
    const r = intakeArgoCD(fixture('argocd/template-sync-failed-configmap.json'), testContext());
    const [item] = opened(r.items);
    expect(r.items).toHaveLength(1);
    expect(item?.dedup_key).toBe(
      'argocd:argocd/shop-checkout:2026-11-25T13:58:02Z:9c41e07b2d5a8f36e1c0b4d7a29f5e8c3b6d1a07',
    );
    expect(item?.correlation_key).toBe('argocd:argocd/shop-checkout');
    expect(item?.envelope.context.namespace).toBe('shop');
    expect(item?.envelope.payload).toMatchObject({
      incident_type: 'config_validation_failed',
      affected_resources: ['application://argocd/shop-checkout', 'configmap://shop/checkout-config'],
      evidence_refs: ['argocd://argocd/shop-checkout/operation/2026-11-25T13:58:02Z'],
      metadata: {
        source: 'argocd',
        trigger: 'on-sync-failed',
        phase: 'Failed',
        git_source: {
          repoURL: 'https://git.example.net/platform/shop-deploy.git',
          path: 'apps/checkout/overlays/prod',
        },
        argo_resources: [{ kind: 'ConfigMap', namespace: 'shop', name: 'checkout-config' }],
        classification: { rule: 'config.syntax' },
      },
    });
  });

  it('opens an image signature incident from a whole Application', () => {
    const [item] = opened(
      intakeArgoCD(fixture('argocd/application-sync-failed-signature.json'), testContext()).items,
    );
    expect(item?.dedup_key).toBe(
      'argocd:argocd/shop-web:2026-11-25T12:40:17Z:b7d30f9e41c6a2d85e0b3f71c9a4d6e28f15c0a3',
    );
    expect(item?.envelope.payload).toMatchObject({
      incident_type: 'image_signature_failed',
      severity: 'high',
      affected_resources: [
        'application://argocd/shop-web',
        'deployment://shop/web',
        'image://registry.example.net/shop/web:3.8.1',
      ],
      metadata: {
        sync_status: 'OutOfSync',
        health_status: 'Healthy',
        signature_denial: { controller: 'kyverno' },
        image: { repository: 'registry.example.net/shop/web', tag: '3.8.1' },
      },
    });
  });

  it('gives a failed workload the recurrence key an alert or Event about it gets', () => {
    const [item] = opened(
      intakeArgoCD(fixture('argocd/application-sync-failed-signature.json'), testContext()).items,
    );
    expect(item?.recurrence_keys).toEqual([
      'argocd:argocd/shop-web',
      'kubernetes:Deployment/shop/web:image_signature_failed',
    ]);
  });

  it('reads `"namespace": ""` (a cluster-scoped resource) as no namespace', () => {
    const clusterScoped = (kind: string, name: string) => ({
      kind,
      namespace: '',
      name,
      status: 'SyncFailed',
      message: 'error converting YAML to JSON: yaml: line 7: mapping values are not allowed in this context',
    });
    const body = mutable('argocd/template-sync-failed-configmap.json') as {
      operationState: { syncResult: { resources: Record<string, unknown>[] } };
    };
    const resources = body.operationState.syncResult.resources;
    resources.unshift(clusterScoped('Namespace', 'shop'), clusterScoped('ClusterRole', 'shop-reader'));
    const [item] = opened(intakeArgoCD(body, testContext()).items);
    // The first failed resource that names a namespace names the incident's.
    expect(item?.envelope.context.namespace).toBe('shop');
    expect(item?.envelope.payload.affected_resources).toEqual([
      'application://argocd/shop-checkout',
      'namespace://shop',
      'clusterrole://shop-reader',
      'configmap://shop/checkout-config',
    ]);
    expect(item?.envelope.payload.metadata['argo_resources']).toMatchObject([
      { kind: 'Namespace', name: 'shop' },
      { kind: 'ClusterRole', name: 'shop-reader' },
      { kind: 'ConfigMap', namespace: 'shop', name: 'checkout-config' },
    ]);
    const argo = item?.envelope.payload.metadata['argo_resources'] as Record<string, unknown>[];
    expect(argo[0]).not.toHaveProperty('namespace');

    // Only cluster-scoped failures and no destination: no namespace at all, none guessed.
    resources.splice(2);
    const [none] = opened(intakeArgoCD(body, testContext()).items);
    expect(none?.envelope.payload.metadata['namespace']).toBeNull();
    expect(none?.envelope.context.namespace).toBe('default');
  });

  it("reads the template body's `health`", () => {
    const body = mutable('argocd/template-sync-failed-configmap.json');
    body['health'] = { status: 'Healthy' };
    const [item] = opened(intakeArgoCD(body, testContext()).items);
    expect(item!.envelope.payload.metadata).toMatchObject({ health_status: 'Healthy' });
    body['health'] = null;
    expect(opened(intakeArgoCD(body, testContext()).items)[0]!.envelope.payload.metadata).not.toHaveProperty(
      'health_status',
    );
  });

  it('places failures in several namespaces where the deciding one is, or nowhere', () => {
    const quota =
      'pods "db-migrate" is forbidden: exceeded quota: compute, requested: limits.cpu=1, used: limits.cpu=4, limited: limits.cpu=4';
    const service = {
      kind: 'Service',
      namespace: 'shop',
      name: 'web',
      message: 'spec.ports[0].nodePort: Invalid value: 30080',
    };
    const pod = { kind: 'Pod', namespace: 'batch', name: 'db-migrate', message: quota };
    expect(
      incidentNamespace(`one or more objects failed to apply, reason: ${quota}`, [service, pod], 'shop'),
    ).toBe('batch');
    // One namespace: that one, whatever the messages say; none: the destination.
    expect(incidentNamespace(quota, [service], 'web')).toBe('shop');
    expect(incidentNamespace(quota, [], 'web')).toBe('web');
    // The same failure in two namespaces, or nothing the classifier reads: no namespace.
    expect(incidentNamespace(quota, [pod, { ...pod, namespace: 'shop' }], 'shop')).toBeUndefined();
    expect(incidentNamespace('boom', [service, { ...service, namespace: 'batch' }], 'shop')).toBeUndefined();
  });

  it('ignores other triggers and operations that did not fail', () => {
    expect(intakeArgoCD(fixture('argocd/template-sync-succeeded.json'), testContext())).toEqual({
      source: 'argocd',
      items: [],
      ignored: [{ ref: '$', reason: 'event_not_handled' }],
    });
    const body = mutable('argocd/template-sync-succeeded.json');
    delete body['trigger'];
    expect(intakeArgoCD(body, testContext()).ignored).toEqual([{ ref: '$', reason: 'not_a_failure' }]);
    const app = mutable('argocd/application-sync-failed-signature.json') as {
      status: Record<string, unknown>;
    };
    app.status['operationState'] = null;
    expect(intakeArgoCD(app, testContext()).ignored).toEqual([{ ref: '$', reason: 'not_a_failure' }]);
  });

  it('keeps the key when the same operation is notified again', () => {
    const a = intakeArgoCD(fixture('argocd/template-sync-failed-configmap.json'), testContext());
    const again = mutable('argocd/template-sync-failed-configmap.json') as {
      operationState: Record<string, unknown>;
    };
    again.operationState['finishedAt'] = '2026-11-25T13:59:30Z';
    const b = intakeArgoCD(again, testContext('2026-11-26T00:00:00Z'));
    expect(b.items[0]?.dedup_key).toBe(a.items[0]?.dedup_key);
  });

  it('names the failing paths of malformed bodies', () => {
    const body = mutable('argocd/template-sync-failed-configmap.json') as {
      operationState: {
        phase: unknown;
        startedAt: unknown;
        syncResult: { resources: Record<string, unknown>[] };
      };
    };
    body.operationState.phase = 'Broken';
    delete body.operationState.startedAt;
    delete body.operationState.syncResult.resources[0]?.['kind'];
    expect([...invalidFields(() => intakeArgoCD(body, testContext()))].sort()).toEqual(
      [
        'operationState.phase',
        'operationState.startedAt',
        'operationState.syncResult.resources[0].kind',
      ].sort(),
    );
    const app = mutable('argocd/application-sync-failed-signature.json') as {
      metadata: Record<string, unknown>;
    };
    delete app.metadata['name'];
    expect(invalidFields(() => intakeArgoCD(app, testContext()))).toEqual(['metadata.name']);
    expect(invalidFields(() => intakeArgoCD({ hello: 'world' }, testContext()))).toEqual(['$']);
  });

  it("keeps the application's history of successful syncs, newest last, from either body", () => {
    const entry = (n: number) => ({
      id: n,
      revision: n.toString(16).padStart(40, '0'),
      deployedAt: `2026-11-${String(n).padStart(2, '0')}T10:00:00Z`,
      deployStartedAt: `2026-11-${String(n).padStart(2, '0')}T09:59:50Z`,
      source: { repoURL: 'https://git.example.net/platform/shop-deploy.git', path: 'apps/web/overlays/prod' },
      initiatedBy: { automated: true },
    });
    // Twelve syncs, one of them a multi-source entry (no single `revision`): the newest ten with one.
    const history = [
      ...Array.from({ length: 12 }, (_, i) => entry(i + 1)),
      { id: 13, revisions: ['a', 'b'] },
    ];
    const body = { ...mutable('argocd/template-sync-failed-configmap.json'), history };
    const [item] = opened(intakeArgoCD(body, testContext()).items);
    const kept = (item?.envelope.payload.metadata as { sync_history?: unknown[] } | undefined)?.sync_history;
    expect(kept).toHaveLength(HISTORY_KEPT);
    expect(kept?.[0]).toEqual({
      revision: entry(3).revision,
      deployed_at: '2026-11-03T10:00:00Z',
      source: entry(3).source,
    });
    expect(kept?.at(-1)).toMatchObject({ revision: entry(12).revision });

    const app = mutable('argocd/application-sync-failed-signature.json') as {
      status: Record<string, unknown>;
    };
    app.status['history'] = [entry(1)];
    const [fromApp] = opened(intakeArgoCD(app, testContext()).items);
    expect(fromApp?.envelope.payload.metadata).toMatchObject({
      sync_history: [{ revision: entry(1).revision }],
    });

    // `{{toJson .app.status.history}}` of an application that never synced renders `null`.
    const none = { ...mutable('argocd/template-sync-failed-configmap.json'), history: null };
    const [bare] = opened(intakeArgoCD(none, testContext()).items);
    expect(bare?.envelope.payload.metadata).not.toHaveProperty('sync_history');
    expect(invalidFields(() => intakeArgoCD({ ...none, history: [{ revision: 7 }] }, testContext()))).toEqual(
      ['history[0].revision'],
    );
  });
});
