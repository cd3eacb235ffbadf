/** `POST /v1/webhooks/*` as integrators meet it: kubectl output, GitHub's signature, the answer. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { signGithubPayload } from '../intake/github-signature.js';
import {
  fixture,
  fixtureText,
  GITHUB_SECRET,
  json,
  makeGateway,
  request,
  type TestGateway,
  TOKENS,
} from '../test-helpers/gateway.js';

let gw: TestGateway;
beforeAll(async () => {
  gw = await makeGateway();
  await gw.runner.close(); // intake only: incidents stay where intake leaves them
});
afterAll(async () => gw.cleanup());

const count = async () => (await gw.store.listIncidents({ limit: 100 })).incidents.length;

describe('Kubernetes: kubectl get events -o json', () => {
  it('is accepted as printed: incidents for the warnings it covers, the rest ignored with a reason', async () => {
    const res = await request(gw, 'POST', '/v1/webhooks/kubernetes', {
      token: TOKENS.submit,
      body: fixture('kubernetes/kubectl-get-events.json'),
    });
    expect(res.status).toBe(202);
    const body = await json(res);
    expect(body['incidents']).toEqual([
      {
        incident_id: expect.stringMatching(/^inc-/),
        state: 'received',
        duplicate: false,
        joined: false,
        ref: 'items[1]',
      },
      {
        incident_id: expect.stringMatching(/^inc-/),
        state: 'received',
        duplicate: false,
        joined: false,
        ref: 'items[3]',
      },
    ]);
    expect(body['ignored']).toEqual([
      { ref: 'items[0]', reason: 'event_type_normal' },
      { ref: 'items[2]', reason: 'reason_not_handled' },
    ]);
    // The events.k8s.io/v1 view of the same Events: the pull failure is the same occurrence.
    const v1 = await json(
      await request(gw, 'POST', '/v1/webhooks/kubernetes', {
        token: TOKENS.submit,
        body: fixture('kubernetes/kubectl-get-events-v1.json'),
      }),
    );
    const [pull] = v1['incidents'] as { incident_id: string; duplicate: boolean }[];
    expect(pull).toMatchObject({
      incident_id: (body['incidents'] as { incident_id: string }[])[0]!.incident_id,
      duplicate: true,
      joined: false,
    });
  });

  it('a List of another kind is 400 naming it, and writes nothing', async () => {
    const before = await count();
    const res = await request(gw, 'POST', '/v1/webhooks/kubernetes', {
      token: TOKENS.submit,
      body: fixture('kubernetes/kubectl-get-configmaps.json'),
    });
    expect(res.status).toBe(400);
    expect(await json(res)).toEqual({
      error: {
        code: 'INVALID_ARGUMENT',
        message:
          'invalid Kubernetes event: items[0].kind: is ConfigMap: a List sent here must hold Events only',
        fields: ['items[0].kind'],
      },
    });
    expect(await count()).toBe(before);
  });
});

describe('GitHub: X-Hub-Signature-256', () => {
  const raw = fixtureText('github/workflow-run-failure.json');
  const post = (signature?: string) =>
    request(gw, 'POST', '/v1/webhooks/github', {
      raw,
      headers: {
        'x-github-event': 'workflow_run',
        'x-github-delivery': 'delivery-signature-test',
        ...(signature === undefined ? {} : { 'x-hub-signature-256': signature }),
      },
    });

  it.each([
    ['missing', undefined, 'UNAUTHENTICATED', /is missing/],
    ['SHA-1', 'sha1=abc', 'INVALID_SIGNATURE', /malformed.*SHA-1/],
    ['not hex', `sha256=${'zz'.repeat(32)}`, 'INVALID_SIGNATURE', /malformed/],
    [
      'another secret',
      signGithubPayload(new TextEncoder().encode(raw), `${GITHUB_SECRET}-old`),
      'INVALID_SIGNATURE',
      /does not match the body/,
    ],
  ])('%s: 401 %s, nothing written', async (_name, signature, code, message) => {
    const before = await count();
    const res = await post(signature);
    expect(res.status).toBe(401);
    const error = (await json(res))['error'] as { code: string; message: string };
    expect(error.code).toBe(code);
    expect(error.message).toMatch(message);
    expect(await count()).toBe(before);
  });

  it('the right signature is accepted', async () => {
    const res = await post(signGithubPayload(new TextEncoder().encode(raw), GITHUB_SECRET));
    expect(res.status).toBe(202);
    expect((await json(res))['incidents']).toEqual([
      expect.objectContaining({ duplicate: false, joined: false, ref: '$' }),
    ]);
  });
});
