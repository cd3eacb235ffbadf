/**
 * `GET /v1/evidence/:id` chooses JSON or CBOR by media type and q-value (RFC 9110 §12.5.1): CBOR
 * refused with q=0, or a type whose name only starts with `application/cbor`, gets JSON; both
 * representations of the one URL say `Vary: Accept`, so a shared cache keeps them apart; an Accept
 * that takes neither is answered 406 with the error shape. The ranking itself: accept.test.ts.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EVIDENCE_MEDIA_TYPE } from '../routes/evidence.js';
import { json, makeGateway, request, SIGNALS, type TestGateway, TOKENS } from '../test-helpers/gateway.js';

let gw: TestGateway;
let evidence = '';
beforeAll(async () => {
  gw = await makeGateway();
  const res = await request(gw, 'POST', '/v1/incidents', { token: TOKENS.submit, body: SIGNALS.quota() });
  const id = String((await json(res))['incident_id']);
  await gw.runner.idle();
  evidence = String(
    (await json(await request(gw, 'GET', `/v1/incidents/${id}`, { token: TOKENS.read })))['evidence_id'],
  );
  expect(evidence).toMatch(/^[0-9a-f]{64}$/);
});
afterAll(async () => gw.cleanup());

const get = (accept: string) =>
  request(gw, 'GET', `/v1/evidence/${evidence}`, { token: TOKENS.read, headers: { accept } });
const type = (res: Response) => (res.headers.get('content-type') ?? '').split(';')[0];

describe('evidence content negotiation', () => {
  it('CBOR refused with q=0: JSON', async () => {
    expect(type(await get('application/json, application/cbor;q=0'))).toBe(EVIDENCE_MEDIA_TYPE);
    // docs/api.md's examples, as written there.
    expect(type(await get('application/cbor;q=0, */*'))).toBe(EVIDENCE_MEDIA_TYPE);
  });

  it('another media type whose name starts with application/cbor (CBOR sequences): not CBOR', async () => {
    expect(type(await get(`application/cbor-seq, ${EVIDENCE_MEDIA_TYPE}`))).toBe(EVIDENCE_MEDIA_TYPE);
    expect(type(await get('application/cbor-seq, application/json'))).toBe(EVIDENCE_MEDIA_TYPE);
  });

  it('an Accept that takes neither JSON nor CBOR: 406 NOT_ACCEPTABLE, error JSON, Vary: Accept', async () => {
    for (const accept of [
      'text/html',
      `${EVIDENCE_MEDIA_TYPE};q=0, application/json;q=0, application/cbor;q=0`,
      // Rule CBOR out and take nothing else (docs/api.md, "Evidence and the log").
      'application/cbor;q=0',
      'application/cbor-seq',
    ]) {
      const res = await get(accept);
      expect(res.status, accept).toBe(406);
      expect(type(res)).toBe('application/json');
      expect(res.headers.get('vary') ?? '').toMatch(/\baccept\b/i);
      expect(await json(res)).toMatchObject({ error: { code: 'NOT_ACCEPTABLE' } });
    }
  });

  it('both representations say they vary by Accept', async () => {
    for (const accept of ['application/cbor', EVIDENCE_MEDIA_TYPE]) {
      const res = await get(accept);
      expect(res.status).toBe(200);
      expect(res.headers.get('vary') ?? '', accept).toMatch(/\baccept\b/i);
    }
  });
});

describe('trusted root content negotiation', () => {
  const ROOT_TYPE = 'application/vnd.dev.sigstore.trustedroot+json';
  const getRoot = (accept?: string) =>
    request(gw, 'GET', '/v1/trusted-root', {
      token: TOKENS.read,
      ...(accept === undefined ? {} : { headers: { accept } }),
    });

  it('no Accept, its own media type (with or without its version), JSON, or a wildcard: the trusted root, Vary: Accept', async () => {
    for (const accept of [
      undefined,
      ROOT_TYPE,
      `${ROOT_TYPE};version=0.1`,
      'application/json',
      'application/*',
      '*/*',
      'text/html, application/json;q=0.1',
    ]) {
      const res = await getRoot(accept);
      expect(res.status, accept).toBe(200);
      expect(res.headers.get('content-type'), accept).toBe(`${ROOT_TYPE};version=0.1`);
      expect(res.headers.get('vary') ?? '', accept).toMatch(/\baccept\b/i);
      expect(await json(res), accept).toMatchObject({ mediaType: `${ROOT_TYPE};version=0.1` });
    }
  });

  it('an Accept that takes neither its media type nor JSON: 406 NOT_ACCEPTABLE, error JSON, Vary: Accept', async () => {
    for (const accept of [
      'text/html',
      'application/cbor',
      `${ROOT_TYPE};version=0.2`,
      `${ROOT_TYPE};q=0, application/json;q=0, */*`,
    ]) {
      const res = await getRoot(accept);
      expect(res.status, accept).toBe(406);
      expect(type(res)).toBe('application/json');
      expect(res.headers.get('vary') ?? '').toMatch(/\baccept\b/i);
      expect(await json(res)).toMatchObject({ error: { code: 'NOT_ACCEPTABLE' } });
    }
  });
});

describe('Sigstore bundle content negotiation', () => {
  const BUNDLE_TYPE = 'application/vnd.dev.sigstore.bundle.v0.3+json';
  const getBundle = (accept?: string) =>
    request(gw, 'GET', `/v1/evidence/${evidence}/sigstore`, {
      token: TOKENS.read,
      ...(accept === undefined ? {} : { headers: { accept } }),
    });

  it('no Accept, its own media type, JSON, or a wildcard: the Sigstore bundle, Vary: Accept', async () => {
    for (const accept of [undefined, BUNDLE_TYPE, 'application/json', 'application/*', '*/*']) {
      const res = await getBundle(accept);
      expect(res.status, accept).toBe(200);
      expect(type(res), accept).toBe(BUNDLE_TYPE);
      expect(res.headers.get('vary') ?? '', accept).toMatch(/\baccept\b/i);
      expect(await json(res), accept).toMatchObject({ mediaType: expect.stringContaining('bundle') });
    }
  });

  it('an Accept that takes neither its media type nor JSON: 406 NOT_ACCEPTABLE, error JSON, Vary: Accept', async () => {
    for (const accept of ['text/html', 'application/cbor', `${BUNDLE_TYPE};q=0, application/json;q=0`]) {
      const res = await getBundle(accept);
      expect(res.status, accept).toBe(406);
      expect(type(res)).toBe('application/json');
      expect(res.headers.get('vary') ?? '').toMatch(/\baccept\b/i);
      expect(await json(res)).toMatchObject({ error: { code: 'NOT_ACCEPTABLE' } });
    }
  });
});
