/**
 * Only what a role emits (`ROLE_OUTPUT_TYPES`, the user's permission table: monitoring writes no
 * verification report) joins an incident's transcript. A monitoring party that also returns a
 * `VerificationReport` it signed (compromised or buggy) fails the incident with
 * `INCONSISTENT_TRANSCRIPT`, and the evidence sealed for it holds no out-of-role envelope.
 */
import { PARTY_ROLES, ROLE_OUTPUT_TYPES } from '@aaps/agents';
import { type SignedEnvelope, signEnvelope } from '@aaps/mpc-core';
import { afterAll, beforeAll, expect, it } from 'vitest';
import {
  delegating,
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
  gw = await makeGateway({
    wrap: (c) =>
      delegating(c, {
        agentStep: async (role, input) => {
          const out = await c.agentStep(role, input);
          if (role !== 'monitoring') return out;
          // The monitoring party's own key (as a compromised or buggy monitoring party would sign).
          const { secretKey } = localPartyIdentity(c, 'monitoring').key;
          const first = out[0]!;
          const extra = signEnvelope(
            {
              meta: {
                ...first.meta,
                message_type: 'VerificationReport',
                idempotency_key: `${input.incidentId}:extra`,
              },
              context: first.context,
              payload: { incident_id: input.incidentId, verdict: 'pass', stages: [], vetoed_by: [] },
            },
            secretKey,
          );
          return [...out, extra as SignedEnvelope];
        },
      }),
  });
});
afterAll(async () => gw.cleanup());

it('a step output outside its role fails the incident, and no out-of-role envelope is sealed', async () => {
  const res = await request(gw, 'POST', '/v1/incidents', { token: TOKENS.submit, body: SIGNALS.quota() });
  expect(res.status).toBe(202);
  const id = String((await json(res))['incident_id']);
  await gw.runner.idle();
  const inc = await json(await request(gw, 'GET', `/v1/incidents/${id}`, { token: TOKENS.read }));
  const last = (inc['timeline'] as { event: string; detail?: { code?: string } }[]).at(-1);
  expect({ state: inc['state'], event: last?.event, code: last?.detail?.code }).toEqual({
    state: 'failed',
    event: 'failed',
    code: 'INCONSISTENT_TRANSCRIPT',
  });
  expect(inc['evidence_id']).toMatch(/^[0-9a-f]{64}$/);
  const bundle = await json(
    await request(gw, 'GET', `/v1/evidence/${String(inc['evidence_id'])}`, { token: TOKENS.read }),
  );
  const outOfRole = (bundle['transcript'] as SignedEnvelope[])
    .filter((e) => (PARTY_ROLES as readonly string[]).includes(e.meta.source_agent))
    .filter(
      (e) =>
        !(
          ROLE_OUTPUT_TYPES[e.meta.source_agent as (typeof PARTY_ROLES)[number]] as readonly string[]
        ).includes(e.meta.message_type),
    )
    .map((e) => `${e.meta.source_agent}:${e.meta.message_type}`);
  expect(outOfRole).toEqual([]);
});
