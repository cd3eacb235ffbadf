/**
 * The start-up resume of interrupted unseals (`finishInterruptedUnseals`, run in the background
 * by `startGateway` once the server already takes requests) must not take an unseal that is live
 * in this very process for an interrupted one: one request gets one end in the log, "answered",
 * never an "interrupted" end beside it (a false record: the parties did answer).
 */
import { type SealedField, SealedFieldCodec } from '@aaps/mpc-core';
import { afterAll, describe, expect, it } from 'vitest';
import {
  delegating,
  json,
  makeGateway,
  request,
  SIGNALS,
  type TestGateway,
  TOKENS,
} from '../test-helpers/gateway.js';
import { signedUnsealRequest } from '../test-helpers/unseal-request.js';

function statementOf(bundle: { dsseEnvelope: { payload: string } }) {
  return JSON.parse(Buffer.from(bundle.dsseEnvelope.payload, 'base64').toString('utf8')) as {
    predicate: { incident: { type: string; request_id?: string }; decision: { outcome: string } };
  };
}

describe('a live unseal and the start-up resume of interrupted unseals', () => {
  const gateways: TestGateway[] = [];
  afterAll(async () => {
    for (const g of gateways.reverse()) await g.cleanup();
  });

  it('gives one request one end in the log, not an "interrupted" end beside the answered one', async () => {
    // The parties' call is held until the test lets it go: the request is then logged and listed.
    let asked: () => void = () => {};
    const askedP = new Promise<void>((r) => {
      asked = r;
    });
    let letGo: () => void = () => {};
    const gate = new Promise<void>((r) => {
      letGo = r;
    });
    const gw = await makeGateway({
      config: { sealing: {} },
      wrap: (c) => ({
        ...delegating(c),
        trustedKeys: () => c.trustedKeys(),
        releaseSealed: async (input) => {
          asked();
          await gate;
          return c.releaseSealed(input);
        },
      }),
    });
    gateways.push(gw);
    const res = await request(gw, 'POST', '/v1/incidents', {
      token: TOKENS.submit,
      body: SIGNALS.quota({ container: { name: 'web', env: [{ name: 'DB_URL', value: 'canary-race-1' }] } }),
    });
    const incidentId = String((await json(res))['incident_id']);
    await gw.runner.idle();
    const record = await gw.store.getIncident(incidentId);
    const evidenceId = String(record?.evidence_id);
    const fields: SealedField[] = (record?.sealed?.fields ?? []).map((f) => SealedFieldCodec.fromJSON(f));
    expect(fields.length).toBeGreaterThan(0);
    const req = signedUnsealRequest(gw.approverKey, {
      request_id: 'ur-live-vs-resume',
      incident_id: incidentId,
      evidence_id: evidenceId,
      fields: fields.map((f) => f.id),
    });
    const sizeBefore = await gw.evidence.logSize();
    const live = request(gw, 'POST', `/v1/evidence/${evidenceId}/unseal`, {
      token: TOKENS.approve,
      body: { request: req },
    });
    await askedP;
    // The live request is pending in the store now; the start-up resume runs meanwhile.
    const resumed = await gw.finishInterruptedUnseals();
    letGo();
    const answer = await live;
    expect(answer.status).toBe(200);

    // Every log entry this unseal added, by outcome.
    const sizeAfter = await gw.evidence.logSize();
    const outcomes: string[] = [];
    for (let i = sizeBefore; i < sizeAfter; i++) {
      const id = await gw.store.evidenceIdAt(i);
      const bundle = id === undefined ? undefined : await gw.store.getEvidence(id);
      if (bundle === undefined) continue;
      const st = statementOf(bundle);
      if (st.predicate.incident.request_id === req.request_id) outcomes.push(st.predicate.decision.outcome);
    }
    // Nothing was interrupted: the resume should have left the live request alone.
    expect(outcomes.sort()).toEqual(['unseal-answered', 'unseal-requested']);
    expect(resumed).toBe(0);
  });
});
