/**
 * An Argo CD sync that failed because of the GitOps source itself (the ConfigMap's manifest does
 * not parse at the synced revision), end to end through the gateway app (`app.request()`), the
 * in-process parties and the dry-run executor. When the gateway's source of truth for that
 * ConfigMap is the very repository that failed, re-rendering from it at HEAD fixes nothing: the
 * fix is pinned to the last revision Argo CD deployed successfully, or goes to a person.
 */
import { afterEach, describe, expect, it } from 'vitest';
import {
  fixture,
  incident,
  json,
  makeGateway,
  request,
  type TestGateway,
  TOKENS,
  verifyServedBundle,
} from '../test-helpers/gateway.js';

/** The repository of `argocd/template-sync-failed-configmap.json`'s failing sync. */
const ARGO_REPO = 'https://git.example.net/platform/shop-deploy.git';
/** The revision whose ConfigMap manifest does not parse (the fixture's). */
const FAILED = '9c41e07b2d5a8f36e1c0b4d7a29f5e8c3b6d1a07';
/** An earlier revision Argo CD deployed successfully. */
const GOOD = '0d5e8b2c7f41a396e5b0c8d2f7a41e63b9c05d18';
const TARGET = 'configmap://shop/checkout-config';

const open: TestGateway[] = [];
async function gateway(gitopsRepoUrl: string): Promise<TestGateway> {
  const gw = await makeGateway({ config: { gitopsRepoUrl } });
  open.push(gw);
  return gw;
}
afterEach(async () => {
  for (const gw of open.splice(0)) await gw.cleanup();
});

/** The documented template body of a sync that failed on a YAML syntax error, with `history`. */
function yamlSyntaxFailure(history?: unknown): Record<string, unknown> {
  const body = fixture('argocd/template-sync-failed-configmap.json');
  const op = body['operationState'] as { message: string };
  expect(op.message).toContain('error converting YAML to JSON');
  return history === undefined ? body : { ...body, history };
}

function deployed(revision: string, at: string, repoURL = ARGO_REPO) {
  return { id: 7, revision, deployedAt: at, source: { repoURL, path: 'apps/checkout/overlays/prod' } };
}

async function runOne(gw: TestGateway, body: unknown) {
  const res = await request(gw, 'POST', '/v1/webhooks/argocd', { token: TOKENS.submit, body });
  expect(res.status).toBe(202);
  const incidents = (await json(res))['incidents'] as { incident_id: string }[];
  expect(incidents).toHaveLength(1);
  await gw.runner.idle();
  const id = incidents[0]!.incident_id;
  return { inc: await incident(gw, id), record: await gw.store.getIncident(id) };
}

type Entry = { state: string; detail: Record<string, unknown> };

describe('an Argo CD sync that failed on its own GitOps source', () => {
  it('with no other revision deployed successfully: a person fixes the source, nothing is re-rendered from HEAD', async () => {
    const gw = await gateway(ARGO_REPO);
    const { inc, record } = await runOne(gw, yamlSyntaxFailure());
    expect(inc['type']).toBe('config_validation_failed');
    expect(inc['state']).toBe('awaiting_human');
    expect(inc['proposal']).toBeNull();
    const human = (inc['timeline'] as Entry[]).find((e) => e.state === 'awaiting_human');
    expect(human?.detail['escalations']).toEqual(['source_failing']);
    const [escalation] = record?.fixes?.escalations ?? [];
    expect(escalation?.detail).toContain(FAILED);
    expect(escalation?.detail).toContain(TARGET);
    expect(record?.fixes?.proposals).toEqual([]);
  });

  it('re-renders from the last revision Argo CD deployed successfully, cited as evidence', async () => {
    const gw = await gateway(ARGO_REPO);
    const history = [
      deployed('5a1c9e0f3b7d2a6e8c4f1b0d9e7a3c5f2b8d6e41', '2026-11-20T09:00:00Z'),
      deployed(GOOD, '2026-11-24T10:00:00Z'),
    ];
    const { inc, record } = await runOne(gw, yamlSyntaxFailure(history));
    expect(inc['state']).toBe('resolved');
    const path = 'shop/configmap/checkout-config.json';
    expect(inc['proposal']).toMatchObject({
      action: 'configmap_reload',
      target: TARGET,
      parameters: { source: { kind: 'gitops', repo: ARGO_REPO, path, revision: GOOD } },
    });
    const proposal = record?.fixes?.proposals[0];
    expect(proposal?.evidence_refs).toContain(`git://${ARGO_REPO}/${path}@${GOOD}`);
    expect(proposal?.rationale).toContain('the last revision Argo CD deployed successfully');
    expect(JSON.stringify(record?.rca?.findings)).toContain(
      'the last revision Argo CD deployed successfully',
    );
    // The dry run records that the manifest is read at that revision.
    expect(JSON.stringify(inc['execution'])).toContain(GOOD);
    // The pinned proposal is sealed like any other: its evidence verifies.
    const bundle = await (
      await request(gw, 'GET', `/v1/evidence/${inc['evidence_id']}`, { token: TOKENS.read })
    ).json();
    expect((await verifyServedBundle(gw, bundle)).incidentId).toBe(inc['incident_id']);
  });

  it('goes to a person when the newest revision deployed successfully is the one that failed', async () => {
    const gw = await gateway(ARGO_REPO);
    const { inc } = await runOne(
      gw,
      yamlSyntaxFailure([deployed(GOOD, '2026-11-24T10:00:00Z'), deployed(FAILED, '2026-11-25T10:00:00Z')]),
    );
    expect(inc['state']).toBe('awaiting_human');
    expect(inc['proposal']).toBeNull();
  });

  it('a revision deployed from another repository is no known-good version of this one', async () => {
    const gw = await gateway(ARGO_REPO);
    const moved = deployed(GOOD, '2026-11-24T10:00:00Z', 'https://git.example.net/platform/old-deploy.git');
    const { inc } = await runOne(gw, yamlSyntaxFailure([moved]));
    expect(inc['state']).toBe('awaiting_human');
    expect(inc['proposal']).toBeNull();
  });

  it('the same repository spelled another way (SSH, no .git) is still the failing source', async () => {
    const gw = await gateway('git@git.example.net:platform/shop-deploy');
    const { inc } = await runOne(gw, yamlSyntaxFailure());
    expect(inc['state']).toBe('awaiting_human');
    expect(inc['proposal']).toBeNull();
  });

  it('a source of truth in another repository is re-rendered as before', async () => {
    const other = 'https://git.example/platform/deploy.git';
    const gw = await gateway(other);
    const { inc } = await runOne(gw, yamlSyntaxFailure());
    expect(inc['state']).toBe('resolved');
    expect(inc['proposal']).toMatchObject({
      action: 'configmap_reload',
      parameters: { source: { kind: 'gitops', repo: other } },
    });
    expect(
      (inc['proposal'] as { parameters: { source: Record<string, unknown> } }).parameters.source,
    ).not.toHaveProperty('revision');
  });
});
