/**
 * What the agents may change on their own, end to end through the real gateway app
 * (`app.request()`), the in-process parties and the dry-run executor: nothing the intake could not
 * classify, no workload only guessed from a pod's name, nothing in a namespace the source never
 * named; and what they learn from their own fixes (a verified rollback is a known-good digest).
 */
import { afterEach, describe, expect, it } from 'vitest';
import {
  alertmanagerBody,
  fixtureText,
  GOOD_IMAGE,
  githubDelivery,
  incident,
  json,
  makeGateway,
  request,
  SIGNALS,
  signalEnvelope,
  type TestGateway,
  TOKENS,
} from '../test-helpers/gateway.js';

const open: TestGateway[] = [];
async function gateway(): Promise<TestGateway> {
  const gw = await makeGateway();
  open.push(gw);
  return gw;
}
afterEach(async () => {
  for (const gw of open.splice(0)) await gw.cleanup();
});

async function webhook(gw: TestGateway, source: string, body: unknown) {
  const res = await request(gw, 'POST', `/v1/webhooks/${source}`, { token: TOKENS.submit, body });
  expect(res.status).toBe(202);
  return json(res);
}

const alert = (labels: Record<string, string>, annotations: Record<string, string>) =>
  alertmanagerBody(labels, annotations, 'a1b2c3d4e5f60718');

async function runOne(gw: TestGateway, source: string, body: unknown) {
  const out = await webhook(gw, source, body);
  const incidents = out['incidents'] as { incident_id: string }[];
  expect(incidents).toHaveLength(1);
  await gw.runner.idle();
  return incident(gw, incidents[0]!.incident_id);
}

describe('a signal the intake could not classify', () => {
  it('goes to a person: an application alert about webhook (HMAC) signatures is not an image failure to roll back', async () => {
    const gw = await gateway();
    // Intake: no alertname rule, no admission-denial wording -> incident_type `unknown`.
    const inc = await runOne(
      gw,
      'alertmanager',
      alert(
        {
          alertname: 'PaymentsWebhookErrors',
          namespace: 'shop',
          deployment: 'payments',
          severity: 'critical',
        },
        {
          summary: 'Payment provider webhooks are being rejected',
          description: 'Stripe webhook signature mismatch: 42 events rejected in the last 5m',
        },
      ),
    );
    // Nothing here is about an image: it must go to a person, not be rolled back automatically.
    expect(inc['type']).toBe('unknown');
    expect(inc['state']).not.toBe('resolved');
    expect(inc['proposal']).not.toMatchObject({ action: 'image_rollback' });
  });
});

describe('a workload read from a pod name', () => {
  // A CronJob `report` (Job `report-<scheduled minute>`, pod `report-<minute>-q7k2p`) next to a
  // Deployment `report`. The second minute is written in pod-template-hash characters only.
  it.each(['report-28912345-q7k2p', 'report-28924567-q7k2p'])(
    'ImagePullBackOff of CronJob pod %s does not roll back the same-named Deployment',
    async (pod) => {
      const gw = await gateway();
      const inc = await runOne(
        gw,
        'alertmanager',
        alert(
          {
            alertname: 'KubeContainerWaiting',
            namespace: 'shop',
            pod,
            container: 'report',
            reason: 'ImagePullBackOff',
            severity: 'warning',
          },
          {
            description: `pod/${pod} in namespace shop on container report has been in waiting state for longer than 1 hour.`,
          },
        ),
      );
      expect(inc['state']).toBe('awaiting_human');
      expect(inc['proposal']).not.toMatchObject({
        action: 'image_rollback',
        target: 'deployment://shop/report',
      });
    },
  );

  it("a native signal naming only a Deployment's pod goes to a person: the solver does not guess the owner", async () => {
    const gw = await gateway();
    const res = await request(gw, 'POST', '/v1/incidents', {
      token: TOKENS.submit,
      body: signalEnvelope({
        affected_resources: ['pod://shop/web-7d9f8b6c5-4lqpz'],
        metadata: {
          reason: 'Failed',
          messages: ['Failed to pull image "registry.example/shop/web:v2": manifest unknown'],
        },
      }),
    });
    expect(res.status).toBe(202);
    const id = String((await json(res))['incident_id']);
    await gw.runner.idle();
    const inc = await incident(gw, id);
    expect(inc).toMatchObject({ type: 'image_signature_failed', state: 'awaiting_human' });
    expect(inc['proposal']).toBeNull();
  });
});

describe('image signature admission denials', () => {
  it("Connaisseur's FailedCreate (its own wording) opens an image_signature_failed incident", async () => {
    const gw = await gateway();
    const event = {
      apiVersion: 'v1',
      kind: 'Event',
      metadata: {
        name: 'web-7d9f8b6c5.17f3a2b4c5d6e7f8',
        namespace: 'shop',
        uid: '0b7e2f4a-3c1d-4e5f-8a9b-1c2d3e4f5a6b',
        creationTimestamp: '2026-11-27T08:00:00Z',
      },
      involvedObject: { apiVersion: 'apps/v1', kind: 'ReplicaSet', namespace: 'shop', name: 'web-7d9f8b6c5' },
      reason: 'FailedCreate',
      message:
        'Error creating: admission webhook "connaisseur-svc.connaisseur.svc" denied the request: Unable to find signed digest for image docker.io/securesystemsengineering/testimage:unsigned.',
      type: 'Warning',
      count: 3,
      firstTimestamp: '2026-11-27T08:00:00Z',
      lastTimestamp: '2026-11-27T08:02:00Z',
      source: { component: 'replicaset-controller' },
    };
    const out = await webhook(gw, 'kubernetes', event);
    expect(out['ignored']).toEqual([]);
    expect(out['incidents']).toHaveLength(1);
    await gw.runner.idle();
    const inc = await incident(gw, (out['incidents'] as { incident_id: string }[])[0]!.incident_id);
    expect(inc['type']).toBe('image_signature_failed');
  });
});

describe('a signal whose source names no namespace', () => {
  it('a failed GitHub deploy check reporting exceeded quota goes to a person, not to a quota in `default`', async () => {
    const gw = await gateway();
    const body = JSON.parse(fixtureText('github/check-run-failure.json'));
    body.check_run.name = 'deploy-shop';
    body.check_run.output.title = 'kubectl apply failed';
    body.check_run.output.summary =
      'Error from server (Forbidden): error when creating "k8s/migrate-job.yaml": pods "migrate-x7k2p" is forbidden: exceeded quota: compute, requested: limits.cpu=2, used: limits.cpu=3, limited: limits.cpu=4';
    const raw = JSON.stringify(body);
    const res = await githubDelivery(gw, raw, 'check_run', '5f0e1a2b-cc78-11e3-81ab-4c9367dc0958');
    expect(res.status).toBe(202);
    const [item] = (await json(res))['incidents'] as { incident_id: string }[];
    await gw.runner.idle();
    const inc = await incident(gw, item!.incident_id);
    // The job ran in whatever namespace the manifest names; `default` is a guess.
    expect(inc['type']).toBe('resource_quota_exceeded');
    expect(inc['proposal']).not.toMatchObject({ target: 'resourcequota://default/compute' });
    expect(inc['state']).toBe('awaiting_human');
  });
});

describe('the deployment history the gateway records', () => {
  const submit = async (gw: TestGateway, body: unknown) => {
    const res = await request(gw, 'POST', '/v1/incidents', { token: TOKENS.submit, body });
    expect(res.status).toBe(202);
    return String((await json(res))['incident_id']);
  };
  const laterFailure = () =>
    signalEnvelope({
      affected_resources: ['deployment://shop/web'],
      metadata: {
        reason: 'FailedCreate',
        messages: [
          `admission webhook "policy.sigstore.dev" denied the request: validation failed: failed policy: image-policy: spec.containers[0].image registry.example/shop/web@sha256:${'7c'.repeat(32)} signature key validation failed: no matching signatures`,
        ],
      },
    });

  it('a second image failure rolls back to the digest the first incident rolled back to and verified', async () => {
    const gw = await gateway();
    // First incident: the signal carries history; GOOD_IMAGE is rolled back to, executed, verified.
    const first = await submit(gw, SIGNALS.imageSignature());
    await gw.runner.idle();
    expect(await incident(gw, first)).toMatchObject({
      state: 'resolved',
      proposal: { parameters: { to_image: GOOD_IMAGE } },
    });
    // The rollout is recorded with its incident, and healthy once its verification passed.
    expect(await gw.store.deploymentHistory('deployment://shop/web')).toEqual([
      expect.objectContaining({ image: GOOD_IMAGE, incident_id: first, outcome: 'healthy' }),
    ]);
    // Second incident, a later bad digest, no history in the signal: only the gateway's own record.
    const second = await submit(gw, laterFailure());
    await gw.runner.idle();
    const history = await gw.store.deploymentHistory('deployment://shop/web');
    expect(history.at(-1)).toMatchObject({ image: GOOD_IMAGE });
    const inc = await incident(gw, second);
    expect(inc['proposal']).toMatchObject({
      action: 'image_rollback',
      parameters: { basis: 'deployment_history', to_image: GOOD_IMAGE },
    });
  });

  it('the known-good record survives a restart of the gateway', async () => {
    const a = await makeGateway();
    const first = await submit(a, SIGNALS.imageSignature());
    await a.runner.idle();
    expect(await incident(a, first)).toMatchObject({ state: 'resolved' });
    const material = a.coordinator.exportMaterial();
    await a.close();
    const b = await makeGateway({
      dir: a.dir,
      material,
      gatewayKey: a.gatewayKey,
      approverKey: a.approverKey,
    });
    open.push(b);
    const second = await submit(b, laterFailure());
    await b.runner.idle();
    expect(await incident(b, second)).toMatchObject({
      proposal: {
        action: 'image_rollback',
        parameters: { basis: 'deployment_history', to_image: GOOD_IMAGE },
      },
    });
  });

  it('records the signature check quality assurance made, and none when it had nothing to check', async () => {
    const gw = await gateway();
    const plain = await submit(gw, SIGNALS.imageSignature());
    await gw.runner.idle();
    const [unchecked] = await gw.store.deploymentHistory('deployment://shop/web');
    expect(unchecked).toMatchObject({ incident_id: plain, outcome: 'healthy' });
    expect(unchecked).not.toHaveProperty('signature_verified');

    const signed = SIGNALS.imageSignature();
    signed.payload['metadata'] = {
      ...(signed.payload['metadata'] as Record<string, unknown>),
      verification_artifacts: { signature: { subject: GOOD_IMAGE, verified: true, verifier: 'cosign' } },
    };
    const checked = await submit(gw, signed);
    await gw.runner.idle();
    const history = await gw.store.deploymentHistory('deployment://shop/web');
    expect(history.find((h) => h.incident_id === checked)).toMatchObject({
      outcome: 'healthy',
      signature_verified: true,
    });
  });
});
