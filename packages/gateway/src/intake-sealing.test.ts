import { defaultPolicy } from '@aaps/agents';
import {
  type FieldRelease,
  generateIdentityKey,
  openFields,
  ReleasedShareCodec,
  SealedFieldCodec,
  sealedMarkers,
  signEnvelope,
  signUnsealRequest,
  x25519FromIdentitySecretKey,
} from '@aaps/mpc-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  json,
  localPartyIdentity,
  makeGateway,
  request,
  SIGNALS,
  type TestGateway,
  TOKENS,
  verifyServedBundle,
} from './test-helpers/gateway.js';
import { releaseAuth, signedUnsealRequest } from './test-helpers/unseal-request.js';

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
    // Signed by the monitoring party (an approver's key signs human decisions only: 403).
    const monitoring = localPartyIdentity(gw.coordinator, 'monitoring');
    const signed = signEnvelope(
      { ...env, meta: { ...env.meta, source_agent: monitoring.id } },
      monitoring.key.secretKey,
    );
    const res = await request(gw, 'POST', '/v1/incidents', { token: TOKENS.admin, body: signed });
    expect(res.status).toBe(202);
    const id = String((await json(res))['incident_id']);
    await gw.runner.idle();
    const record = await gw.store.getIncident(id);
    expect(record?.transcript[0]?.meta.source_agent).toBe('gateway');
    expect(record?.timeline[0]?.detail).toMatchObject({
      received_signed_by: 'monitoring',
      signed_by: 'gateway',
    });
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

describe('unsealing in process', () => {
  let gw: TestGateway;
  let incidentId = '';
  let evidenceId = '';
  beforeAll(async () => {
    const audit = defaultPolicy('audit');
    gw = await makeGateway({
      config: { sealing: {} },
      policies: { audit: { ...audit, unseal: { ...audit.unseal!, approvers: ['bob'] } } },
    });
    const res = await request(gw, 'POST', '/v1/incidents', { token: TOKENS.submit, body: planted() });
    incidentId = String((await json(res))['incident_id']);
    await gw.runner.idle();
    evidenceId = String((await gw.store.getIncident(incidentId))?.evidence_id);
  });
  afterAll(() => gw.cleanup());

  const ask = (over: Partial<Parameters<typeof signUnsealRequest>[0]> = {}) =>
    signedUnsealRequest(gw.approverKey, { incident_id: incidentId, evidence_id: evidenceId, ...over });

  it('the approver opens every field; a refusing party is named; both records are verifiable evidence', async () => {
    const record = await gw.store.getIncident(incidentId);
    const fields = (record?.sealed?.fields ?? []).map((f) => SealedFieldCodec.fromJSON(f));
    const req = ask({ fields: fields.map((f) => f.id) });
    const res = await request(gw, 'POST', `/v1/evidence/${evidenceId}/unseal`, {
      token: TOKENS.approve,
      body: { request: req },
    });
    expect(res.status).toBe(200);
    const text = await res.text();
    expect(leaks(text)).toEqual([]);
    const answer = JSON.parse(text) as {
      threshold: number;
      releases: { field: string; release: unknown }[];
      refusals: { party: string; rule: string; decision: string }[];
      evidence: { request: string; releases: string };
    };
    expect(answer.threshold).toBe(3);
    expect(answer.releases).toHaveLength(4 * 4);
    expect(answer.refusals).toHaveLength(4);
    expect(new Set(answer.refusals.map((r) => `${r.party} ${r.decision} ${r.rule}`))).toEqual(
      new Set(['audit refused unseal.approvers']),
    );
    const releases: FieldRelease[] = answer.releases.map((r) => ({
      field: r.field,
      ...ReleasedShareCodec.fromJSON(r.release),
    }));
    const opened = await openFields(
      fields,
      releases,
      x25519FromIdentitySecretKey(gw.approverKey.secretKey),
      releaseAuth(gw.coordinator.trustedKeys(), req),
    );
    const values = Object.fromEntries(
      opened.map((o) => [o.path, 'opened' in o ? o.opened.value : o.error.code]),
    );
    expect(values).toEqual({
      '/payload/metadata/container/env/0/value': CANARIES.env,
      '/payload/metadata/key_file': CANARIES.pem,
      '/payload/metadata/log_excerpt': `git clone https://github.com/shop/web using token ${CANARIES.github}`,
      '/payload/metadata/secret/data/password': CANARIES.secretData,
    });
    for (const id of [answer.evidence.request, answer.evidence.releases]) {
      const bundle = JSON.parse(
        await (await request(gw, 'GET', `/v1/evidence/${id}`, { token: TOKENS.read })).text(),
      ) as { transcript: { payload: { type: string } }[] };
      await expect(verifyServedBundle(gw, bundle)).resolves.toBeDefined();
      expect(bundle.transcript[0]?.payload.type).toBe('UnsealRequested');
      expect(bundle.transcript.length).toBe(id === answer.evidence.request ? 1 : 1 + 5 * 4);
    }
    const view = await json(await request(gw, 'GET', `/v1/incidents/${incidentId}`, { token: TOKENS.read }));
    expect(view['unseals']).toEqual([
      {
        request_id: req.request_id,
        requester: 'alice',
        request_evidence_id: answer.evidence.request,
        release_evidence_id: answer.evidence.releases,
      },
    ]);
    expect(gw.coordinator.auditTrail('audit').at(-1)).toMatchObject({
      event: 'sealed.refused',
      detail: { rule: 'unseal.approvers' },
    });
    expect(gw.coordinator.auditTrail('strategy').at(-1)).toMatchObject({ event: 'sealed.release' });
    expect(leaks(JSON.stringify(gw.coordinator.auditTrail('strategy')))).toEqual([]);
    expect(leaks(gw.logger.lines.join('\n'))).toEqual([]);
  });

  it('400 for an expired request, 404 for a field of no incident, 409 for a request id used before', async () => {
    const record = await gw.store.getIncident(incidentId);
    const field = SealedFieldCodec.fromJSON(record?.sealed?.fields[0]).id;
    const post = (req: unknown) =>
      request(gw, 'POST', `/v1/evidence/${evidenceId}/unseal`, {
        token: TOKENS.approve,
        body: { request: req },
      });
    const past = Date.now() - 3 * 3600_000;
    const stale = await post(
      ask({
        fields: [field],
        issued_at: new Date(past).toISOString(),
        expires_at: new Date(past + 600_000).toISOString(),
      }),
    );
    expect(stale.status).toBe(400);
    expect(((await json(stale))['error'] as { code: string }).code).toBe('STALE_REQUEST');
    expect((await post(ask({ fields: ['no-such-field'] }))).status).toBe(404);
    const once = ask({ fields: [field] });
    expect((await post(once)).status).toBe(200);
    expect((await post(once)).status).toBe(409);
  });

  it('one request id sent three times at once: one 200, two 409, recorded once', async () => {
    const record = await gw.store.getIncident(incidentId);
    const field = SealedFieldCodec.fromJSON(record?.sealed?.fields[0]).id;
    const req = ask({ fields: [field] });
    const logBefore = await gw.evidence.logSize();
    const answers = await Promise.all(
      [1, 2, 3].map(() =>
        request(gw, 'POST', `/v1/evidence/${evidenceId}/unseal`, {
          token: TOKENS.approve,
          body: { request: req },
        }),
      ),
    );
    expect(answers.map((r) => r.status).sort()).toEqual([200, 409, 409]);
    for (const r of answers.filter((x) => x.status === 409))
      expect(((await json(r))['error'] as { code: string }).code).toBe('CONFLICT');
    const after = await gw.store.getIncident(incidentId);
    expect(after?.unseals?.filter((u) => u.request_id === req.request_id)).toHaveLength(1);
    // One request record and one release record in the log.
    expect(await gw.evidence.logSize()).toBe(logBefore + 2);
  });

  it('two different requests at once are both recorded on the incident (no lost update)', async () => {
    const record = await gw.store.getIncident(incidentId);
    const field = SealedFieldCodec.fromJSON(record?.sealed?.fields[0]).id;
    const reqs = [ask({ fields: [field] }), ask({ fields: [field] })];
    const answers = await Promise.all(
      reqs.map((req) =>
        request(gw, 'POST', `/v1/evidence/${evidenceId}/unseal`, {
          token: TOKENS.approve,
          body: { request: req },
        }),
      ),
    );
    expect(answers.map((r) => r.status)).toEqual([200, 200]);
    const after = await gw.store.getIncident(incidentId);
    for (const req of reqs)
      expect(after?.unseals?.filter((u) => u.request_id === req.request_id)).toHaveLength(1);
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
