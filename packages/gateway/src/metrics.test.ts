/**
 * `/metrics`: rejected requests by method, route, status and code (bad tokens, bad HMACs, schema
 * drift, bodies too large, unknown paths), and the incident type on `aaps_incident_seconds`.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { signGithubPayload } from './intake/github-signature.js';
import { json, makeGateway, request, SIGNALS, type TestGateway, TOKENS } from './test-helpers/gateway.js';

let gw: TestGateway;
beforeAll(async () => {
  gw = await makeGateway({ config: { maxBodyBytes: 2048 } });
});
afterAll(async () => gw.cleanup());

async function metrics(): Promise<string> {
  return (await request(gw, 'GET', '/metrics')).text();
}

/** The sample line of `aaps_rejected_requests_total` for these labels (sorted by name). */
function rejected(method: string, route: string, status: number, code: string): string {
  return `aaps_rejected_requests_total{code="${code}",method="${method}",route="${route}",status="${status}"}`;
}

async function codeOf(res: Response): Promise<string> {
  return String(((await json(res))['error'] as Record<string, unknown>)['code']);
}

describe('aaps_rejected_requests_total', () => {
  it('counts each refused request by route pattern and error code', async () => {
    const hook = '/v1/webhooks/alertmanager';
    expect((await request(gw, 'POST', hook, { body: {} })).status).toBe(401);
    expect((await request(gw, 'POST', hook, { token: 'not-a-token-at-all-0000', body: {} })).status).toBe(
      401,
    );
    const drift = await request(gw, 'POST', hook, {
      token: TOKENS.submit,
      body: { version: '4', alerts: 'x' },
    });
    expect(drift.status).toBe(400);
    const driftCode = await codeOf(drift);
    const large = await request(gw, 'POST', hook, { token: TOKENS.submit, body: { pad: 'x'.repeat(4096) } });
    expect(large.status).toBe(413);
    const raw = JSON.stringify({ action: 'completed', workflow_run: { conclusion: 'failure' } });
    const badHmac = await request(gw, 'POST', '/v1/webhooks/github', {
      raw,
      headers: {
        'x-github-event': 'workflow_run',
        'x-github-delivery': 'metrics-bad-hmac',
        'x-hub-signature-256': signGithubPayload(new TextEncoder().encode(raw), 'wrong-secret'),
      },
    });
    expect(badHmac.status).toBe(401);
    const hmacCode = await codeOf(badHmac);
    expect((await request(gw, 'GET', `/v1/incidents/inc-nope`, { token: TOKENS.read })).status).toBe(404);
    expect((await request(gw, 'GET', '/v1/keys', { token: TOKENS.submit })).status).toBe(403);
    expect((await request(gw, 'GET', '/no/such/path/8f3a')).status).toBe(404);

    const text = await metrics();
    expect(text).toContain('# TYPE aaps_rejected_requests_total counter');
    expect(text).toContain(`${rejected('POST', hook, 401, 'UNAUTHENTICATED')} 2`);
    expect(text).toContain(`${rejected('POST', hook, 400, driftCode)} 1`);
    expect(text).toContain(`${rejected('POST', hook, 413, 'PAYLOAD_TOO_LARGE')} 1`);
    expect(text).toContain(`${rejected('POST', '/v1/webhooks/github', 401, hmacCode)} 1`);
    expect(text).toContain(`${rejected('GET', '/v1/incidents/{id}', 404, 'NOT_FOUND')} 1`);
    expect(text).toContain(`${rejected('GET', '/v1/keys', 403, 'FORBIDDEN')} 1`);
    // An unknown path is one series, whatever the path: a client cannot grow the label set.
    expect(text).toContain(`${rejected('GET', 'unmatched', 404, 'NOT_FOUND')} 1`);
    expect(text).not.toContain('8f3a');
  });

  it('a wrong method on a webhook: 405 naming the allowed method, with Allow, counted under its route', async () => {
    const res = await request(gw, 'GET', '/v1/webhooks/alertmanager', { token: TOKENS.read });
    expect(res.status).toBe(405);
    expect(res.headers.get('allow')).toBe('POST');
    expect(await json(res)).toEqual({
      error: { code: 'METHOD_NOT_ALLOWED', message: 'no GET on this endpoint: it allows POST' },
    });
    expect(await metrics()).toContain(
      `${rejected('GET', '/v1/webhooks/alertmanager', 405, 'METHOD_NOT_ALLOWED')} 1`,
    );
    const keys = await request(gw, 'DELETE', '/v1/keys', { token: TOKENS.admin });
    expect(keys.headers.get('allow')).toBe('GET, HEAD');
  });
});

describe('aaps_incident_seconds', () => {
  it('has the incident type as its type label', async () => {
    const res = await request(gw, 'POST', '/v1/incidents', { token: TOKENS.submit, body: SIGNALS.quota() });
    expect(res.status).toBe(202);
    await gw.runner.idle();
    expect(await metrics()).toMatch(/^aaps_incident_seconds_count\{type="resource_quota_exceeded"\} 1$/m);
  });
});
