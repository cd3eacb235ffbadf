/**
 * Review: an image pull failure is rolled back only on evidence of what failed. Each payload is
 * what the real system sends (an Alertmanager v4 webhook from kube-state-metrics' rules, kubelet's
 * Events as `kubectl get events -o json` or an event exporter gives them), posted through the real
 * gateway app, the in-process parties and the dry-run executor. docs/api.md, "Kubernetes" and
 * "Triage and fixes".
 */

import type { DeploymentRecord } from '@aaps/agents';
import { describe, expect, it } from 'vitest';
import {
  fixture,
  gatewayPerTest,
  incident,
  json,
  request,
  type TestGateway,
  TOKENS,
} from './test-helpers/gateway.js';

const gateway = gatewayPerTest();

const POD = 'web-7d9f8b6c5-x2x4k';
let uids = 0;
/** A core/v1 Event kubelet wrote about container web of pod shop/web-7d9f8b6c5-x2x4k. */
function kubeletEvent(reason: string, message: string, type: 'Warning' | 'Normal' = 'Warning', count = 3) {
  uids += 1;
  return {
    apiVersion: 'v1',
    kind: 'Event',
    metadata: {
      name: `${POD}.187b2f6a0c9d${(0x5100 + uids).toString(16)}`,
      namespace: 'shop',
      uid: `7a1c2d3e-5b44-4c9e-8d61-${uids.toString(16).padStart(12, '0')}`,
      resourceVersion: String(88413000 + uids),
      creationTimestamp: '2026-11-25T14:01:58Z',
    },
    involvedObject: {
      kind: 'Pod',
      namespace: 'shop',
      name: POD,
      uid: '3c9e1f20-6d7a-4b58-9e02-8f1a2b3c4d5e',
      apiVersion: 'v1',
      resourceVersion: '88412011',
      fieldPath: 'spec.containers{web}',
    },
    reason,
    message,
    source: { component: 'kubelet', host: 'node-pool-a-3' },
    firstTimestamp: '2026-11-25T14:01:58Z',
    lastTimestamp: '2026-11-25T14:06:12Z',
    count,
    type,
    eventTime: null,
    reportingComponent: 'kubelet',
    reportingInstance: 'node-pool-a-3',
  };
}

async function post(gw: TestGateway, source: string, body: unknown) {
  const res = await request(gw, 'POST', `/v1/webhooks/${source}`, { token: TOKENS.submit, body });
  expect(res.status).toBe(202);
  return json(res);
}

type Entry = { state: string; event: string; detail: Record<string, unknown> };
async function settled(gw: TestGateway, id: string) {
  await gw.runner.idle();
  const inc = await incident(gw, id);
  const record = await gw.store.getIncident(id);
  const timeline = inc['timeline'] as Entry[];
  return {
    inc,
    timeline,
    escalations: record?.fixes?.escalations ?? [],
    rca: record?.rca,
    human: timeline.find((e) => e.event === 'human_required')?.detail['escalations'],
  };
}

async function runOne(gw: TestGateway, source: string, body: unknown) {
  const out = await post(gw, source, body);
  const incidents = out['incidents'] as { incident_id: string }[];
  expect(incidents).toHaveLength(1);
  return { id: incidents[0]!.incident_id, ...(await settled(gw, incidents[0]!.incident_id)) };
}

describe('1. a pull failure whose signal carries no error', () => {
  // kube-prometheus' KubePodNotReady from kube-state-metrics: the `reason` label says
  // ImagePullBackOff, the annotations say how long the pod has not been ready. Nothing says why
  // the pull fails: a missing tag, a registry outage, a refused credential and a misspelt
  // repository each call for something else.
  it('KubePodNotReady (reason ImagePullBackOff, no message) is not rolled back blind: a person, told to read the pull error', async () => {
    const gw = await gateway();
    const { inc, human, escalations, rca } = await runOne(
      gw,
      'alertmanager',
      fixture('alertmanager/image-pull-backoff-deployment.json'),
    );
    expect(inc['type']).toBe('image_signature_failed');
    expect(inc['state']).toBe('awaiting_human');
    expect(inc['proposal']).toBeNull();
    expect(inc['execution'] ?? null).toBeNull();
    expect(human).toEqual(['pull_cause_unknown']);
    expect(escalations[0]?.detail).toContain('nothing is rolled back');
    expect(rca?.subtype).toBe('pull_unexplained');
    expect(rca?.root_cause).toContain('does not say why');
  });
});

describe("2. kubelet's back-off before the pull's error", () => {
  // kubelet posts `BackOff` (Back-off pulling image) as a Normal Event and, with it, a Warning
  // `Failed` whose message is only `Error: ImagePullBackOff`; the Event with the registry's
  // answer (`Failed to pull image ...: <error>`) is a separate `Failed` Event, which an exporter
  // can deliver later (or after a restart, not at all). The back-off must not open a rollback that
  // the error then contradicts (here: the registry was rate limiting).
  const IMAGE = 'registry.example/shop/web:1.5.0';
  const RATE_LIMITED = `Failed to pull image "${IMAGE}": rpc error: code = Unknown desc = failed to pull and unpack image "${IMAGE}": failed to copy: httpReadSeeker: failed open: unexpected status code https://registry.example/v2/shop/web/manifests/sha256:${'9e'.repeat(32)}: 429 Too Many Requests - Server message: toomanyrequests: You have reached your pull rate limit.`;

  it('the back-off alone waits for a person; the error Event then joins that incident, and nothing is rolled back', async () => {
    const gw = await gateway();
    const first = await post(gw, 'kubernetes', {
      apiVersion: 'v1',
      kind: 'List',
      metadata: { resourceVersion: '' },
      items: [
        kubeletEvent('BackOff', `Back-off pulling image "${IMAGE}"`, 'Normal', 5),
        kubeletEvent('Failed', 'Error: ImagePullBackOff', 'Warning', 5),
      ],
    });
    expect(first['ignored']).toEqual([{ ref: 'items[0]', reason: 'event_type_normal' }]);
    const [opened] = first['incidents'] as { incident_id: string }[];
    const id = opened!.incident_id;
    const before = await settled(gw, id);
    expect(before.inc['state']).toBe('awaiting_human');
    expect(before.inc['proposal']).toBeNull();
    expect(before.human).toEqual(['pull_cause_unknown']);

    const later = await post(gw, 'kubernetes', kubeletEvent('Failed', RATE_LIMITED, 'Warning', 2));
    expect(later['incidents']).toEqual([expect.objectContaining({ incident_id: id, joined: true })]);
    const after = await settled(gw, id);
    expect(after.inc['state']).toBe('awaiting_human');
    expect(after.inc['execution'] ?? null).toBeNull();
    const note = after.timeline.find((e) => e.event === 'occurrence.joined');
    expect(String(note?.detail['message'])).toContain('429 Too Many Requests');
  });
});

describe('3. pull access denied', () => {
  // containerd's answer both to a repository that does not exist (a misspelt or unpublished
  // one) and to one that needs credentials the pull did not have (a missing or wrong
  // imagePullSecret, a grant withdrawn).
  const denied = (image: string) =>
    `Failed to pull image "${image}": rpc error: code = Unknown desc = failed to pull and unpack image "${image}": failed to resolve reference "${image}": pull access denied, repository does not exist or may require authorization: server message: insufficient_scope: authorization failed`;
  const line = (image: string, revision: number): DeploymentRecord => ({
    workload: 'deployment://shop/web',
    container: 'web',
    image,
    revision,
    deployed_at: '2026-11-20T00:00:00Z',
    outcome: 'healthy',
  });

  it('with no deployment history to tell a wrong reference from missing credentials: a person, nothing rolled back', async () => {
    const gw = await gateway();
    const { inc, human, escalations } = await runOne(
      gw,
      'kubernetes',
      kubeletEvent('Failed', denied('registry.example/shop/web:1.5.0')),
    );
    expect(inc['state']).toBe('awaiting_human');
    expect(inc['proposal']).toBeNull();
    expect(human).toEqual(['pull_denied']);
    expect(escalations[0]?.detail).toContain('imagePullSecrets');
  });

  it('a repository the workload ran healthy before: its access changed, so no rollback into the same denial', async () => {
    const gw = await gateway({
      history: [line(`registry.example/shop/web:1.4.0@sha256:${'ab'.repeat(32)}`, 4)],
    });
    const { inc, human, escalations } = await runOne(
      gw,
      'kubernetes',
      kubeletEvent('Failed', denied('registry.example/shop/web:1.5.0')),
    );
    expect(inc['state']).toBe('awaiting_human');
    expect(inc['proposal']).toBeNull();
    expect(human).toEqual(['pull_denied']);
    expect(escalations[0]?.detail).toContain('revision 4');
  });

  it('a previous revision that runs the denied repository too (never healthy) is no rollback target: a person, naming it', async () => {
    const gw = await gateway({
      history: [
        line(`registry.example/shop/web:1.4.0@sha256:${'ab'.repeat(32)}`, 3),
        { ...line('registry.example/shop/web-nxt:1.4.1', 4), outcome: 'unknown' },
      ],
    });
    const { inc, human, escalations } = await runOne(
      gw,
      'kubernetes',
      kubeletEvent('Failed', denied('registry.example/shop/web-nxt:1.5.0')),
    );
    expect(inc['state']).toBe('awaiting_human');
    expect(inc['proposal']).toBeNull();
    expect(human).toEqual(['pull_denied']);
    expect(escalations[0]?.detail).toContain('revision 4');
  });
});

describe("4. review: a pull that failed on the registry's TLS certificate", () => {
  // containerd's answer when the registry's certificate does not verify (unknown authority,
  // expired, issued for another name): a new reference to a registry host the workload never
  // pulled from is mended by a rollback; a host it pulled from healthy before changed its
  // certificate (or the nodes' trust store changed), and an older image from it fails alike.
  const tls = (image: string, host: string, x509: string) =>
    `Failed to pull image "${image}": rpc error: code = Unknown desc = failed to pull and unpack image "${image}": failed to resolve reference "${image}": failed to do request: Head "https://${host}/v2/shop/web/manifests/1.5.0": tls: failed to verify certificate: x509: ${x509}`;
  const line = (image: string, revision: number): DeploymentRecord => ({
    workload: 'deployment://shop/web',
    container: 'web',
    image,
    revision,
    deployed_at: '2026-11-20T00:00:00Z',
    outcome: 'healthy',
  });
  const KNOWN_GOOD = `registry.example/shop/web:1.4.0@sha256:${'ab'.repeat(32)}`;

  it.each([
    ['the same repository', 'registry.example/shop/web:1.5.0'],
    ['another repository on the same host', 'registry.example/shop/web-next:2.0.0'],
  ])(
    'a registry host the workload pulled from healthy before (%s): a person, nothing rolled back',
    async (_, image) => {
      const gw = await gateway({ history: [line(KNOWN_GOOD, 4)] });
      const { inc, human, escalations, rca } = await runOne(
        gw,
        'kubernetes',
        kubeletEvent(
          'Failed',
          tls(
            image,
            'registry.example',
            'certificate has expired or is not yet valid: current time 2026-11-25T14:01:58Z is after 2026-11-20T23:59:59Z',
          ),
        ),
      );
      expect(rca?.subtype).toBe('pull_tls');
      expect(inc['state']).toBe('awaiting_human');
      expect(inc['proposal']).toBeNull();
      expect(inc['execution'] ?? null).toBeNull();
      expect(human).toEqual(['pull_tls']);
      expect(escalations[0]?.detail).toContain('registry.example');
      expect(escalations[0]?.detail).toContain('revision 4');
      expect(escalations[0]?.detail).toContain('CA bundle');
    },
  );

  it("a reference that spells the port (`host:443/…`) is the same registry host as the history's `host/…`, not a mirror of itself: a person, nothing rolled back", async () => {
    // 443 is the registry's HTTPS port either way: the runtime asks https://registry.example/v2/….
    const image = 'registry.example:443/shop/web:1.5.0';
    const gw = await gateway({ history: [line(KNOWN_GOOD, 4)] });
    const { inc, human, escalations } = await runOne(
      gw,
      'kubernetes',
      kubeletEvent('Failed', tls(image, 'registry.example', 'certificate signed by unknown authority')),
    );
    expect(inc['state']).toBe('awaiting_human');
    expect(inc['proposal']).toBeNull();
    expect(human).toEqual(['pull_tls']);
    expect(escalations[0]?.detail).toContain('revision 4');
    expect(escalations[0]?.detail).not.toContain('mirror');
    expect(escalations[0]?.detail).toContain('the TLS certificate of registry.example did not verify');
  });

  it("a registry host the workload never pulled from, with the container's known-good digest of another host: the previous revision, citing that line", async () => {
    const image = 'registry.new.example/shop/web:1.5.0';
    const gw = await gateway({ history: [line(KNOWN_GOOD, 4)] });
    const { inc, rca } = await runOne(
      gw,
      'kubernetes',
      kubeletEvent('Failed', tls(image, 'registry.new.example', 'certificate signed by unknown authority')),
    );
    expect(rca?.subtype).toBe('pull_tls');
    expect(inc['state']).toBe('resolved');
    expect(inc['proposal']).toMatchObject({
      action: 'image_rollback',
      target: 'deployment://shop/web',
      parameters: { basis: 'previous_revision', to_revision: 'previous', from_image: image },
    });
    expect((inc['proposal'] as { evidence_refs: string[] }).evidence_refs).toContain(
      'deployment-history://deployment/shop/web@4',
    );
  });

  // containerd with a registry mirror for docker.io (`/etc/containerd/certs.d/docker.io/hosts.toml`):
  // it asks the mirror, adding `?ns=docker.io`, and the certificate that did not verify is the
  // mirror's, not Docker Hub's.
  const MIRRORED = 'nginx:1.27';
  const viaMirror = `Failed to pull image "${MIRRORED}": rpc error: code = Unknown desc = failed to pull and unpack image "docker.io/library/${MIRRORED}": failed to resolve reference "docker.io/library/${MIRRORED}": failed to do request: Head "https://mirror.internal:5000/v2/library/nginx/manifests/1.27?ns=docker.io": tls: failed to verify certificate: x509: certificate has expired or is not yet valid: current time 2026-11-25T14:01:58Z is after 2026-11-20T23:59:59Z`;

  it('a mirror whose certificate did not verify, which the workload pulled from directly before: a person, not a rollback to an image on that mirror', async () => {
    const gw = await gateway({
      history: [line(`mirror.internal:5000/library/nginx:1.26@sha256:${'cd'.repeat(32)}`, 4)],
    });
    const { inc, human, escalations, rca } = await runOne(
      gw,
      'kubernetes',
      kubeletEvent('Failed', viaMirror),
    );
    expect(rca?.subtype).toBe('pull_tls');
    expect(inc['state']).toBe('awaiting_human');
    expect(inc['proposal']).toBeNull();
    expect(human).toEqual(['pull_tls']);
    expect(escalations[0]?.detail).toContain('mirror.internal:5000');
    expect(escalations[0]?.detail).toContain('revision 4');
  });

  it("a mirror whose certificate did not verify, for a registry the workload pulled from before: the person is told the mirror's host, not the registry's", async () => {
    const gw = await gateway({
      history: [line(`docker.io/library/nginx:1.26@sha256:${'cd'.repeat(32)}`, 4)],
    });
    const { inc, human, escalations } = await runOne(gw, 'kubernetes', kubeletEvent('Failed', viaMirror));
    expect(inc['state']).toBe('awaiting_human');
    expect(human).toEqual(['pull_tls']);
    expect(escalations[0]?.detail).toContain('mirror.internal:5000');
    expect(escalations[0]?.detail).toContain('revision 4');
  });

  it('the failing revision recorded (never healthy): `rollout undo` returns to the line below it, of another host, so the previous revision is proposed', async () => {
    // The previous revision is the container's newest line below the failing image's: here the
    // known-good line, not the failing revision itself (which pulls from the failing host).
    const image = 'registry.new.example/shop/web:1.5.0';
    const gw = await gateway({
      history: [line(KNOWN_GOOD, 3), { ...line(image, 4), outcome: 'unknown' }],
    });
    const { inc, rca } = await runOne(
      gw,
      'kubernetes',
      kubeletEvent('Failed', tls(image, 'registry.new.example', 'certificate signed by unknown authority')),
    );
    expect(rca?.subtype).toBe('pull_tls');
    expect(inc['state']).toBe('resolved');
    expect(inc['proposal']).toMatchObject({
      action: 'image_rollback',
      parameters: { basis: 'previous_revision', to_revision: 'previous', from_image: image },
    });
    expect((inc['proposal'] as { evidence_refs: string[] }).evidence_refs).toContain(
      'deployment-history://deployment/shop/web@3',
    );
  });

  it('a mirror whose certificate did not verify, for a registry the workload never pulled from, with a known-good digest of another host: the previous revision', async () => {
    const gw = await gateway({ history: [line(KNOWN_GOOD, 4)] });
    const { inc, rca } = await runOne(gw, 'kubernetes', kubeletEvent('Failed', viaMirror));
    expect(rca?.subtype).toBe('pull_tls');
    expect(inc['state']).toBe('resolved');
    expect(inc['proposal']).toMatchObject({
      action: 'image_rollback',
      target: 'deployment://shop/web',
      parameters: { basis: 'previous_revision', to_revision: 'previous', from_image: MIRRORED },
    });
  });

  it("a registry that refused the node's client certificate, which the workload pulled from healthy before: a person, not a rollback to an image of the same registry", async () => {
    const image = 'registry.example/shop/web:1.5.0';
    const gw = await gateway({ history: [line(KNOWN_GOOD, 4)] });
    const { inc, human, escalations, rca } = await runOne(
      gw,
      'kubernetes',
      kubeletEvent(
        'Failed',
        `Failed to pull image "${image}": rpc error: code = Unknown desc = failed to pull and unpack image "${image}": failed to resolve reference "${image}": failed to do request: Head "https://registry.example/v2/shop/web/manifests/1.5.0": remote error: tls: bad certificate`,
      ),
    );
    expect(rca?.subtype).toBe('pull_tls');
    expect(inc['state']).toBe('awaiting_human');
    expect(inc['proposal']).toBeNull();
    expect(human).toEqual(['pull_tls']);
    expect(escalations[0]?.detail).toContain('revision 4');
    expect(escalations[0]?.detail).toContain('client certificate');
  });

  it.each([
    [
      'the same host',
      'registry.new.example/shop/web:1.5.0',
      'registry.new.example/shop/web:1.4.1',
      (image: string) => tls(image, 'registry.new.example', 'certificate signed by unknown authority'),
    ],
    ['the same mirror', MIRRORED, 'nginx:1.26', () => viaMirror],
  ])(
    'a previous revision that pulls through %s (never healthy) is no rollback target: a person, naming it',
    async (_, image, previous, message) => {
      const gw = await gateway({
        history: [line(KNOWN_GOOD, 3), { ...line(previous, 4), outcome: 'unknown' }],
      });
      const { inc, human, escalations, rca } = await runOne(
        gw,
        'kubernetes',
        kubeletEvent('Failed', message(image)),
      );
      expect(rca?.subtype).toBe('pull_tls');
      expect(inc['state']).toBe('awaiting_human');
      expect(inc['proposal']).toBeNull();
      expect(human).toEqual(['pull_tls']);
      expect(escalations[0]?.detail).toContain('revision 4');
    },
  );

  it('with no deployment history: a person told what to check, nothing rolled back', async () => {
    const gw = await gateway();
    const { inc, human, escalations } = await runOne(
      gw,
      'kubernetes',
      kubeletEvent(
        'Failed',
        tls(
          'registry.example/shop/web:1.5.0',
          'registry.example',
          'certificate is valid for registry.internal.example, not registry.example',
        ),
      ),
    );
    expect(inc['state']).toBe('awaiting_human');
    expect(inc['proposal']).toBeNull();
    expect(human).toEqual(['pull_tls']);
    expect(escalations[0]?.detail).toContain('CA bundle');
  });
});
