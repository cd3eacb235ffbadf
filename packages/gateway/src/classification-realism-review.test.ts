/**
 * Review: real-world incident payloads, posted through the real gateway app (`app.request()`),
 * the in-process parties and the dry-run executor. Each test is a payload as a real system emits
 * it today, and what docs/api.md ("Kubernetes", "Triage and fixes") promises for it.
 */
import { type ApprovalProposal, defaultPolicy, runMonitoringStep, runProblemSolverStep } from '@aaps/agents';
import { describe, expect, it } from 'vitest';
import { applyFieldOps, planChange } from './executor/plan.js';
import { intakeKubernetes } from './intake/kubernetes.js';
import { testContext } from './intake/test-helpers/fixtures.js';
import type { OpenIncident } from './intake/types.js';
import {
  alertmanagerBody,
  fixture,
  gatewayPerTest,
  incident,
  json,
  request,
  type TestGateway,
  TOKENS,
} from './test-helpers/gateway.js';

const gateway = gatewayPerTest();

const alert = (labels: Record<string, string>, annotations: Record<string, string>) =>
  alertmanagerBody(labels, annotations, '5e1f0c2d3b4a6978');

/** A core/v1 Event as kubectl / an event exporter gives it. */
function event(kind: string, name: string, reason: string, message: string, fieldPath?: string) {
  return {
    apiVersion: 'v1',
    kind: 'Event',
    metadata: {
      name: `${name}.187b2f6a0c9d41e2`,
      namespace: 'shop',
      uid: '5f0c2d1e-7a44-4b9e-9c61-2d8e3f7a1b90',
      resourceVersion: '88412093',
      creationTimestamp: '2026-11-25T14:01:58Z',
    },
    involvedObject: {
      kind,
      namespace: 'shop',
      name,
      apiVersion: kind === 'Pod' ? 'v1' : 'apps/v1',
      ...(fieldPath === undefined ? {} : { fieldPath }),
    },
    reason,
    message,
    source: { component: kind === 'Pod' ? 'kubelet' : 'replicaset-controller', host: 'node-pool-a-3' },
    firstTimestamp: '2026-11-25T14:01:58Z',
    lastTimestamp: '2026-11-25T14:06:12Z',
    count: 4,
    type: 'Warning',
    eventTime: null,
    reportingComponent: kind === 'Pod' ? 'kubelet' : 'replicaset-controller',
    reportingInstance: '',
  };
}

async function post(gw: TestGateway, source: string, body: unknown) {
  const res = await request(gw, 'POST', `/v1/webhooks/${source}`, { token: TOKENS.submit, body });
  expect(res.status).toBe(202);
  return json(res);
}

async function runOne(gw: TestGateway, source: string, body: unknown) {
  const out = await post(gw, source, body);
  const incidents = out['incidents'] as { incident_id: string }[];
  expect(incidents).toHaveLength(1);
  await gw.runner.idle();
  return incident(gw, incidents[0]!.incident_id);
}

describe('application alerts about signatures are not image failures', () => {
  // docs/api.md, Triage and fixes: an application's "Stripe webhook signature mismatch" alert is
  // no image failure to roll back. The same alert worded "verification failed" (or "validation
  // failed"), as applications log it, is rolled back automatically.
  it.each([
    ['payments', 'Stripe webhook signature verification failed for 42 events in the last 5m'],
    ['sso', 'SAML response signature validation failed for 12 logins in the last 5m'],
    ['api', 'failed to verify JWT signature for 318 requests in the last 5m'],
  ])('an alert on Deployment %s saying "%s" rolls nothing back', async (deployment, description) => {
    const gw = await gateway();
    const inc = await runOne(
      gw,
      'alertmanager',
      alert(
        { alertname: 'InboundAuthErrors', namespace: 'shop', deployment, severity: 'critical' },
        { summary: 'Inbound requests are being rejected', description },
      ),
    );
    expect(inc['proposal']).not.toMatchObject({ action: 'image_rollback' });
    expect(inc['type']).toBe('unknown');
  });

  it('an alert whose name says "Signature" (an HMAC check) is not rolled back as an image failure', async () => {
    const gw = await gateway();
    const inc = await runOne(
      gw,
      'alertmanager',
      alert(
        {
          alertname: 'WebhookSignatureInvalid',
          namespace: 'shop',
          deployment: 'payments',
          severity: 'critical',
        },
        { summary: 'Inbound webhooks rejected', description: '42 inbound webhooks rejected in the last 5m' },
      ),
    );
    expect(inc['proposal']).not.toMatchObject({ action: 'image_rollback' });
  });
});

describe('image-signature admission denials the docs list', () => {
  // Ratify's Gatekeeper constraint, and the same constraint as AKS's Azure Policy installs it.
  it.each(['ratify-constraint', 'azurepolicy-ratifyverification-077bac5b63d37da0bc4a'])(
    'Ratify through Gatekeeper ("[%s] Subject failed verification: IMAGE") opens an image_signature_failed incident',
    async (constraint) => {
      const gw = await gateway();
      const out = await post(
        gw,
        'kubernetes',
        event(
          'ReplicaSet',
          'web-7d9f8b6c5',
          'FailedCreate',
          `Error creating: admission webhook "validation.gatekeeper.sh" denied the request: [${constraint}] Subject failed verification: registry.example/shop/web@sha256:${'c4'.repeat(32)}`,
        ),
      );
      expect(out['ignored']).toEqual([]);
      expect(out['incidents']).toHaveLength(1);
      await gw.runner.idle();
      const inc = await incident(gw, (out['incidents'] as { incident_id: string }[])[0]!.incident_id);
      expect(inc['type']).toBe('image_signature_failed');
    },
  );
});

describe('a missing ConfigMap/Secret key, as kubelet reports a volume item', () => {
  // kubelet's configmap/secret volume plugins: the key named in `items:` is not in the object.
  it.each([
    'MountVolume.SetUp failed for volume "config" : configmap references non-existent config key: app.yaml',
    'MountVolume.SetUp failed for volume "tls" : references non-existent secret key: tls.crt',
  ])('FailedMount "%s" opens a config_validation_failed incident', async (message) => {
    const gw = await gateway();
    const out = await post(gw, 'kubernetes', event('Pod', 'web-7d9f8b6c5-x2x4k', 'FailedMount', message));
    expect(out['ignored']).toEqual([]);
    expect(out['incidents']).toHaveLength(1);
    await gw.runner.idle();
    const inc = await incident(gw, (out['incidents'] as { incident_id: string }[])[0]!.incident_id);
    expect(inc['type']).toBe('config_validation_failed');
  });
});

describe('LimitRange denials the docs list ("LimitRange maximums") and their siblings', () => {
  // LimitRanger admission's wording, as the ReplicaSet and StatefulSet controllers report it.
  it.each([
    [
      'ReplicaSet',
      'web-7d9f8b6c5',
      'Error creating: pods "web-7d9f8b6c5-5vz8k" is forbidden: minimum memory usage per Container is 64Mi, but request is 32Mi',
    ],
    [
      'StatefulSet',
      'db',
      'create Claim data-db-0 for Pod db-0 in StatefulSet db failed error: persistentvolumeclaims "data-db-0" is forbidden: maximum storage usage per PersistentVolumeClaim is 10Gi, but request is 20Gi',
    ],
  ])(
    '%s %s: its LimitRange FailedCreate opens a resource_quota_exceeded incident',
    async (kind, name, message) => {
      const gw = await gateway();
      const out = await post(gw, 'kubernetes', event(kind, name, 'FailedCreate', message));
      expect(out['ignored']).toEqual([]);
      expect(out['incidents']).toHaveLength(1);
    },
  );
});

describe('an Argo CD sync failing in two namespaces', () => {
  it('raises no quota in a namespace other than the one whose quota was exceeded', async () => {
    const gw = await gateway();
    const denial =
      'pods "db-migrate" is forbidden: exceeded quota: compute, requested: limits.cpu=1, used: limits.cpu=4, limited: limits.cpu=4';
    const inc = await runOne(gw, 'argocd', {
      app: 'shop',
      trigger: 'on-sync-failed',
      syncStatus: 'OutOfSync',
      operationState: {
        operation: {
          sync: { revision: '9c41e07b2d5a8f36e1c0b4d7a29f5e8c3b6d1a07' },
          initiatedBy: { automated: true },
        },
        phase: 'Failed',
        message: `one or more objects failed to apply, reason: ${denial}`,
        syncResult: {
          resources: [
            {
              group: '',
              version: 'v1',
              kind: 'Service',
              namespace: 'shop',
              name: 'web',
              status: 'SyncFailed',
              message:
                'Service "web" is invalid: spec.ports[0].nodePort: Invalid value: 30080: provided port is already allocated',
              syncPhase: 'Sync',
            },
            {
              group: '',
              version: 'v1',
              kind: 'Pod',
              namespace: 'batch',
              name: 'db-migrate',
              status: 'SyncFailed',
              message: denial,
              hookPhase: 'Failed',
              syncPhase: 'PreSync',
            },
          ],
          revision: '9c41e07b2d5a8f36e1c0b4d7a29f5e8c3b6d1a07',
          source: {
            repoURL: 'https://git.example.net/platform/shop-deploy.git',
            path: 'apps/shop',
            targetRevision: 'main',
          },
        },
        startedAt: '2026-11-25T13:58:02Z',
        finishedAt: '2026-11-25T13:58:09Z',
      },
    });
    // The exceeded quota is batch/compute (the failed Pod's namespace); shop's was not exceeded.
    expect(inc['proposal']).not.toMatchObject({ target: 'resourcequota://shop/compute' });
  });
});

describe('an image failure that names only a pod', () => {
  // The review asked for a person here (its owner may be an Argo Rollout). Kept as docs/api.md,
  // "Workloads from pod names", now says: a Deployment read from a pod-template hash is taken as
  // named (it is how kubelet's Events name every pull failure), and a wrong guess names a
  // Deployment that does not exist, so the change fails and is recorded.
  // KubeContainerWaiting carries no pull error, so a person reads it before anything is rolled
  // back (docs/api.md, "Triage and fixes"); the Deployment is the one the hash names all the same.
  it('KubeContainerWaiting (reason ErrImagePull, pod label only) names the Deployment its pod-template hash names', async () => {
    const gw = await gateway();
    const inc = await runOne(
      gw,
      'alertmanager',
      alert(
        {
          alertname: 'KubeContainerWaiting',
          namespace: 'shop',
          pod: 'checkout-6b7f9c8d4-x2lqz',
          container: 'checkout',
          reason: 'ErrImagePull',
          severity: 'warning',
        },
        {
          description:
            'pod/checkout-6b7f9c8d4-x2lqz in namespace shop on container checkout has been in waiting state for longer than 1 hour.',
        },
      ),
    );
    expect(inc['type']).toBe('image_signature_failed');
    expect(inc['proposal']).toBeNull();
    const record = await gw.store.getIncident(inc['incident_id'] as string);
    expect(record?.fixes?.escalations).toEqual([
      expect.objectContaining({
        kind: 'pull_cause_unknown',
        detail: expect.stringContaining('deployment://shop/checkout'),
      }),
    ]);
  });
});

describe('a Deployment update that admission refused never reached the cluster', () => {
  // The docs' own fixture: Kyverno's verifyImages denied the Deployment object itself at apply
  // time ("resource Deployment/shop/web was blocked"); the live Deployment is unchanged and
  // `status.health` is Healthy. `kubectl rollout undo` would replace the healthy running revision
  // with the one before it.
  it('an Argo CD sync blocked by Kyverno (Application Healthy) does not roll the live Deployment back a revision', async () => {
    const gw = await gateway();
    const inc = await runOne(gw, 'argocd', fixture('argocd/application-sync-failed-signature.json'));
    expect(inc['proposal']).not.toMatchObject({
      action: 'image_rollback',
      target: 'deployment://shop/web',
      parameters: { basis: 'previous_revision' },
    });
    expect(JSON.stringify(inc['execution'] ?? null)).not.toContain('rollout undo');
  });
});

describe('two different failures of one pod', () => {
  // kubelet reports both a pull failure and a missing Secret key with reason `Failed`. A
  // StatefulSet's pod keeps its name (db-0), so once its image is fixed by hand, the next failure
  // of db-0 is a different Event (another uid, another type), not a repeat of the first.
  it('a missing Secret key on db-0 is its own config_validation_failed incident, not a "duplicate" of the open pull failure', async () => {
    const gw = await gateway();
    const ev = (uid: string, message: string) => ({
      ...event('Pod', 'db-0', 'Failed', message, 'spec.containers{db}'),
      metadata: {
        name: `db-0.${uid.slice(-4)}`,
        namespace: 'shop',
        uid,
        creationTimestamp: '2026-11-25T14:01:58Z',
      },
      count: 1,
    });
    const first = await post(
      gw,
      'kubernetes',
      ev(
        '11111111-aaaa-4bbb-8ccc-000000000001',
        'Failed to pull image "registry.example/shop/db:16.2": rpc error: code = NotFound desc = failed to pull and unpack image "registry.example/shop/db:16.2": not found',
      ),
    );
    await gw.runner.idle();
    const pull = (first['incidents'] as { incident_id: string }[])[0]!.incident_id;
    expect((await incident(gw, pull))['state']).toBe('awaiting_human');

    const second = await post(
      gw,
      'kubernetes',
      ev(
        '11111111-aaaa-4bbb-8ccc-000000000002',
        "Error: couldn't find key POSTGRES_PASSWORD in Secret shop/db-creds",
      ),
    );
    const [item] = second['incidents'] as { incident_id: string; duplicate: boolean; joined: boolean }[];
    expect(item).toMatchObject({ duplicate: false, joined: false });
    expect(item!.incident_id).not.toBe(pull);
    await gw.runner.idle();
    expect((await incident(gw, item!.incident_id))['type']).toBe('config_validation_failed');
  });
});

describe('an alert whose only tie to a type is an object word in its name', () => {
  // signal-rules.ts BY_ALERT_NAME: "only words that name a Kubernetes failure count"; `Secret` and
  // `ConfigMap` name objects. A hygiene alert about one (rotation, size) is no failure of it, and
  // re-rendering it from Git (a rotated Secret back to its old value) is a change nobody asked for.
  it.each([
    [
      'SecretRotationOverdue',
      { alertname: 'SecretRotationOverdue', namespace: 'shop', secret: 'db-creds', severity: 'warning' },
      'Secret shop/db-creds was last rotated 120 days ago.',
    ],
    [
      'KubeConfigMapLarge',
      { alertname: 'KubeConfigMapLarge', namespace: 'shop', configmap: 'app-config', severity: 'info' },
      'ConfigMap shop/app-config is 900KiB, close to the 1MiB object size limit.',
    ],
  ])(
    '%s (labels name the object, no failure text) re-renders nothing on its own',
    async (_name, labels, description) => {
      const gw = await gateway();
      const inc = await runOne(gw, 'alertmanager', alert(labels, { description }));
      expect(inc['state']).not.toBe('resolved');
      expect(inc['execution'] ?? null).toBeNull();
    },
  );
});

describe('a pull failure of an init container', () => {
  // The intake reads `spec.initContainers{migrate}` as the failing container (kubernetes.ts), the
  // solver rolls that container back, and the plan edits `spec.template.spec.containers{migrate}`,
  // which a Deployment with an init container `migrate` does not have.
  it('the rollback edits the init container the event names', () => {
    const good = `registry.example/shop/web:1.4.0@sha256:${'ab'.repeat(32)}`;
    const intake = intakeKubernetes(
      event(
        'Pod',
        'web-7d9f8b6c5-x2x4k',
        'Failed',
        'Failed to pull image "registry.example/shop/web:v2": rpc error: code = NotFound desc = failed to pull and unpack image "registry.example/shop/web:v2": not found',
        'spec.initContainers{migrate}',
      ),
      testContext(),
    );
    const open = intake.items[0] as OpenIncident;
    const triaged = runMonitoringStep({
      incident_id: 'inc-1',
      context: open.envelope.context,
      signal: open.envelope.payload,
    });
    const solved = runProblemSolverStep({
      incident_id: 'inc-1',
      signal: triaged,
      policy: defaultPolicy('problem-solver'),
      deployment_history: [
        {
          workload: 'deployment://shop/web',
          container: 'migrate',
          image: good,
          revision: 3,
          deployed_at: '2026-11-20T00:00:00Z',
          outcome: 'healthy',
        },
      ],
    });
    const p = solved.fix.proposals[0]!;
    expect(p).toMatchObject({
      action: 'image_rollback',
      parameters: { container: 'migrate', to_image: good },
    });
    const plan = planChange(
      {
        ...p,
        incident_id: 'inc-1',
        risk: { score: 10 },
        proposal_digest: '0'.repeat(64),
      } as unknown as ApprovalProposal,
      '2026-11-25T15:30:00Z',
    );
    const manifest = {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: 'web', namespace: 'shop' },
      spec: {
        template: {
          spec: {
            initContainers: [{ name: 'migrate', image: 'registry.example/shop/web:v2' }],
            containers: [{ name: 'web', image: 'registry.example/shop/web:v2' }],
          },
        },
      },
    };
    const patched = applyFieldOps(manifest, plan.resources[0]!.set) as typeof manifest;
    expect(patched.spec.template.spec.initContainers[0]!.image).toBe(good);
  });
});

describe("Kyverno's audit-mode report on a running Deployment", () => {
  // With `validationFailureAction: Audit` (and background scans), Kyverno blocks nothing and
  // reports each existing workload whose image it cannot verify as a Warning `PolicyViolation`
  // Event on that workload. The docs' own feed (`kubectl get events --field-selector
  // type=Warning -o json | curl …`) posts them all: each running Deployment must not be undone.
  it('a PolicyViolation on deployment shop/web (nothing blocked, nothing failing) is not rolled back automatically', async () => {
    const gw = await gateway();
    const inc = await runOne(gw, 'kubernetes', {
      ...event(
        'Deployment',
        'web',
        'PolicyViolation',
        'policy verify-image-signature/verify-image-signature fail: failed to verify image registry.example/shop/web:1.4.0: .attestors[0].entries[0].keys: no matching signatures',
      ),
      source: { component: 'kyverno-scan' },
      reportingComponent: 'kyverno-scan',
    });
    expect(inc['execution'] ?? null).toBeNull();
    expect(inc['state']).not.toBe('resolved');
  });
});
