/**
 * `GET /v1/evidence/:id/sigstore` of a secp256k1-TR group's bundle is `409 CONFLICT` (the request
 * is fine; Sigstore has no BIP-340 key type), as `GET /v1/trusted-root` is, and the OpenAPI
 * document lists that status for the route.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openApiDocument } from '../app.js';
import { json, makeGateway, request, SIGNALS, type TestGateway, TOKENS } from '../test-helpers/gateway.js';

let gw: TestGateway;
let evidence = '';
beforeAll(async () => {
  gw = await makeGateway({ ciphersuite: 'FROST-secp256k1-SHA256-TR-v1' });
  const res = await request(gw, 'POST', '/v1/incidents', { token: TOKENS.submit, body: SIGNALS.quota() });
  const id = String((await json(res))['incident_id']);
  await gw.runner.idle();
  evidence = String(
    (await json(await request(gw, 'GET', `/v1/incidents/${id}`, { token: TOKENS.read })))['evidence_id'],
  );
  expect(evidence).toMatch(/^[0-9a-f]{64}$/);
}, 60_000);
afterAll(async () => gw.cleanup());

describe('Sigstore export of a group that is not Ed25519', () => {
  it('answers as the trusted root does (409 CONFLICT), with a status the document lists', async () => {
    const root = await request(gw, 'GET', '/v1/trusted-root', { token: TOKENS.read });
    expect(root.status).toBe(409);
    const res = await request(gw, 'GET', `/v1/evidence/${evidence}/sigstore`, { token: TOKENS.read });
    const body = await json(res);
    expect({ status: res.status, code: (body['error'] as { code: string }).code }).toEqual({
      status: 409,
      code: 'CONFLICT',
    });
    const doc = openApiDocument() as {
      paths: Record<string, { get: { responses: Record<string, unknown> } }>;
    };
    expect(Object.keys(doc.paths['/v1/evidence/{evidence_id}/sigstore']!.get.responses)).toContain(
      String(res.status),
    );
  });
});
