/** The HTTP API through `app.request()`: every endpoint, auth, and every bad-input case. */
import {
  bundleLogLeaf,
  decodeBundleCbor,
  type EvidenceBundle,
  hashLeaf,
  MemoryMerkleTree,
} from '@aaps/evidence';
import { bytesToHex, generateIdentityKey, signEnvelope } from '@aaps/mpc-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { signGithubPayload } from './intake/github-signature.js';
import {
  approvalEnvelope,
  fixture,
  fixtureText,
  GITHUB_SECRET,
  json,
  makeGateway,
  rejectionEnvelope,
  request,
  SIGNALS,
  signalEnvelope,
  type TestGateway,
  TOKENS,
  verifyServedBundle,
} from './test-helpers/gateway.js';

let gw: TestGateway;
beforeAll(async () => {
  gw = await makeGateway({ config: { maxBodyBytes: 64 * 1024 } });
});
afterAll(async () => gw.cleanup());

async function count(): Promise<number> {
  return (await gw.store.listIncidents({ limit: 100 })).incidents.length;
}

async function expectError(res: Response, status: number, code: string): Promise<Record<string, unknown>> {
  expect(res.status).toBe(status);
  const body = await json(res);
  expect(body).toMatchObject({ error: { code, message: expect.any(String) } });
  expect(JSON.stringify(body)).not.toMatch(/at .*\.ts:\d+|stack/);
  return (body['error'] as Record<string, unknown>) ?? {};
}

describe('bad input writes nothing', () => {
  const kube = () => fixture('kubernetes/core-v1-missing-configmap-key.json');

  it('401 without a token, with an unknown token; 403 outside the scope', async () => {
    const before = await count();
    await expectError(
      await request(gw, 'POST', '/v1/webhooks/kubernetes', { body: kube() }),
      401,
      'UNAUTHENTICATED',
    );
    await expectError(
      await request(gw, 'POST', '/v1/webhooks/kubernetes', {
        token: 'not-a-real-token-at-all',
        body: kube(),
      }),
      401,
      'UNAUTHENTICATED',
    );
    await expectError(
      await request(gw, 'POST', '/v1/webhooks/kubernetes', {
        body: kube(),
        headers: { authorization: 'Basic abc' },
      }),
      401,
      'UNAUTHENTICATED',
    );
    await expectError(
      await request(gw, 'POST', '/v1/webhooks/kubernetes', { token: TOKENS.read, body: kube() }),
      403,
      'FORBIDDEN',
    );
    await expectError(await request(gw, 'GET', '/v1/incidents', { token: TOKENS.submit }), 403, 'FORBIDDEN');
    const noToken = await request(gw, 'GET', '/v1/keys');
    // A token's failure challenges for one (RFC 6750).
    expect(noToken.headers.get('www-authenticate')).toBe('Bearer');
    await expectError(noToken, 401, 'UNAUTHENTICATED');
    expect(await count()).toBe(before);
  });

  it('415 for a body that is not JSON by content type', async () => {
    const before = await count();
    const res = await request(gw, 'POST', '/v1/incidents', {
      token: TOKENS.submit,
      raw: JSON.stringify(SIGNALS.quota()),
      headers: { 'content-type': 'text/plain' },
    });
    await expectError(res, 415, 'UNSUPPORTED_MEDIA_TYPE');
    expect(await count()).toBe(before);
  });

  it('400 for invalid JSON', async () => {
    const before = await count();
    const res = await request(gw, 'POST', '/v1/webhooks/alertmanager', {
      token: TOKENS.submit,
      raw: '{"version": "4",',
    });
    const err = await expectError(res, 400, 'DECODE_FAILED');
    expect(err['fields']).toEqual(['$']);
    expect(await count()).toBe(before);
  });

  it('413 for a body over the limit, declared or streamed', async () => {
    const before = await count();
    const big = JSON.stringify({ pad: 'x'.repeat(70 * 1024) });
    await expectError(
      await request(gw, 'POST', '/v1/incidents', { token: TOKENS.submit, raw: big }),
      413,
      'PAYLOAD_TOO_LARGE',
    );
    const stream = new ReadableStream<Uint8Array>({
      start(c) {
        c.enqueue(new TextEncoder().encode(big));
        c.close();
      },
    });
    const res = await gw.app.request('/v1/webhooks/kubernetes', {
      method: 'POST',
      headers: { authorization: `Bearer ${TOKENS.submit}`, 'content-type': 'application/json' },
      body: stream,
      duplex: 'half',
    } as RequestInit);
    await expectError(res, 413, 'PAYLOAD_TOO_LARGE');
    expect(await count()).toBe(before);
  });

  it('400 naming the failing paths of a schema error', async () => {
    const before = await count();
    const am = fixture('alertmanager/firing-group.json');
    const alerts = am['alerts'] as Record<string, unknown>[];
    delete alerts[0]?.['fingerprint'];
    am['version'] = '3';
    const err = await expectError(
      await request(gw, 'POST', '/v1/webhooks/alertmanager', { token: TOKENS.submit, body: am }),
      400,
      'INVALID_ARGUMENT',
    );
    expect(err['fields']).toEqual(expect.arrayContaining(['version', 'alerts[0].fingerprint']));
    const env = SIGNALS.quota() as unknown as { meta: Record<string, unknown> };
    env.meta['message_type'] = 'RCAReport';
    env.meta['extra'] = 1;
    const err2 = await expectError(
      await request(gw, 'POST', '/v1/incidents', { token: TOKENS.submit, body: env }),
      400,
      'INVALID_ARGUMENT',
    );
    expect(err2['fields']).toEqual(expect.arrayContaining(['meta.message_type', 'meta.extra']));
    expect(await count()).toBe(before);
  });

  it('401 for a bad GitHub HMAC, 503 when no secret is configured', async () => {
    const before = await count();
    const raw = fixtureText('github/workflow-run-failure.json');
    const headers = { 'x-github-event': 'workflow_run', 'x-github-delivery': 'delivery-bad-hmac' };
    await expectError(
      await request(gw, 'POST', '/v1/webhooks/github', {
        raw,
        headers: {
          ...headers,
          'x-hub-signature-256': signGithubPayload(new TextEncoder().encode(raw), 'wrong-secret'),
        },
      }),
      401,
      'INVALID_SIGNATURE',
    );
    await expectError(
      await request(gw, 'POST', '/v1/webhooks/github', { raw, headers }),
      401,
      'UNAUTHENTICATED',
    );
    // The signature covers the raw bytes: the same JSON re-serialised does not verify.
    const reserialised = JSON.stringify(JSON.parse(raw));
    await expectError(
      await request(gw, 'POST', '/v1/webhooks/github', {
        raw: `${reserialised} `,
        headers: {
          ...headers,
          'x-hub-signature-256': signGithubPayload(new TextEncoder().encode(reserialised), GITHUB_SECRET),
        },
      }),
      401,
      'INVALID_SIGNATURE',
    );
    const off = await makeGateway({ config: { githubSecret: undefined } });
    try {
      const sig = signGithubPayload(new TextEncoder().encode(raw), GITHUB_SECRET);
      await expectError(
        await request(off, 'POST', '/v1/webhooks/github', {
          raw,
          headers: { ...headers, 'x-hub-signature-256': sig },
        }),
        503,
        'UNAVAILABLE',
      );
      expect((await off.store.listIncidents({ limit: 10 })).incidents).toHaveLength(0);
    } finally {
      await off.cleanup();
    }
    expect(await count()).toBe(before);
  });

  it('401 for an envelope whose signature does not verify against the roster', async () => {
    const before = await count();
    const stranger = generateIdentityKey();
    const forged = signEnvelope(SIGNALS.quota({}), stranger.secretKey);
    forged.meta.source_agent = 'monitoring';
    const badSignature = await request(gw, 'POST', '/v1/incidents', { token: TOKENS.submit, body: forged });
    // The token was good: no Bearer challenge, which would tell the client to fetch another token.
    expect(badSignature.headers.get('www-authenticate')).toBeNull();
    await expectError(badSignature, 401, 'INVALID_SIGNATURE');
    const outsider = signEnvelope(
      signalEnvelope({ affected_resources: [], metadata: {} }, { source_agent: 'somebody' }),
      stranger.secretKey,
    );
    const unknownSigner = await request(gw, 'POST', '/v1/incidents', {
      token: TOKENS.submit,
      body: outsider,
    });
    expect(unknownSigner.headers.get('www-authenticate')).toBeNull();
    await expectError(unknownSigner, 401, 'UNAUTHENTICATED');
    const claims = SIGNALS.quota();
    claims.meta.source_agent = 'strategy';
    await expectError(
      await request(gw, 'POST', '/v1/incidents', { token: TOKENS.submit, body: claims }),
      401,
      'UNAUTHENTICATED',
    );
    // Tampering after signing breaks a valid roster signature.
    const signed = signEnvelope(
      { ...SIGNALS.quota(), meta: { ...SIGNALS.quota().meta, source_agent: 'gateway' } },
      gw.gatewayKey.secretKey,
    );
    signed.context.namespace = 'kube-system';
    await expectError(
      await request(gw, 'POST', '/v1/incidents', { token: TOKENS.submit, body: signed }),
      401,
      'INVALID_SIGNATURE',
    );
    expect(await count()).toBe(before);
  });

  it('400 for bad queries and paths; 404 for unknown ids and routes', async () => {
    await expectError(
      await request(gw, 'GET', '/v1/incidents?limit=0', { token: TOKENS.read }),
      400,
      'INVALID_ARGUMENT',
    );
    await expectError(
      await request(gw, 'GET', '/v1/incidents?state=bogus', { token: TOKENS.read }),
      400,
      'INVALID_ARGUMENT',
    );
    await expectError(
      await request(gw, 'GET', '/v1/incidents?cursor=bm9wZQ', { token: TOKENS.read }),
      400,
      'INVALID_ARGUMENT',
    );
    await expectError(
      await request(gw, 'GET', '/v1/incidents/inc-nope', { token: TOKENS.read }),
      404,
      'NOT_FOUND',
    );
    await expectError(
      await request(gw, 'GET', '/v1/incidents/inc-nope/events', { token: TOKENS.read }),
      404,
      'NOT_FOUND',
    );
    await expectError(
      await request(gw, 'GET', `/v1/evidence/${'0'.repeat(64)}`, { token: TOKENS.read }),
      404,
      'NOT_FOUND',
    );
    await expectError(
      await request(gw, 'GET', '/v1/evidence/not-hex/sigstore', { token: TOKENS.read }),
      404,
      'NOT_FOUND',
    );
    await expectError(
      await request(gw, 'GET', '/v1/log/inclusion/abc', { token: TOKENS.read }),
      400,
      'INVALID_ARGUMENT',
    );
    await expectError(
      await request(gw, 'GET', '/v1/log/consistency', { token: TOKENS.read }),
      400,
      'INVALID_ARGUMENT',
    );
    await expectError(await request(gw, 'GET', '/v1/nothing-here', { token: TOKENS.read }), 404, 'NOT_FOUND');
    const approval = await request(gw, 'POST', '/v1/approvals/inc-nope', {
      token: TOKENS.approve,
      body: { meta: {} },
    });
    await expectError(approval, 400, 'INVALID_ARGUMENT');
  });
});

describe('every endpoint', () => {
  let incidentId = '';
  let evidenceId = '';

  it('POST /v1/incidents: 202, then 200 with the same incident for the same idempotency key', async () => {
    const env = SIGNALS.quota();
    const first = await request(gw, 'POST', '/v1/incidents', { token: TOKENS.submit, body: env });
    expect(first.status).toBe(202);
    const a = await json(first);
    expect(a).toMatchObject({ state: 'received', duplicate: false, trace_id: env.meta.trace_id });
    const again = await request(gw, 'POST', '/v1/incidents', { token: TOKENS.submit, body: env });
    expect(again.status).toBe(200);
    expect(await json(again)).toMatchObject({ incident_id: a['incident_id'], duplicate: true });
    incidentId = String(a['incident_id']);
    await gw.runner.idle();
  });

  it('an envelope signed by a roster key is accepted as signed', async () => {
    const env = signEnvelope(
      { ...SIGNALS.quota(), meta: { ...SIGNALS.quota().meta, source_agent: 'gateway' } },
      gw.gatewayKey.secretKey,
    );
    const res = await request(gw, 'POST', '/v1/incidents', { token: TOKENS.admin, body: env });
    expect(res.status).toBe(202);
    const id = String((await json(res))['incident_id']);
    const stored = await gw.store.getIncident(id);
    expect(stored?.transcript[0]?.meta.signature).toBe(env.meta.signature);
    await gw.runner.idle();
  });

  it('GET /v1/incidents/:id has the documented fields and an evidence id once ended', async () => {
    const inc = await json(await request(gw, 'GET', `/v1/incidents/${incidentId}`, { token: TOKENS.read }));
    expect(Object.keys(inc)).toEqual(
      expect.arrayContaining([
        'incident_id',
        'type',
        'state',
        'timeline',
        'proposal',
        'decision',
        'execution',
        'verification',
        'evidence_id',
      ]),
    );
    expect(inc).toMatchObject({
      incident_id: incidentId,
      type: 'resource_quota_exceeded',
      state: 'resolved',
    });
    evidenceId = String(inc['evidence_id']);
    expect(evidenceId).toMatch(/^[0-9a-f]{64}$/);
  });

  it('GET /v1/incidents pages with a cursor and filters by state', async () => {
    const other = SIGNALS.rbac();
    other.payload['affected_resources'] = ['serviceaccount://shop/other-deployer'];
    for (const body of [SIGNALS.rbac(), other]) {
      expect((await request(gw, 'POST', '/v1/incidents', { token: TOKENS.submit, body })).status).toBe(202);
    }
    // Envelopes dedup by idempotency key only (DESIGN.md): the same problem under a new key is new.
    const same = await request(gw, 'POST', '/v1/incidents', { token: TOKENS.submit, body: SIGNALS.rbac() });
    expect(same.status).toBe(202);
    expect(await json(same)).toMatchObject({ duplicate: false });
    await gw.runner.idle();
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const q: string = cursor === null ? '' : `&cursor=${cursor}`;
      const page = await json(await request(gw, 'GET', `/v1/incidents?limit=1${q}`, { token: TOKENS.read }));
      const list = page['incidents'] as { incident_id: string }[];
      expect(list.length).toBeLessThanOrEqual(1);
      seen.push(...list.map((i) => i.incident_id));
      cursor = page['next_cursor'] as string | null;
    } while (cursor !== null);
    expect(new Set(seen).size).toBe(seen.length);
    expect(seen).toEqual((await gw.store.listIncidents({ limit: 100 })).incidents.map((i) => i.id));
    const waiting = await json(
      await request(gw, 'GET', '/v1/incidents?state=awaiting_human', { token: TOKENS.read }),
    );
    expect((waiting['incidents'] as { state: string }[]).map((i) => i.state)).toEqual([
      'awaiting_human',
      'awaiting_human',
      'awaiting_human',
    ]);
  });

  it('GET /v1/incidents/:id/events streams each state, then end', async () => {
    const res = await request(gw, 'GET', `/v1/incidents/${incidentId}/events`, { token: TOKENS.read });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toContain('text/event-stream');
    const text = await res.text();
    const events = [...text.matchAll(/event: (\w+)\ndata: (.*)\n/g)].map((m) => ({
      event: m[1],
      data: JSON.parse(m[2] ?? '{}'),
    }));
    const states = events.filter((e) => e.event === 'state').map((e) => e.data.state);
    expect(states[0]).toBe('received');
    expect(states.at(-1)).toBe('resolved');
    expect(events.at(-1)).toMatchObject({
      event: 'end',
      data: { evidence_id: evidenceId, state: 'resolved' },
    });
  });

  it('GET /v1/incidents/:id/events delivers states live as the incident moves', async () => {
    const body = SIGNALS.rbac();
    body.payload['affected_resources'] = ['serviceaccount://shop/live-deployer'];
    const created = await request(gw, 'POST', '/v1/incidents', { token: TOKENS.submit, body });
    expect(created.status).toBe(202);
    const id = String((await json(created))['incident_id']);
    await gw.runner.idle();
    const res = await request(gw, 'GET', `/v1/incidents/${id}/events`, { token: TOKENS.read });
    const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader();
    let text = '';
    while (!text.includes('"state":"awaiting_human"')) {
      const { value, done } = await reader.read();
      if (done) throw new Error('stream ended early');
      text += value;
    }
    const proposal = (await json(await request(gw, 'GET', `/v1/incidents/${id}`, { token: TOKENS.read })))[
      'proposal'
    ];
    const ok = await request(gw, 'POST', `/v1/approvals/${id}`, {
      token: TOKENS.approve,
      body: approvalEnvelope(proposal as Parameters<typeof approvalEnvelope>[0], gw.approverKey),
    });
    expect(ok.status).toBe(202);
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      text += value;
    }
    const states = [...text.matchAll(/event: state\ndata: (.*)\n/g)].map(
      (m) => JSON.parse(m[1] ?? '{}').state,
    );
    expect(states).toEqual([
      'received',
      'triaged',
      'proposed',
      'awaiting_human',
      'awaiting_approval',
      'approved',
      'executing',
      'verifying',
      'resolved',
    ]);
    expect(text).toMatch(/event: end\ndata: .*"evidence_id":"[0-9a-f]{64}"/);
  });

  it('POST /v1/approvals/:id with a signed rejection ends an incident waiting for a human, proposal or not', async () => {
    const unknown = signalEnvelope({
      affected_resources: ['node://cluster/node-7'],
      metadata: { reason: 'NodeNotReady', messages: ['kubelet stopped posting node status'] },
    });
    const rbac = SIGNALS.rbac();
    rbac.payload['affected_resources'] = ['serviceaccount://shop/rejected-deployer'];
    for (const [body, hasProposal] of [
      [unknown, false],
      [rbac, true],
    ] as const) {
      const created = await request(gw, 'POST', '/v1/incidents', { token: TOKENS.submit, body });
      const id = String((await json(created))['incident_id']);
      await gw.runner.idle();
      const waiting = await json(await request(gw, 'GET', `/v1/incidents/${id}`, { token: TOKENS.read }));
      expect(waiting).toMatchObject({ state: 'awaiting_human' });
      expect(waiting['proposal'] === null).toBe(!hasProposal);
      const post = (env: unknown) =>
        request(gw, 'POST', `/v1/approvals/${id}`, { token: TOKENS.approve, body: env });
      // Not the approver's key; a rejection naming another approver than its envelope's; another
      // incident; too old; no reason: refused, and nothing changes.
      const stranger = generateIdentityKey();
      await expectError(await post(rejectionEnvelope(id, stranger, 'no')), 401, 'INVALID_SIGNATURE');
      await expectError(
        await post(rejectionEnvelope(id, gw.approverKey, 'no', { approver_id: 'bob' })),
        401,
        'UNAUTHENTICATED',
      );
      await expectError(
        await post(rejectionEnvelope(id, gw.approverKey, 'no', { incident_id: 'inc-other' })),
        400,
        'INVALID_ARGUMENT',
      );
      await expectError(
        await post(rejectionEnvelope(id, gw.approverKey, 'no', { rejected_at: '2020-01-01T00:00:00Z' })),
        400,
        'INVALID_ARGUMENT',
      );
      await expectError(await post(rejectionEnvelope(id, gw.approverKey, '')), 400, 'INVALID_ARGUMENT');
      for (const rejected_at of [new Date(Date.now() + 3600_000).toISOString(), '2026-11-25T16:00:60Z']) {
        const e = await expectError(
          await post(rejectionEnvelope(id, gw.approverKey, 'no', { rejected_at })),
          400,
          'INVALID_ARGUMENT',
        );
        expect(e['message']).toMatch(/rejected_at (is in the future|is not a real date)/);
      }
      // The envelope signed afresh by the approver, the rejection inside changed after its signing.
      const signed = rejectionEnvelope(id, gw.approverKey, 'no');
      const { signature: _old, ...meta } = signed.meta;
      const tampered = signEnvelope(
        { ...signed, meta, payload: { ...signed.payload, reason: 'changed after signing' } },
        gw.approverKey.secretKey,
      );
      await expectError(await post(tampered), 401, 'UNAUTHENTICATED');
      const reason = 'not ours to fix: the node team owns it';
      const ok = await post(rejectionEnvelope(id, gw.approverKey, reason));
      expect(ok.status).toBe(202);
      await gw.runner.idle();
      const ended = await json(await request(gw, 'GET', `/v1/incidents/${id}`, { token: TOKENS.read }));
      expect(ended).toMatchObject({ state: 'rejected', reason: { code: 'HUMAN_REJECTED', message: reason } });
      expect(String(ended['evidence_id'])).toMatch(/^[0-9a-f]{64}$/);
      const bundle = await json(
        await request(gw, 'GET', `/v1/evidence/${String(ended['evidence_id'])}`, { token: TOKENS.read }),
      );
      const verified = await verifyServedBundle(gw, bundle);
      expect(JSON.stringify(bundle['transcript'])).toContain(reason);
      // The signed summary says who rejected it and why.
      expect(verified.statement.predicate.incident['human_rejection']).toMatchObject({
        approver_id: 'alice',
        reason,
      });
      // Once ended, neither a second rejection nor an approval applies.
      await expectError(await post(rejectionEnvelope(id, gw.approverKey, reason)), 409, 'CONFLICT');
      if (hasProposal) {
        const proposal = waiting['proposal'] as Parameters<typeof approvalEnvelope>[0];
        await expectError(await post(approvalEnvelope(proposal, gw.approverKey)), 409, 'CONFLICT');
      }
    }
  });

  it('GET /v1/evidence/:id as JSON and CBOR verifies with @aaps/evidence', async () => {
    const res = await request(gw, 'GET', `/v1/evidence/${evidenceId}`, { token: TOKENS.read });
    expect(res.headers.get('content-type')).toContain('application/vnd.aaps.evidence.v1+json');
    const bundle = await res.json();
    expect((await verifyServedBundle(gw, bundle)).incidentId).toBe(incidentId);
    const cbor = await request(gw, 'GET', `/v1/evidence/${evidenceId}`, {
      token: TOKENS.read,
      headers: { accept: 'application/cbor' },
    });
    expect(cbor.headers.get('content-type')).toBe('application/cbor');
    const decoded = decodeBundleCbor(new Uint8Array(await cbor.arrayBuffer()));
    expect((await verifyServedBundle(gw, decoded)).incidentId).toBe(incidentId);
  });

  it('GET /v1/evidence/:id/sigstore and /v1/trusted-root', async () => {
    const sig = await json(
      await request(gw, 'GET', `/v1/evidence/${evidenceId}/sigstore`, { token: TOKENS.read }),
    );
    expect(sig['mediaType']).toBe('application/vnd.dev.sigstore.bundle.v0.3+json');
    const keys = await gw.coordinator.keys();
    const root = await json(await request(gw, 'GET', '/v1/trusted-root', { token: TOKENS.read }));
    expect(root).toMatchObject({ aaps: { groupKey: { publicKeyHex: keys.group_public_key } } });
    // Each roster party's role, so that aaps-verify --trusted-root holds it to its role's outputs.
    const trust = gw.coordinator.trustedKeys();
    expect(root).toMatchObject({
      aaps: { partyRoles: Object.fromEntries(trust.parties.map((p) => [p.id, p.role])) },
    });
    expect(new Set(Object.values((root.aaps as { partyRoles: object }).partyRoles))).toEqual(
      new Set(['monitoring', 'problem-solver', 'strategy', 'quality-assurance', 'audit']),
    );
  });

  it('GET /v1/trusted-root of a secp256k1-TR group: 409 (a trusted root holds Ed25519 keys only)', async () => {
    const secp = await makeGateway({ ciphersuite: 'FROST-secp256k1-SHA256-TR-v1' });
    try {
      await expectError(
        await request(secp, 'GET', '/v1/trusted-root', { token: TOKENS.read }),
        409,
        'CONFLICT',
      );
    } finally {
      await secp.cleanup();
    }
  });

  it('GET /v1/log/checkpoint, inclusion and consistency agree with the bundle', async () => {
    const note = await (await request(gw, 'GET', '/v1/log/checkpoint', { token: TOKENS.read })).text();
    expect(note.split('\n')[0]).toBe('aaps.test/log');
    const size = Number(note.split('\n')[1]);
    expect(size).toBeGreaterThanOrEqual(2);
    const bundle = (await (
      await request(gw, 'GET', `/v1/evidence/${evidenceId}`, { token: TOKENS.read })
    ).json()) as {
      transparencyLog: { logIndex: number };
    };
    const inc = await json(
      await request(gw, 'GET', `/v1/log/inclusion/${bundle.transparencyLog.logIndex}?tree_size=${size}`, {
        token: TOKENS.read,
      }),
    );
    expect(inc).toMatchObject({ leaf_index: bundle.transparencyLog.logIndex, tree_size: size });
    const cons = await json(
      await request(gw, 'GET', `/v1/log/consistency?first=1&second=${size}`, { token: TOKENS.read }),
    );
    expect(cons).toMatchObject({ first: 1, second: size });
    await expect(
      request(gw, 'GET', `/v1/log/inclusion/${size}?tree_size=${size}`, { token: TOKENS.read }).then(
        (r) => r.status,
      ),
    ).resolves.toBe(400);
  });

  it("GET /v1/log/entries/{index}: walking every entry gives the checkpoint's root, each naming a stored bundle", async () => {
    const note = await (await request(gw, 'GET', '/v1/log/checkpoint', { token: TOKENS.read })).text();
    const [, sizeLine, rootLine] = note.split('\n');
    const size = Number(sizeLine);
    const tree = new MemoryMerkleTree();
    for (let i = 0; i < size; i++) {
      const entry = (await json(
        await request(gw, 'GET', `/v1/log/entries/${i}`, { token: TOKENS.read }),
      )) as {
        leaf_index: number;
        body: string;
        leaf_hash: string;
        evidence_id: string;
      };
      expect(entry.leaf_index).toBe(i);
      const leaf = new Uint8Array(Buffer.from(entry.body, 'base64'));
      expect(entry.leaf_hash).toBe(bytesToHex(hashLeaf(leaf)));
      tree.append(leaf);
      // The entry names the bundle it commits to: that bundle's own leaf is this one.
      const bundle = (await json(
        await request(gw, 'GET', `/v1/evidence/${entry.evidence_id}`, { token: TOKENS.read }),
      )) as unknown as EvidenceBundle;
      expect(bytesToHex(bundleLogLeaf(bundle))).toBe(bytesToHex(leaf));
    }
    expect(Buffer.from(tree.root(size)).toString('base64')).toBe(rootLine);
    await expectError(
      await request(gw, 'GET', `/v1/log/entries/${size + 1000}`, { token: TOKENS.read }),
      404,
      'NOT_FOUND',
    );
    // Past 2^53 an index is past any log: never rounded to a nearby one, and named as asked.
    for (const big of ['9007199254740992', '9007199254740993', '9999999999999999']) {
      const res = await request(gw, 'GET', `/v1/log/entries/${big}`, { token: TOKENS.read });
      expect(res.status, big).toBe(404);
      expect(String(((await json(res))['error'] as { message: string }).message)).toContain(`at ${big}:`);
    }
    for (const q of [
      'inclusion/9007199254740993',
      `inclusion/0?tree_size=9007199254740993`,
      'consistency?first=1&second=9007199254740993',
      'consistency?first=9007199254740993',
      'entries?start=9007199254740993',
    ])
      await expectError(
        await request(gw, 'GET', `/v1/log/${q}`, { token: TOKENS.read }),
        400,
        'INVALID_ARGUMENT',
      );
    for (const bad of ['abc', '-1', '01', '1.5'])
      await expectError(
        await request(gw, 'GET', `/v1/log/entries/${bad}`, { token: TOKENS.read }),
        400,
        'INVALID_ARGUMENT',
      );
    expect((await request(gw, 'GET', '/v1/log/entries/0', {})).status).toBe(401);
    // The page form: the same entries; fewer at the end, none from the size, nothing past it.
    const page = await json(
      await request(gw, 'GET', `/v1/log/entries?start=1&count=1000`, { token: TOKENS.read }),
    );
    expect(page['start']).toBe(1);
    expect((page['entries'] as { leaf_index: number }[]).map((e) => e.leaf_index)).toEqual(
      Array.from({ length: Number(page['log_size']) - 1 }, (_, i) => i + 1),
    );
    const end = await json(
      await request(gw, 'GET', `/v1/log/entries?start=${page['log_size']}`, { token: TOKENS.read }),
    );
    expect(end['entries']).toEqual([]);
    for (const q of [
      `start=${Number(page['log_size']) + 1}`,
      'start=0&count=0',
      'start=0&count=1001',
      'count=5',
      'start=x',
    ])
      await expectError(
        await request(gw, 'GET', `/v1/log/entries?${q}`, { token: TOKENS.read }),
        400,
        'INVALID_ARGUMENT',
      );
  });

  it('POST /v1/keys/refresh: admin only; in-process parties have no separate shares to refresh (409)', async () => {
    await expectError(
      await request(gw, 'POST', '/v1/keys/refresh', { token: TOKENS.read }),
      403,
      'FORBIDDEN',
    );
    // It takes a reason (1 to 500 characters), nothing else.
    for (const body of [
      {},
      { reason: '' },
      { reason: 'x', extra: 1 },
      { reason: 'x'.repeat(501) },
      { reason: 'line\nbreak' },
    ]) {
      await expectError(
        await request(gw, 'POST', '/v1/keys/refresh', { token: TOKENS.admin, body }),
        400,
        'INVALID_ARGUMENT',
      );
    }
    const local = await request(gw, 'POST', '/v1/keys/refresh', {
      token: TOKENS.admin,
      body: { reason: 'rotation' },
    });
    await expectError(local, 409, 'CONFLICT');
  });

  it('POST /v1/keys/repair: admin only; a reason and optional party ids; in-process parties have none to repair (409)', async () => {
    await expectError(
      await request(gw, 'POST', '/v1/keys/repair', { token: TOKENS.read, body: { reason: 'disk' } }),
      403,
      'FORBIDDEN',
    );
    for (const body of [
      {},
      { reason: '' },
      { reason: 'disk', extra: 1 },
      { reason: 'disk', parties: [] },
      { reason: 'disk', parties: 'monitoring' },
      { reason: 'disk', parties: ['Monitoring'] },
      { reason: 'disk', parties: ['x'.repeat(64)] },
      { reason: 'disk', parties: Array.from({ length: 65 }, (_, i) => `p${i}`) },
    ]) {
      await expectError(
        await request(gw, 'POST', '/v1/keys/repair', { token: TOKENS.admin, body }),
        400,
        'INVALID_ARGUMENT',
      );
    }
    const local = await request(gw, 'POST', '/v1/keys/repair', {
      token: TOKENS.admin,
      body: { reason: 'disk replaced', parties: ['monitoring'] },
    });
    expect((await expectError(local, 409, 'CONFLICT'))['message']).toContain('--local');
  });

  it('GET /v1/keys, /healthz, /metrics, /v1/openapi.json', async () => {
    const keys = await json(await request(gw, 'GET', '/v1/keys', { token: TOKENS.read }));
    expect(keys).toMatchObject({ ciphersuite: 'FROST-ED25519-SHA512-v1', threshold: { min: 3, max: 5 } });
    expect((keys['parties'] as unknown[]).length).toBe(5);
    expect(await json(await request(gw, 'GET', '/healthz'))).toEqual({ status: 'ok' });
    const metricsRes = await request(gw, 'GET', '/metrics');
    // Prometheus text exposition 0.0.4, whose charset is UTF-8.
    expect(metricsRes.headers.get('content-type')).toBe('text/plain; version=0.0.4; charset=utf-8');
    const metrics = await metricsRes.text();
    expect(metrics).toContain('aaps_intake_total{outcome="created",source="envelope"}');
    expect(metrics).toContain('aaps_incident_seconds_count');
    const doc = await json(await request(gw, 'GET', '/v1/openapi.json', { token: TOKENS.read }));
    expect(doc['openapi']).toBe('3.1.0');
    expect(Object.keys(doc['paths'] as object)).toEqual(
      expect.arrayContaining([
        '/v1/incidents',
        '/v1/webhooks/github',
        '/v1/approvals/{incident_id}',
        '/v1/log/consistency',
        '/metrics',
      ]),
    );
  });

  it('never logs a token', () => {
    const all = gw.logger.lines.join('');
    for (const t of Object.values(TOKENS)) expect(all).not.toContain(t);
    expect(all).not.toContain(bytesToHex(gw.gatewayKey.secretKey.expose()));
  });
});
