/**
 * From the intake review: docs/api.md "Dedup, joining and recurrence": "Incidents of one failure that
 * arrive together (the pods of one Deployment failing at once, before any fix ran) get one
 * automatic fix", because "doing the same fix again could undo it (a kubectl rollout undo swaps the
 * two revisions back)". The guard works through recurrence keys; the Kubernetes intake gives an
 * incident `kubernetes:Deployment/<ns>/<deployment>:<type>`, the Alertmanager intake only
 * `alertmanager:<fingerprint>`, although it infers the same Deployment from the `pod` label
 * (`metadata.workload`). So:
 *  - two pods of one Deployment alerting at once (one alert each, one Alertmanager group), and
 *  - the same pod reported by a Kubernetes Event and by an alert
 * each get two automatic `image_rollback`s (`kubectl rollout undo deployment/...`, basis
 * previous_revision) of one Deployment: the second undoes the first.
 * The control (two Kubernetes Events for two pods) shows the guard where the keys are there.
 * Since: openIncident (build-envelope.ts) gives every signal that names a workload one key,
 * `kubernetes:Deployment/<ns>/<deployment>:<type>`, whichever source it came from.
 */
import { afterEach, expect, it } from 'vitest';
import {
  fixture,
  LEDGER_HISTORY,
  makeGateway,
  request,
  type TestGateway,
  TOKENS,
} from '../test-helpers/gateway.js';

const open: TestGateway[] = [];
afterEach(async () => {
  for (const gw of open.splice(0)) await gw.cleanup();
});

/** The incidents whose fix was executed, by target, after every run settled. */
async function rollbacks(gw: TestGateway): Promise<string[]> {
  await gw.runner.idle();
  const out: string[] = [];
  for (const i of (await gw.store.listIncidents({ limit: 20 })).incidents) {
    const r = await gw.store.getIncident(i.id);
    if (r!.timeline.some((t) => t.event === 'executed'))
      out.push(`${r!.source} ${r!.decision?.proposal?.action} ${r!.decision?.proposal?.target}`);
  }
  return out;
}

/**
 * Two pods' pull failures as a log-based alert (a Loki ruler over the event exporter's log) gives
 * them: the annotation quotes kubelet's error, which a kube-state-metrics alert does not carry
 * (without it the failure goes to a person, and nothing would be rolled back at all).
 */
function twoPodsAlert() {
  const body = fixture('alertmanager/image-pull-backoff.json') as { alerts: Record<string, unknown>[] };
  const event = fixture('kubernetes/core-v1-image-pull-failed.json') as { message: string };
  const first = body.alerts[0] as { annotations: Record<string, string> };
  first.annotations['description'] = event.message;
  const second = structuredClone(body.alerts[0]!) as { labels: Record<string, string>; fingerprint: string };
  second.labels['pod'] = 'ledger-5d8c7b9f6-zt7mn';
  second.fingerprint = '52bb1ad8f3c7e460';
  body.alerts.push(second);
  return body;
}

function kubeEvent(pod: string, uid: string) {
  const e = fixture('kubernetes/core-v1-image-pull-failed.json') as {
    metadata: Record<string, unknown>;
    involvedObject: Record<string, unknown>;
  };
  e.metadata['uid'] = uid;
  e.metadata['name'] = `${pod}.187b1e90d4c27a55`;
  e.involvedObject['name'] = pod;
  return e;
}

it('control: two Kubernetes Events for two pods of one Deployment get one automatic rollback', async () => {
  const gw = await makeGateway({ history: LEDGER_HISTORY });
  open.push(gw);
  const body = {
    kind: 'EventList',
    apiVersion: 'v1',
    items: [
      kubeEvent('ledger-5d8c7b9f6-qwk4r', '0b6e7d3a-91c2-4f57-b8a0-4e2d9c6f1a83'),
      kubeEvent('ledger-5d8c7b9f6-zt7mn', '0b6e7d3a-91c2-4f57-b8a0-4e2d9c6f1a84'),
    ],
  };
  expect((await request(gw, 'POST', '/v1/webhooks/kubernetes', { token: TOKENS.submit, body })).status).toBe(
    202,
  );
  expect(await rollbacks(gw)).toEqual(['kubernetes image_rollback deployment://payments/ledger']);
});

it('two pods of one Deployment alerting at once get one automatic rollback, not two', async () => {
  const gw = await makeGateway({ history: LEDGER_HISTORY });
  open.push(gw);
  const res = await request(gw, 'POST', '/v1/webhooks/alertmanager', {
    token: TOKENS.submit,
    body: twoPodsAlert(),
  });
  expect(res.status).toBe(202);
  // Before the fix: both incidents execute `kubectl rollout undo deployment/ledger -n payments`.
  expect(await rollbacks(gw)).toEqual(['alertmanager image_rollback deployment://payments/ledger']);
});

it('one pod reported by a Kubernetes Event and by an alert gets one automatic rollback, not two', async () => {
  const gw = await makeGateway({ history: LEDGER_HISTORY });
  open.push(gw);
  const a = await request(gw, 'POST', '/v1/webhooks/kubernetes', {
    token: TOKENS.submit,
    body: fixture('kubernetes/core-v1-image-pull-failed.json'),
  });
  const b = await request(gw, 'POST', '/v1/webhooks/alertmanager', {
    token: TOKENS.submit,
    body: fixture('alertmanager/image-pull-backoff.json'),
  });
  expect([a.status, b.status]).toEqual([202, 202]);
  // Before the fix: the Event's incident and the alert's incident both roll deployment ledger back.
  expect(await rollbacks(gw)).toHaveLength(1);
});
