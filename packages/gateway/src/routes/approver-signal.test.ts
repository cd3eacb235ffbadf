/**
 * An `IncidentSignal` signed by a roster approver is refused at intake (403), and nothing is
 * written: an approver's key signs a person's decisions only, and every party refuses evidence
 * whose transcript holds anything else it signed, so a signal taken from one ran its fix and could
 * never be sealed.
 */
import { signEnvelope } from '@aaps/mpc-core';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { json, makeGateway, request, SIGNALS, type TestGateway, TOKENS } from '../test-helpers/gateway.js';

let gw: TestGateway;
beforeAll(async () => {
  gw = await makeGateway();
});
afterAll(async () => gw.cleanup());

it('an IncidentSignal signed by a roster approver is a 403 naming the rule, and nothing is written', async () => {
  const base = SIGNALS.quota();
  const env = signEnvelope(
    { ...base, meta: { ...base.meta, source_agent: 'alice' } },
    gw.approverKey.secretKey,
  );
  const res = await request(gw, 'POST', '/v1/incidents', { token: TOKENS.submit, body: env });
  expect(res.status).toBe(403);
  expect((await json(res))['error']).toMatchObject({
    code: 'FORBIDDEN',
    message: expect.stringMatching(/alice is an approver/),
  });
  const page = await json(await request(gw, 'GET', '/v1/incidents', { token: TOKENS.read }));
  expect(page['incidents']).toEqual([]);
});
