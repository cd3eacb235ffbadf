/**
 * What a signature could not keep is refused at intake, naming the path, and nothing is written:
 * a string with a lone UTF-16 surrogate (valid JSON, `"\ud800"`, but not I-JSON, and UTF-8 storage
 * turns it into U+FFFD) and a member named `__proto__` (a CBOR round trip renames it). Taken, the
 * gateway's signature over the envelope stopped verifying once stored, every party refused the
 * evidence (`evidence.transcript`) and an incident that had executed its fix never got evidence.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import {
  fixtureText,
  json,
  makeGateway,
  request,
  SIGNALS,
  type TestGateway,
  TOKENS,
} from '../test-helpers/gateway.js';

let gw: TestGateway;
beforeAll(async () => {
  gw = await makeGateway();
});
afterAll(async () => gw.cleanup());

async function listed(): Promise<number> {
  const page = await json(await request(gw, 'GET', '/v1/incidents?limit=100', { token: TOKENS.read }));
  return (page['incidents'] as unknown[]).length;
}

const CASES: [string, (raw: string) => string, RegExp][] = [
  [
    'a lone surrogate in a string',
    (raw) => raw.replace('"metadata":{', '"metadata":{"note":"lone \\ud800 surrogate",'),
    /metadata\.note: a string with a lone surrogate/,
  ],
  [
    'a "__proto__" member',
    (raw) => raw.replace('"metadata":{', '"metadata":{"__proto__":{"x":1},'),
    /metadata\["__proto__"\]: a member named __proto__/,
  ],
];

it.each(CASES)('an envelope with %s is a 400 naming it, and nothing is written', async (_what, edit, why) => {
  const env = SIGNALS.quota();
  const raw = edit(JSON.stringify(env));
  expect(raw).not.toBe(JSON.stringify(env));
  const before = await listed();
  const res = await request(gw, 'POST', '/v1/incidents', { token: TOKENS.submit, raw });
  const body = await json(res);
  expect(res.status).toBe(400);
  expect(body['error']).toMatchObject({ code: 'INVALID_ARGUMENT', message: expect.stringMatching(why) });
  expect(await listed()).toBe(before);
});

it('the same through a native webhook: a Kubernetes Event whose note holds a lone surrogate', async () => {
  const raw = fixtureText('kubernetes/events-v1-quota-exceeded.json')
    .replace('"note": "Error creating:', '"note": "\\ud800 Error creating:')
    .replace('a7c4e2f1-0d3b-4e96-8f25-c1b9d7e3a460', 'a7c4e2f1-0d3b-4e96-8f25-c1b9d7e3a461');
  const before = await listed();
  const res = await request(gw, 'POST', '/v1/webhooks/kubernetes', { token: TOKENS.submit, raw });
  expect(res.status).toBe(400);
  expect((await json(res))['error']).toMatchObject({ code: 'INVALID_ARGUMENT' });
  expect(await listed()).toBe(before);
});
