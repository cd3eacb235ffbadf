import {
  generateIdentityKey,
  SealedFieldCodec,
  sealedMarkers,
  signEnvelope,
  signUnsealRequest,
} from '@aaps/mpc-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  json,
  makeGateway,
  request,
  SIGNALS,
  type TestGateway,
  TOKENS,
  verifyServedBundle,
} from './test-helpers/gateway.js';

const CANARIES = {
  secretData: 'canary-secret-data-7f3a9c41',
  env: 'canary-env-value-52b1e8d0',
  github: 'ghp_CanaryTok3n0123456789abcdefghijklmn',
  pem: '-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANcanaryPemBody0123456789abcdefABCDEF\n-----END PRIVATE KEY-----\n',
};
const PEM_BODY = 'MIIEvQIBADANcanaryPemBody0123456789abcdefABCDEF';

/** Every form a leak could take: raw, hex and base64 of each canary (and the PEM body alone). */
function forms(): string[] {
  const raw = [...Object.values(CANARIES), PEM_BODY];
  return raw.flatMap((c) => [
    c,
    Buffer.from(c).toString('hex'),
    Buffer.from(c).toString('base64'),
    Buffer.from(c).toString('base64url'),
  ]);
}

function leaks(text: string): string[] {
  return forms().filter((f) => text.includes(f));
}

const planted = () =>
  SIGNALS.quota({
    secret: {
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: { name: 'db' },
      data: { password: CANARIES.secretData },
    },
    container: { name: 'web', env: [{ name: 'DB_URL', value: CANARIES.env }] },
    log_excerpt: `git clone https://github.com/shop/web using token ${CANARIES.github}`,
    key_file: CANARIES.pem,
  });

describe('sealing at intake', () => {
  let gw: TestGateway;
  beforeAll(async () => {
    gw = await makeGateway({ config: { sealing: {} } });
  });
  afterAll(() => gw.cleanup());

  it('stores, logs, serves and signs only the redacted incident, and the bundle still verifies', async () => {
    const res = await request(gw, 'POST', '/v1/incidents', { token: TOKENS.submit, body: planted() });
    expect(res.status).toBe(202);
    const id = String((await json(res))['incident_id']);
    await gw.runner.idle();
    const record = await gw.store.getIncident(id);
    expect(record?.state).toBe('resolved');
    const fields = (record?.sealed?.fields ?? []).map((f) => SealedFieldCodec.fromJSON(f));
    expect(fields.map((f) => f.path).sort()).toEqual([
      '/payload/metadata/container/env/0/value',
      '/payload/metadata/key_file',
      '/payload/metadata/log_excerpt',
      '/payload/metadata/secret/data/password',
    ]);
    expect(Object.values(record?.sealed?.detectors ?? {}).sort()).toEqual([
      'env',
      'github-token',
      'k8s-secret',
      'pem',
    ]);
    expect(
      sealedMarkers({ payload: record?.transcript[0]?.payload })
        .map((m) => m.id)
        .sort(),
    ).toEqual(fields.map((f) => f.id).sort());
    expect(leaks(JSON.stringify(record))).toEqual([]);

    const view = await request(gw, 'GET', `/v1/incidents/${id}`, { token: TOKENS.read });
    const served = await view.text();
    expect(leaks(served)).toEqual([]);
    const evidenceId = String((JSON.parse(served) as { evidence_id: string }).evidence_id);
    const bundleText = await (
      await request(gw, 'GET', `/v1/evidence/${evidenceId}`, { token: TOKENS.read })
    ).text();
    expect(leaks(bundleText)).toEqual([]);
    const statement = JSON.parse(
      Buffer.from(JSON.parse(bundleText).dsseEnvelope.payload, 'base64').toString('utf8'),
    ) as { predicate: { incident: { sealed_fields: unknown[] } } };
    expect(statement.predicate.incident.sealed_fields).toHaveLength(4);
    await expect(verifyServedBundle(gw, JSON.parse(bundleText))).resolves.toBeDefined();
    expect(leaks(gw.logger.lines.join('\n'))).toEqual([]);
    expect(gw.logger.lines.some((l) => l.includes('"intake.sealed"'))).toBe(true);
  });

  it('re-signs a redacted envelope that arrived signed by a roster key, keeping who signed it', async () => {
    const env = planted();
    const signed = signEnvelope(
      { ...env, meta: { ...env.meta, source_agent: 'alice' } },
      gw.approverKey.secretKey,
    );
    const res = await request(gw, 'POST', '/v1/incidents', { token: TOKENS.admin, body: signed });
    expect(res.status).toBe(202);
    const id = String((await json(res))['incident_id']);
    await gw.runner.idle();
    const record = await gw.store.getIncident(id);
    expect(record?.transcript[0]?.meta.source_agent).toBe('gateway');
    expect(record?.timeline[0]?.detail).toMatchObject({ received_signed_by: 'alice', signed_by: 'gateway' });
    expect(record?.state).toBe('resolved');
    expect(leaks(JSON.stringify(record))).toEqual([]);
  });

  it('an unseal request from someone outside the roster approvers is 403 and records nothing', async () => {
    const page = await json(await request(gw, 'GET', '/v1/incidents?limit=1', { token: TOKENS.read }));
    const inc = (page['incidents'] as { incident_id: string; evidence_id: string }[])[0]!;
    const before = await gw.evidence.logSize();
    const now = Date.now();
    const record = await gw.store.getIncident(inc.incident_id);
    const fieldId = SealedFieldCodec.fromJSON(record?.sealed?.fields[0]).id;
    const base = {
      request_id: 'ur-test-1',
      incident_id: inc.incident_id,
      evidence_id: inc.evidence_id,
      fields: [fieldId],
      reason: 'rotate the leaked password',
      issued_at: new Date(now).toISOString(),
      expires_at: new Date(now + 600_000).toISOString(),
    };
    const stranger = signUnsealRequest({ ...base, requester: 'mallory' }, generateIdentityKey().secretKey);
    const r1 = await request(gw, 'POST', `/v1/evidence/${inc.evidence_id}/unseal`, {
      token: TOKENS.approve,
      body: { request: stranger },
    });
    expect(r1.status).toBe(403);
    const forged = signUnsealRequest({ ...base, requester: 'alice' }, generateIdentityKey().secretKey);
    const r2 = await request(gw, 'POST', `/v1/evidence/${inc.evidence_id}/unseal`, {
      token: TOKENS.approve,
      body: { request: forged },
    });
    expect(r2.status).toBe(401);
    const genuine = signUnsealRequest({ ...base, requester: 'alice' }, gw.approverKey.secretKey);
    const r3 = await request(gw, 'POST', `/v1/evidence/${inc.evidence_id}/unseal`, {
      token: TOKENS.submit,
      body: { request: genuine },
    });
    expect(r3.status).toBe(403);
    expect(await gw.evidence.logSize()).toBe(before);
    expect(await gw.store.getMeta('unseal-request/ur-test-1')).toBeUndefined();
  });
});

describe('sealing off', () => {
  it('leaves the payload as received', async () => {
    const gw = await makeGateway();
    try {
      const res = await request(gw, 'POST', '/v1/incidents', { token: TOKENS.submit, body: planted() });
      const id = String((await json(res))['incident_id']);
      await gw.runner.idle();
      const record = await gw.store.getIncident(id);
      expect(record?.sealed).toBeUndefined();
      expect(JSON.stringify(record)).toContain(CANARIES.env);
    } finally {
      await gw.cleanup();
    }
  });
});
