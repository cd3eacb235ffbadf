/**
 * The six suspicions the classification realism review (classification-realism-review.test.ts)
 * left unproved, each as the real system sends it (a kubelet or controller Event, an Alertmanager
 * v4 webhook), posted through the real gateway app, parties and dry-run executor. Five were
 * defects (fixed); the sixth (a Ratify denial on a ReplicaSet) was right and stays as a
 * regression test. docs/api.md, "Kubernetes", "Alertmanager" and "Triage and fixes".
 */
import { defaultPolicy, runMonitoringStep, runProblemSolverStep } from '@aaps/agents';
import { describe, expect, it } from 'vitest';
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

let uids = 0;
/** A core/v1 Event as kubelet or a controller writes it, as `kubectl get events -o json` gives it. */
function event(
  involved: { kind: string; name: string; fieldPath?: string },
  reason: string,
  message: string,
  component = involved.kind === 'Pod' ? 'kubelet' : 'replicaset-controller',
) {
  uids += 1;
  return {
    apiVersion: 'v1',
    kind: 'Event',
    metadata: {
      name: `${involved.name}.187b2f6a0c9d${(0x41e2 + uids).toString(16)}`,
      namespace: 'shop',
      uid: `5f0c2d1e-7a44-4b9e-9c61-${uids.toString(16).padStart(12, '0')}`,
      resourceVersion: String(88412093 + uids),
      creationTimestamp: '2026-11-25T14:01:58Z',
    },
    involvedObject: {
      kind: involved.kind,
      namespace: 'shop',
      name: involved.name,
      apiVersion: involved.kind === 'Pod' ? 'v1' : 'apps/v1',
      ...(involved.fieldPath === undefined ? {} : { fieldPath: involved.fieldPath }),
    },
    reason,
    message,
    source: { component, ...(component === 'kubelet' ? { host: 'node-pool-a-3' } : {}) },
    firstTimestamp: '2026-11-25T14:01:58Z',
    lastTimestamp: '2026-11-25T14:06:12Z',
    count: 3,
    type: 'Warning',
    eventTime: null,
    reportingComponent: component,
    reportingInstance: component === 'kubelet' ? 'node-pool-a-3' : '',
  };
}

const WEB_POD = { kind: 'Pod', name: 'web-7d9f8b6c5-x2x4k', fieldPath: 'spec.containers{web}' };

async function post(gw: TestGateway, source: string, body: unknown) {
  const res = await request(gw, 'POST', `/v1/webhooks/${source}`, { token: TOKENS.submit, body });
  expect(res.status).toBe(202);
  return json(res);
}

async function runOne(gw: TestGateway, source: string, body: unknown) {
  const out = await post(gw, source, body);
  expect(out['ignored']).toEqual([]);
  const incidents = out['incidents'] as { incident_id: string }[];
  expect(incidents).toHaveLength(1);
  await gw.runner.idle();
  const id = incidents[0]!.incident_id;
  const record = await gw.store.getIncident(id);
  return { id, inc: await incident(gw, id), escalations: record?.fixes?.escalations ?? [] };
}

type Entry = { state: string; event: string; detail: Record<string, unknown> };
function humanEscalations(inc: Record<string, unknown>): unknown {
  return (inc['timeline'] as Entry[]).find((e) => e.event === 'human_required')?.detail['escalations'];
}

describe('1. a namespace label that is no Kubernetes namespace name', () => {
  // A relabelling mistake or another system's label (`Shop_Prod`): the parties refuse any target in
  // it, which ended the incident `rejected` with nobody asked. Refusing the webhook instead would
  // drop the whole Alertmanager group (it does not retry a 4xx): the incident is opened and a
  // person is told why.
  it('a quota alert in namespace "Shop_Prod" waits for a person (no_namespace, saying why), not rejected', async () => {
    const gw = await gateway();
    const { inc, escalations } = await runOne(
      gw,
      'alertmanager',
      alertmanagerBody(
        { alertname: 'KubeQuotaExceeded', namespace: 'Shop_Prod', severity: 'warning' },
        {
          description:
            'pods "worker-5c7d9" is forbidden: exceeded quota: compute, requested: limits.cpu=1, used: limits.cpu=4, limited: limits.cpu=4',
        },
      ),
    );
    expect(inc['type']).toBe('resource_quota_exceeded');
    expect(inc['state']).toBe('awaiting_human');
    expect(inc['proposal']).toBeNull();
    expect(humanEscalations(inc)).toEqual(['no_namespace']);
    expect(escalations[0]?.detail).toContain('"Shop_Prod" is not a valid Kubernetes namespace name');
  });

  it('an image alert on deployment web in namespace "shop prod" waits for a person, naming the namespace', async () => {
    const gw = await gateway();
    const { inc, escalations } = await runOne(
      gw,
      'alertmanager',
      alertmanagerBody(
        { alertname: 'KubePodNotReady', namespace: 'shop prod', deployment: 'web', severity: 'critical' },
        {
          description:
            'Failed to pull image "registry.example/shop/web:1.5.0": rpc error: code = NotFound desc = failed to pull and unpack image "registry.example/shop/web:1.5.0": not found',
        },
      ),
    );
    expect(inc['state']).toBe('awaiting_human');
    expect(inc['proposal']).toBeNull();
    expect(humanEscalations(inc)).toEqual(['no_namespace']);
    expect(escalations[0]?.detail).toContain('"shop prod" is not a valid Kubernetes namespace name');
  });

  it('a signal whose context names an invalid namespace gets no proposal the parties would refuse', () => {
    const triaged = runMonitoringStep({
      incident_id: 'inc-1',
      context: { namespace: 'Shop_Prod', cluster: 'c', urgency: 'P2', constraints_ref: 'policy://x' },
      signal: {
        incident_type: 'unknown',
        severity: 'medium',
        affected_resources: [],
        evidence_refs: ['alert://x/1'],
        metadata: { messages: ["couldn't find key app.yaml in ConfigMap app-config"] },
      },
    });
    expect(triaged.triage.facts.namespace).toBeUndefined();
    const solved = runProblemSolverStep({
      incident_id: 'inc-1',
      signal: triaged,
      policy: defaultPolicy('problem-solver'),
      sources: {},
    });
    expect(solved.fix.proposals).toEqual([]);
    expect(solved.fix.escalations.map((e) => e.kind)).toEqual(['no_namespace']);
  });
});

/**
 * kube-state-metrics' KubeContainerWaiting about shop's checkout pod, scraped without honor_labels
 * from an exporter running in `exporterNamespace`: the target's namespace, pod and container keep
 * their names, the metric's are exported_namespace, exported_pod, exported_container.
 */
function scrapedWaitingAlert(exporterNamespace: string) {
  return alertmanagerBody(
    {
      alertname: 'KubeContainerWaiting',
      namespace: exporterNamespace,
      pod: 'kube-state-metrics-5d8c7b9f6-qwk4r',
      container: 'kube-state-metrics',
      exported_namespace: 'shop',
      exported_pod: 'checkout-6b7f9c8d4-x2lqz',
      exported_container: 'checkout',
      reason: 'ErrImagePull',
      severity: 'warning',
    },
    {
      description:
        'pod/checkout-6b7f9c8d4-x2lqz in namespace shop on container checkout has been in waiting state for longer than 1 hour.',
    },
  );
}

describe("2. a controller's own namespace is not the failing workload's", () => {
  // A log-based alert (Loki ruler, a log-to-metrics rule) carries the namespace and pod of the pod
  // whose log it read: Kyverno's admission controller in `kyverno` writing about shop/web.
  it("Kyverno's log of a blocked shop/web does not roll back Kyverno's own admission controller", async () => {
    const gw = await gateway();
    const { inc, escalations } = await runOne(
      gw,
      'alertmanager',
      alertmanagerBody(
        {
          alertname: 'KyvernoImageVerifyFailures',
          namespace: 'kyverno',
          pod: 'kyverno-admission-controller-6b7f9c8d4-x2lqz',
          container: 'kyverno',
          job: 'kyverno/kyverno-admission-controller',
          severity: 'warning',
        },
        {
          summary: 'Kyverno is blocking images it cannot verify',
          description:
            'admission webhook "mutate.kyverno.svc-fail" denied the request: resource Deployment/shop/web was blocked due to the following policies verify-image-signature: verify-image-signature: failed to verify image registry.example/shop/web:1.5.0: .attestors[0].entries[0].keys: no matching signatures',
        },
      ),
    );
    expect(inc['type']).toBe('image_signature_failed');
    expect(inc['state']).toBe('awaiting_human');
    expect(inc['proposal']).toBeNull();
    expect(inc['execution'] ?? null).toBeNull();
    expect(humanEscalations(inc)).toEqual(['no_namespace']);
    expect(escalations[0]?.detail).toContain('namespace "kyverno", where a controller runs');
  });

  it("Argo CD's controller log of a quota denial raises no quota in argocd", async () => {
    const gw = await gateway();
    const { inc } = await runOne(
      gw,
      'alertmanager',
      alertmanagerBody(
        {
          alertname: 'ArgoCDSyncErrors',
          namespace: 'argocd',
          pod: 'argocd-application-controller-0',
          severity: 'warning',
        },
        {
          description:
            'pods "db-migrate" is forbidden: exceeded quota: compute, requested: limits.cpu=1, used: limits.cpu=4, limited: limits.cpu=4',
        },
      ),
    );
    expect(inc['state']).toBe('awaiting_human');
    expect(inc['proposal']).toBeNull();
    expect(humanEscalations(inc)).toEqual(['no_namespace']);
  });

  it("a kube-system controller's message that names the ConfigMap's namespace re-renders it there", async () => {
    const gw = await gateway();
    const { inc } = await runOne(
      gw,
      'alertmanager',
      alertmanagerBody(
        { alertname: 'KubeletConfigErrors', namespace: 'kube-system', pod: 'kubelet-log-exporter-7x9zq' },
        { description: "Error: couldn't find key app.yaml in ConfigMap shop/app-config" },
      ),
    );
    expect(inc['type']).toBe('config_validation_failed');
    expect(inc['proposal']).toMatchObject({
      action: 'configmap_reload',
      target: 'configmap://shop/app-config',
    });
  });

  it('a kube-state-metrics alert scraped without honor_labels (exported_namespace) does not roll back the exporter', async () => {
    const gw = await gateway();
    const { inc, escalations } = await runOne(gw, 'alertmanager', scrapedWaitingAlert('monitoring'));
    expect(inc['proposal']).toBeNull();
    expect(humanEscalations(inc)).toEqual(['no_namespace']);
    expect(escalations[0]?.detail).toContain('exported_namespace');
  });

  it('a namespace named in --controller-namespaces is set aside like the built-in ones', async () => {
    const labels = {
      alertname: 'TektonTaskRunFailed',
      namespace: 'tekton-pipelines',
      pod: 'tekton-pipelines-controller-7c9f8d6b5-k2x8q',
      severity: 'warning',
    };
    const description =
      'pods "build-42" is forbidden: exceeded quota: compute, requested: limits.cpu=1, used: limits.cpu=4, limited: limits.cpu=4';
    const configured = await gateway({ config: { controllerNamespaces: ['tekton-pipelines'] } });
    const { inc, escalations } = await runOne(
      configured,
      'alertmanager',
      alertmanagerBody(labels, { description }),
    );
    expect(inc['proposal']).toBeNull();
    expect(humanEscalations(inc)).toEqual(['no_namespace']);
    expect(escalations[0]?.detail).toContain('tekton-pipelines');
    // Control: without the setting the same alert raises the quota in the controller's namespace.
    const plain = await gateway();
    const { inc: raised } = await runOne(plain, 'alertmanager', alertmanagerBody(labels, { description }));
    expect(raised['proposal']).toMatchObject({ target: 'resourcequota://tekton-pipelines/compute' });
  });

  it("an exporter scraped in the failing workload's own namespace: the pod is exported_pod, not the exporter's", async () => {
    const gw = await gateway();
    const { inc, escalations } = await runOne(gw, 'alertmanager', scrapedWaitingAlert('shop'));
    const targets = JSON.stringify([inc['proposal'], inc['affected_resources'] ?? null, escalations]);
    expect(targets).not.toContain('kube-state-metrics');
    // The alert carries no pull error: a person reads it (pull_cause_unknown), about shop/checkout.
    expect(escalations).toEqual([
      expect.objectContaining({
        kind: 'pull_cause_unknown',
        detail: expect.stringContaining('deployment://shop/checkout'),
      }),
    ]);
  });
});

describe('3. FailedToRetrieveImagePullSecret', () => {
  // kubelet: the pod's imagePullSecrets name a Secret it cannot read. A missing Secret (config),
  // not a bad image: re-rendered from its source of truth like any missing Secret, never an
  // image rollback.
  it('(regcred) opens a config_validation_failed incident for secret shop/regcred, not an image rollback', async () => {
    const gw = await gateway();
    const { inc } = await runOne(
      gw,
      'kubernetes',
      event(
        { kind: 'Pod', name: 'web-7d9f8b6c5-x2x4k' },
        'FailedToRetrieveImagePullSecret',
        'Unable to retrieve some image pull secrets (regcred); attempting to pull the image may not succeed.',
      ),
    );
    expect(inc['type']).toBe('config_validation_failed');
    expect(inc['proposal']).toMatchObject({
      action: 'secret_template_render',
      target: 'secret://shop/regcred',
    });
    expect(inc['proposal']).not.toMatchObject({ action: 'image_rollback' });
  });

  it('two Secrets named: a person picks (no_target), nothing is rolled back', async () => {
    const gw = await gateway();
    const { inc } = await runOne(
      gw,
      'kubernetes',
      event(
        { kind: 'Pod', name: 'web-7d9f8b6c5-x2x4k' },
        'FailedToRetrieveImagePullSecret',
        'Unable to retrieve some image pull secrets (regcred, ghcr-secret); attempting to pull the image may not succeed.',
      ),
    );
    expect(inc['type']).toBe('config_validation_failed');
    expect(inc['state']).toBe('awaiting_human');
    expect(inc['proposal']).toBeNull();
    expect(humanEscalations(inc)).toEqual(['no_target']);
  });
});

const IMAGE = 'registry.example/shop/web:1.5.0';
const TRANSIENT: [string, string][] = [
  [
    '429 Too Many Requests',
    `Failed to pull image "${IMAGE}": rpc error: code = Unknown desc = failed to pull and unpack image "${IMAGE}": failed to copy: httpReadSeeker: failed open: unexpected status code https://registry.example/v2/shop/web/manifests/sha256:${'9e'.repeat(32)}: 429 Too Many Requests - Server message: toomanyrequests: You have reached your pull rate limit.`,
  ],
  [
    'i/o timeout',
    `Failed to pull image "${IMAGE}": rpc error: code = Unknown desc = failed to pull and unpack image "${IMAGE}": failed to resolve reference "${IMAGE}": failed to do request: Head "https://registry.example/v2/shop/web/manifests/1.5.0": dial tcp 10.20.0.15:443: i/o timeout`,
  ],
  [
    'TLS handshake timeout',
    `Failed to pull image "${IMAGE}": rpc error: code = Unknown desc = failed to pull and unpack image "${IMAGE}": failed to resolve reference "${IMAGE}": failed to do request: Head "https://registry.example/v2/shop/web/manifests/1.5.0": net/http: TLS handshake timeout`,
  ],
  [
    'context deadline exceeded',
    `Failed to pull image "${IMAGE}": rpc error: code = DeadlineExceeded desc = failed to pull and unpack image "${IMAGE}": failed to resolve reference "${IMAGE}": failed to do request: Head "https://registry.example/v2/shop/web/manifests/1.5.0": context deadline exceeded`,
  ],
];

/** kubelet's pull failure `message` on WEB_POD goes to a person as `escalation`, nothing rolled back. */
async function expectPullNotRolledBack(message: string, escalation: string): Promise<void> {
  const gw = await gateway();
  const { inc, escalations } = await runOne(gw, 'kubernetes', event(WEB_POD, 'Failed', message));
  expect(inc['type']).toBe('image_signature_failed');
  expect(inc['state']).toBe('awaiting_human');
  expect(inc['proposal']).toBeNull();
  expect(inc['execution'] ?? null).toBeNull();
  expect(humanEscalations(inc)).toEqual([escalation]);
  expect(escalations[0]?.detail).toContain('nothing is rolled back');
}

describe('4. a transient pull failure is no bad image', () => {
  it.each(TRANSIENT)(
    'kubelet "Failed to pull image ... %s" is not rolled back: a person (transient_pull)',
    (_, message) => expectPullNotRolledBack(message, 'transient_pull'),
  );

  it("the same pod's ErrImagePull and BackOff Events join the transient incident instead of rolling back", async () => {
    const gw = await gateway();
    const first = await runOne(gw, 'kubernetes', event(WEB_POD, 'Failed', TRANSIENT[0]![1]));
    for (const [reason, message] of [
      ['Failed', 'Error: ErrImagePull'],
      ['BackOff', `Back-off pulling image "${IMAGE}"`],
      ['Failed', 'Error: ImagePullBackOff'],
    ] as const) {
      const out = await post(gw, 'kubernetes', event(WEB_POD, reason, message));
      expect(out['incidents']).toEqual([
        expect.objectContaining({ incident_id: first.id, joined: true, duplicate: true }),
      ]);
    }
    await gw.runner.idle();
    expect((await incident(gw, first.id))['execution'] ?? null).toBeNull();
  });

  it('control: the README demo (a NotFound pull failure) is still rolled back automatically', async () => {
    const gw = await gateway();
    const { inc } = await runOne(gw, 'kubernetes', fixture('kubernetes/core-v1-image-pull-failed.json'));
    expect(inc['state']).toBe('resolved');
    expect(inc['proposal']).toMatchObject({
      action: 'image_rollback',
      target: 'deployment://payments/ledger',
    });
  });
});

describe('4b. a node whose disk is full is no bad image (pull-failure review)', () => {
  it('kubelet "Failed to pull image ... no space left on device" is not rolled back: a person (node_disk_full)', () =>
    expectPullNotRolledBack(
      `Failed to pull image "${IMAGE}": rpc error: code = Unknown desc = failed to pull and unpack image "${IMAGE}": failed to extract layer sha256:${'6f'.repeat(32)}: write /var/lib/containerd/io.containerd.snapshotter.v1.overlayfs/snapshots/1187/fs/usr/lib/libssl.so.3: no space left on device: unknown`,
      'node_disk_full',
    ));
});

const CREDENTIALS: [string, string][] = [
  [
    "ECR's no basic auth credentials (an expired token)",
    `Failed to pull image "${IMAGE}": rpc error: code = Unknown desc = Error response from daemon: Get "https://registry.example/v2/shop/web/manifests/1.5.0": no basic auth credentials`,
  ],
  [
    "containerd's 401 Unauthorized",
    `Failed to pull image "${IMAGE}": rpc error: code = Unknown desc = failed to pull and unpack image "${IMAGE}": failed to resolve reference "${IMAGE}": failed to authorize: failed to fetch oauth token: unexpected status from GET request to https://registry.example/token: 401 Unauthorized`,
  ],
  [
    "a registry's authentication required",
    `Failed to pull image "${IMAGE}": rpc error: code = Unknown desc = failed to pull and unpack image "${IMAGE}": failed to resolve reference "${IMAGE}": unexpected status from HEAD request to https://registry.example/v2/shop/web/manifests/1.5.0: unauthorized: authentication required`,
  ],
];

describe('4b. a pull the registry refused the credentials of is no bad image', () => {
  it.each(CREDENTIALS)(
    '%s: not rolled back, a person renews the credential (registry_credentials)',
    (_, message) => expectPullNotRolledBack(message, 'registry_credentials'),
  );

  // containerd's pull access denied is also what a misspelt repository gets: rolled back when the
  // history shows the new reference to be the fault (pull-failure-evidence.test.ts has the rest).
  it("control: a repository the workload never ran (containerd's pull access denied) is still rolled back", async () => {
    const typo = 'registry.example/shop/wbe:1.5.0';
    const gw = await gateway({
      history: [
        {
          workload: 'deployment://shop/web',
          container: 'web',
          image: `registry.example/shop/web:1.4.0@sha256:${'ab'.repeat(32)}`,
          revision: 4,
          deployed_at: '2026-11-20T00:00:00Z',
          outcome: 'healthy',
        },
      ],
    });
    const { inc } = await runOne(
      gw,
      'kubernetes',
      event(
        WEB_POD,
        'Failed',
        `Failed to pull image "${typo}": rpc error: code = Unknown desc = failed to pull and unpack image "${typo}": failed to resolve reference "${typo}": pull access denied, repository does not exist or may require authorization: server message: insufficient_scope: authorization failed`,
      ),
    );
    expect(inc['state']).toBe('resolved');
    expect(inc['proposal']).toMatchObject({
      action: 'image_rollback',
      target: 'deployment://shop/web',
      parameters: { basis: 'previous_revision', from_image: typo },
    });
    expect(humanEscalations(inc) ?? []).not.toContain('registry_credentials');
  });
});

describe('5. a node authorizer denial is not an RBAC grant', () => {
  const NODE_DENIAL =
    'MountVolume.SetUp failed for volume "db-creds" : secrets "db-creds" is forbidden: User "system:node:node-pool-a-3" cannot get resource "secrets" in API group "" in the namespace "shop": no relationship found between node \'node-pool-a-3\' and this object';

  it('kubelet refused a Secret by the node authorizer: nothing proposed, a person told why (node_authorizer)', async () => {
    const gw = await gateway();
    const { inc, escalations } = await runOne(
      gw,
      'kubernetes',
      event({ kind: 'Pod', name: 'web-7d9f8b6c5-x2x4k' }, 'FailedMount', NODE_DENIAL),
    );
    expect(inc['state']).toBe('awaiting_human');
    expect(inc['proposal']).toBeNull();
    expect(humanEscalations(inc)).toEqual(['node_authorizer']);
    expect(escalations[0]?.detail).toContain('the node authorizer, not RBAC');
    expect(escalations[0]?.detail).toContain('A RoleBinding would not be the fix');
  });

  it("control: a service account's RBAC denial is still a RoleBinding for a person to approve", async () => {
    const gw = await gateway();
    const { inc } = await runOne(
      gw,
      'kubernetes',
      event(
        { kind: 'ReplicaSet', name: 'web-7d9f8b6c5' },
        'FailedCreate',
        'Error creating: pods "web-7d9f8b6c5-" is forbidden: User "system:serviceaccount:shop:deployer" cannot create resource "pods" in API group "" in the namespace "shop"',
      ),
    );
    expect(inc['state']).toBe('awaiting_human');
    expect(inc['proposal']).toMatchObject({
      action: 'rbac_changes',
      target: 'rolebinding://shop/aaps-deployer-create-pods',
    });
  });
});

describe('6. a Ratify denial of a ReplicaSet (kept: it was right)', () => {
  // The ReplicaSet controller could not create the new revision's pods: the Deployment's update is
  // live and its image unsigned, so undoing that revision of the owning Deployment is the fix.
  const DIGEST = `sha256:${'c4'.repeat(32)}`;
  const RATIFY = `Error creating: admission webhook "validation.gatekeeper.sh" denied the request: [ratify-constraint] Subject failed verification: registry.example/shop/web@${DIGEST}`;
  const GOOD = `registry.example/shop/web:1.4.0@sha256:${'ab'.repeat(32)}`;

  it('rolls back the owning Deployment (read from the pod-template hash), not the ReplicaSet', async () => {
    const gw = await gateway();
    const { inc } = await runOne(
      gw,
      'kubernetes',
      event({ kind: 'ReplicaSet', name: 'web-7d9f8b6c5' }, 'FailedCreate', RATIFY),
    );
    expect(inc['type']).toBe('image_signature_failed');
    expect(inc['proposal']).toMatchObject({
      action: 'image_rollback',
      target: 'deployment://shop/web',
      parameters: { from_image: `registry.example/shop/web@${DIGEST}` },
    });
  });

  it("with the Deployment's history: its container goes back to the last known-good digest", async () => {
    const gw = await gateway({
      history: [
        {
          workload: 'deployment://shop/web',
          container: 'web',
          image: GOOD,
          revision: 4,
          deployed_at: '2026-11-20T00:00:00Z',
          outcome: 'healthy',
        },
      ],
    });
    const { inc } = await runOne(
      gw,
      'kubernetes',
      event({ kind: 'ReplicaSet', name: 'web-7d9f8b6c5' }, 'FailedCreate', RATIFY),
    );
    expect(inc['state']).toBe('resolved');
    expect(inc['proposal']).toMatchObject({
      target: 'deployment://shop/web',
      parameters: { basis: 'deployment_history', container: 'web', to_image: GOOD },
    });
  });

  it('a ReplicaSet whose suffix is no pod-template hash (a CronJob minute) names no Deployment: a person', () => {
    const intake = intakeKubernetes(
      event({ kind: 'ReplicaSet', name: 'report-28912345' }, 'FailedCreate', RATIFY),
      testContext(),
    );
    const open = intake.items[0] as OpenIncident;
    const resources = open.envelope.payload.affected_resources;
    expect(resources).toContain('replicaset://shop/report-28912345');
    expect(resources.filter((r) => r.startsWith('deployment://'))).toEqual([]);
    const triaged = runMonitoringStep({
      incident_id: 'inc-1',
      context: open.envelope.context,
      signal: open.envelope.payload,
    });
    const solved = runProblemSolverStep({
      incident_id: 'inc-1',
      signal: triaged,
      policy: defaultPolicy('problem-solver'),
    });
    expect(solved.fix.proposals).toEqual([]);
    expect(solved.fix.escalations.map((e) => e.kind)).toEqual(['no_target']);
  });
});
