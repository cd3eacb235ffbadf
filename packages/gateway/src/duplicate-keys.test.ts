/**
 * A request body with a key given twice in one object is refused at every route that reads one:
 * `JSON.parse` keeps the last and other parsers the first, so such a body (signed or not) could
 * mean one thing here and another to whoever else reads it. Each case below puts a decoy value
 * first and the real one last, so what `JSON.parse` keeps is a body the route would take; the
 * gateway answers 400 `DECODE_FAILED` naming the key's path, and writes nothing.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectDuplicateRefused, injectKey } from '../../agents/src/party/test-helpers/duplicate-key.js';
import {
  alertmanagerBody,
  fixture,
  fixtureText,
  githubDelivery,
  makeGateway,
  rejectionEnvelope,
  request,
  SIGNALS,
  type TestGateway,
  TOKENS,
} from './test-helpers/gateway.js';
import { signedUnsealRequest } from './test-helpers/unseal-request.js';

let gw: TestGateway;
beforeAll(async () => {
  gw = await makeGateway();
  await gw.runner.close(); // intake only: what a refused body would have opened stays visible
});
afterAll(async () => gw.cleanup());

const incidents = async () => (await gw.store.listIncidents({ limit: 100 })).incidents.length;

describe('a body with a duplicate key', () => {
  it('POST /v1/incidents: refused, no incident', async () => {
    const text = injectKey(JSON.stringify(SIGNALS.quota()), '"metadata":{', '"namespace":"kube-system",');
    const res = await request(gw, 'POST', '/v1/incidents', { token: TOKENS.submit, raw: text });
    await expectDuplicateRefused(res, 'payload.metadata.namespace');
    expect(await incidents()).toBe(0);
  });

  it.each([
    {
      route: 'alertmanager',
      text: () =>
        injectKey(
          JSON.stringify(
            alertmanagerBody(
              { alertname: 'KubePodCrashLooping', namespace: 'shop', pod: 'web-1' },
              { summary: 'crash looping' },
            ),
          ),
          '"alerts":[{"status":"firing","labels":{',
          '"namespace":"decoy",',
        ),
      path: 'alerts[0].labels.namespace',
    },
    {
      route: 'argocd',
      text: () =>
        injectKey(
          JSON.stringify(fixture('argocd/template-sync-failed-configmap.json')),
          '"operationState":{',
          '"phase":"Succeeded",',
        ),
      path: 'operationState.phase',
    },
    {
      // An event list pretty-printed as kubectl prints it: the decoy on its own line.
      route: 'kubernetes',
      text: () =>
        injectKey(
          fixtureText('kubernetes/kubectl-get-events.json'),
          '"involvedObject": {',
          '\n        "name": "decoy",',
          2,
        ),
      path: 'items[1].involvedObject.name',
    },
  ])('POST /v1/webhooks/$route: refused, no incident', async ({ route, text, path }) => {
    const res = await request(gw, 'POST', `/v1/webhooks/${route}`, { token: TOKENS.submit, raw: text() });
    await expectDuplicateRefused(res, path);
    expect(await incidents()).toBe(0);
  });

  it('POST /v1/webhooks/github (signed by GitHub): refused, no incident', async () => {
    const text = injectKey(
      fixtureText('github/workflow-run-failure.json'),
      '"workflow_run": {',
      '"conclusion": "success",',
    );
    const res = await githubDelivery(gw, text, 'workflow_run', 'delivery-duplicate-key');
    await expectDuplicateRefused(res, 'workflow_run.conclusion');
    expect(await incidents()).toBe(0);
  });

  it('POST /v1/approvals/:id: refused before the incident is looked up', async () => {
    const env = rejectionEnvelope('inc-none', gw.approverKey, 'not now');
    const text = injectKey(JSON.stringify(env), '"meta":{', '"message_type":"IncidentSignal",');
    const res = await request(gw, 'POST', '/v1/approvals/inc-none', { token: TOKENS.approve, raw: text });
    await expectDuplicateRefused(res, 'meta.message_type');
  });

  it('POST /v1/evidence/:id/unseal: refused before the evidence is looked up', async () => {
    const evidenceId = 'ab'.repeat(32);
    const unseal = signedUnsealRequest(gw.approverKey, {
      incident_id: 'inc-none',
      evidence_id: evidenceId,
      fields: ['sf-1'],
    });
    const text = injectKey(JSON.stringify({ request: unseal }), '"request":{', '"requester":"mallory",');
    const res = await request(gw, 'POST', `/v1/evidence/${evidenceId}/unseal`, {
      token: TOKENS.approve,
      raw: text,
    });
    await expectDuplicateRefused(res, 'request.requester');
  });

  it('POST /v1/keys/refresh and /v1/keys/repair: refused before the coordinator is asked', async () => {
    const refresh = await request(gw, 'POST', '/v1/keys/refresh', {
      token: TOKENS.admin,
      raw: '{"reason":"","reason":"scheduled rotation"}',
    });
    await expectDuplicateRefused(refresh, 'reason');
    const repair = await request(gw, 'POST', '/v1/keys/repair', {
      token: TOKENS.admin,
      raw: '{"reason":"disk replaced","parties":["p1"],"parties":["p2"]}',
    });
    await expectDuplicateRefused(repair, 'parties');
  });

  it('a key that is not an identifier is named bracket-quoted, as schema errors name it', async () => {
    const body = alertmanagerBody(
      { alertname: 'KubePodCrashLooping', namespace: 'shop', 'app.kubernetes.io/name': 'web' },
      { summary: 'crash looping' },
    );
    const text = injectKey(JSON.stringify(body), '"commonLabels":{', '"app.kubernetes.io/name":"decoy",');
    const res = await request(gw, 'POST', '/v1/webhooks/alertmanager', { token: TOKENS.submit, raw: text });
    await expectDuplicateRefused(res, 'commonLabels["app.kubernetes.io/name"]');
    expect(await incidents()).toBe(0);
  });

  it('a key holding control or bidirectional characters is named escaped, never raw', async () => {
    const body = alertmanagerBody(
      { alertname: 'KubePodCrashLooping', namespace: 'shop', pod: 'web-3' },
      { summary: 'crash looping' },
    );
    const key = '\\u001b[31m\\u202ex';
    const text = injectKey(JSON.stringify(body), '"commonLabels":{', `"${key}":"a","${key}":"b",`);
    const res = await request(gw, 'POST', '/v1/webhooks/alertmanager', { token: TOKENS.submit, raw: text });
    await expectDuplicateRefused(res, 'commonLabels["\\u001b[31m\\u202ex"]');
    expect(await incidents()).toBe(0);
  });

  it('the same key in two objects is no duplicate: accepted', async () => {
    const body = alertmanagerBody(
      { alertname: 'KubePodCrashLooping', namespace: 'shop', pod: 'web-2' },
      { summary: 'crash looping' },
    );
    const res = await request(gw, 'POST', '/v1/webhooks/alertmanager', { token: TOKENS.submit, body });
    expect(res.status).toBe(202);
  });
});
