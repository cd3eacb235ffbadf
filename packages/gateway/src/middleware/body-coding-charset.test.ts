/**
 * The gateway reads identity-coded UTF-8 JSON only, and says so: a body with a Content-Encoding
 * other than identity (gzip, as a proxy or a client with compression on sends it) or a charset
 * other than UTF-8 is 415 `UNSUPPORTED_MEDIA_TYPE` (RFC 9110 §15.5.16), before a byte of it is
 * read. A gzipped body is not answered "not valid JSON" (which would tell its sender its JSON is
 * broken), and a plain body labelled gzip is not taken as if the label were absent. No charset,
 * or `utf-8` in any case, is accepted.
 */
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { json, makeGateway, request, SIGNALS, type TestGateway, TOKENS } from '../test-helpers/gateway.js';

let gw: TestGateway;
beforeAll(async () => {
  gw = await makeGateway();
  await gw.runner.close();
});
afterAll(async () => gw.cleanup());
const count = async () => (await gw.store.listIncidents({ limit: 100 })).incidents.length;

it('a gzip-coded body is 415 naming the coding, with Accept-Encoding: identity', async () => {
  const raw = new Uint8Array(gzipSync(Buffer.from(JSON.stringify(SIGNALS.quota()))));
  const res = await request(gw, 'POST', '/v1/incidents', {
    token: TOKENS.submit,
    raw,
    headers: { 'content-encoding': 'gzip' },
  });
  const body = await json(res);
  expect(res.status, JSON.stringify(body)).toBe(415);
  expect(body).toMatchObject({
    error: { code: 'UNSUPPORTED_MEDIA_TYPE', message: expect.stringContaining('gzip') },
  });
  expect(res.headers.get('accept-encoding')).toBe('identity');
});

it('a plain body labelled gzip is 415 and writes nothing', async () => {
  const before = await count();
  const res = await request(gw, 'POST', '/v1/incidents', {
    token: TOKENS.submit,
    raw: JSON.stringify(SIGNALS.quota()),
    headers: { 'content-encoding': 'gzip' },
  });
  expect(res.status).toBe(415);
  expect(await count()).toBe(before);
});

it('a UTF-16 body (charset=utf-16) is 415 naming the charset', async () => {
  const text = JSON.stringify(SIGNALS.quota());
  const raw = new Uint8Array(Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(text, 'utf16le')]));
  const res = await request(gw, 'POST', '/v1/incidents', {
    token: TOKENS.submit,
    raw,
    headers: { 'content-type': 'application/json; charset=utf-16' },
  });
  const body = await json(res);
  expect(res.status, JSON.stringify(body)).toBe(415);
  expect(body).toMatchObject({
    error: { code: 'UNSUPPORTED_MEDIA_TYPE', message: expect.stringContaining('utf-16') },
  });
  expect(res.headers.get('accept-encoding')).toBeNull();
});

it('charset=UTF-8 and Content-Encoding: identity are accepted', async () => {
  const res = await request(gw, 'POST', '/v1/incidents', {
    token: TOKENS.submit,
    body: SIGNALS.quota(),
    headers: { 'content-type': 'application/json; charset="UTF-8"', 'content-encoding': 'identity' },
  });
  expect(res.status).toBe(202);
});
