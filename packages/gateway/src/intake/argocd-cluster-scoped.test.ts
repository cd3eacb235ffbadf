/**
 * From the intake review: Argo CD writes every `syncResult.resources[]` entry with `namespace` (no
 * omitempty in its ResourceResult), so a cluster-scoped resource (a Namespace, a ClusterRole, a
 * CRD) carries `"namespace": ""`, and Argo CD applies those first, so they come first. The adapter
 * takes the first failed resource's namespace that is not `undefined`: `""`. The incident's signed
 * envelope then has `context.namespace: ""` (the gateway's own IncidentSignalEnvelope schema needs
 * 1 to 253 characters), `metadata.namespace: ""` instead of the failed ConfigMap's `shop`, and
 * resource URIs `namespace:///shop` with an empty namespace.
 * Since: `""` counts as no namespace (argocd.ts, build-envelope.ts); the URI is `namespace://shop`.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { check } from '../schema/check.js';
import { fixture, json, makeGateway, request, type TestGateway, TOKENS } from '../test-helpers/gateway.js';
import { IncidentSignalEnvelopeSchema } from './envelope.js';

let gw: TestGateway;
beforeAll(async () => {
  gw = await makeGateway();
  await gw.runner.close(); // intake only
});
afterAll(async () => gw.cleanup());

it('a failed cluster-scoped resource ("namespace": "") does not blank the incident namespace', async () => {
  const body = fixture('argocd/template-sync-failed-configmap.json') as {
    operationState: { syncResult: { resources: Record<string, unknown>[] } };
  };
  // As Argo CD writes it: the Namespace object (cluster-scoped) was applied first and failed too.
  body.operationState.syncResult.resources.unshift({
    group: '',
    version: 'v1',
    kind: 'Namespace',
    namespace: '',
    name: 'shop',
    status: 'SyncFailed',
    message: 'error converting YAML to JSON: yaml: line 7: mapping values are not allowed in this context',
    hookPhase: 'Failed',
    syncPhase: 'Sync',
  });
  const res = await request(gw, 'POST', '/v1/webhooks/argocd', { token: TOKENS.submit, body });
  expect(res.status).toBe(202);
  const [out] = (await json(res))['incidents'] as { incident_id: string }[];
  const record = await gw.store.getIncident(out!.incident_id);
  const signal = record!.transcript[0]!;

  // The signed signal must still be an IncidentSignal envelope as the gateway's own schema says.
  const issues = check(IncidentSignalEnvelopeSchema, signal);
  expect(issues.ok ? [] : issues.issues).toEqual([]); // before the fix: context.namespace shorter than 1 character
  expect(record!.context.namespace).toBe('shop'); // before the fix: ''
  expect((signal.payload as { metadata: Record<string, unknown> }).metadata['namespace']).toBe('shop');
  expect((signal.payload as { affected_resources: string[] }).affected_resources).not.toContain(
    'namespace:///shop',
  );
});
