/**
 * A signed `IncidentSignal` at intake: of the parties, only the monitoring party signs one (each
 * role signs its own outputs into a transcript, and the parties refuse evidence in which one
 * signed another's), so a signal the strategy party signed is a 403 and nothing is written; a
 * monitoring-signed signal is kept under its signature and sealed, also when its payload carries
 * the source's own `incident_id` (the intake signal is what a source reported, before the
 * incident had its id).
 */
import { signEnvelope } from '@aaps/mpc-core';
import { afterAll, beforeAll, expect, it } from 'vitest';
import {
  json,
  localPartyIdentity,
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

async function submitSignedBy(role: 'strategy' | 'monitoring', extra: Record<string, unknown> = {}) {
  const base = SIGNALS.quota();
  const who = localPartyIdentity(gw.coordinator, role);
  const env = signEnvelope(
    { ...base, meta: { ...base.meta, source_agent: who.id }, payload: { ...base.payload, ...extra } },
    who.key.secretKey,
  );
  return request(gw, 'POST', '/v1/incidents', { token: TOKENS.submit, body: env });
}

it('a signal signed by the strategy party is a 403 naming the rule, and nothing is written', async () => {
  const res = await submitSignedBy('strategy');
  expect(res.status).toBe(403);
  expect((await json(res))['error']).toMatchObject({
    code: 'FORBIDDEN',
    message: expect.stringMatching(/strategy party, which does not sign incident signals/),
  });
  const page = await json(await request(gw, 'GET', '/v1/incidents', { token: TOKENS.read }));
  expect(page['incidents']).toEqual([]);
});

it.each([
  ['without', {}],
  ["with the source's own incident_id in its payload", { incident_id: 'EXT-4711' }],
])('a monitoring-signed signal %s runs, keeps its signature, and is sealed', async (_what, extra) => {
  const res = await submitSignedBy('monitoring', extra);
  expect(res.status).toBe(202);
  const id = String((await json(res))['incident_id']);
  await gw.runner.idle();
  const record = await gw.store.getIncident(id);
  expect(record?.transcript[0]?.meta.source_agent).toBe('monitoring');
  expect(record?.state).toBe('resolved');
  expect(record?.evidence_id).toMatch(/^[0-9a-f]{64}$/);
});
