/**
 * An unseal cut short by the gateway stopping: the request is in the log, the parties' answers
 * are not. The incident lists the unseal with `release_evidence_id: null` from the moment its
 * request is stored; the next start records that it was interrupted, so every request in the log
 * has its end in the log, and the record verifies like any bundle.
 */
import {
  generateIdentityKey,
  SCHEMA_VERSION,
  type SealedField,
  SealedFieldCodec,
  type SignedEnvelope,
  signEnvelope,
} from '@aaps/mpc-core';
import { afterAll, describe, expect, it } from 'vitest';
import {
  delegating,
  incident,
  json,
  makeGateway,
  request,
  SIGNALS,
  type TestGateway,
  TOKENS,
  verifyServedBundle,
} from '../test-helpers/gateway.js';
import { signedUnsealRequest } from '../test-helpers/unseal-request.js';

const SECRET = 'canary-env-value-interrupted-0001';

function statementOf(bundle: { dsseEnvelope: { payload: string } }) {
  return JSON.parse(Buffer.from(bundle.dsseEnvelope.payload, 'base64').toString('utf8')) as {
    predicate: { incident: { type: string; request_id: string }; decision: { outcome: string } };
  };
}

describe('an unseal interrupted by a gateway restart', () => {
  const approverKey = generateIdentityKey();
  const gateways: TestGateway[] = [];
  afterAll(async () => {
    for (const g of gateways.reverse()) await g.cleanup();
  });

  function unsealRequest(incidentId: string, evidenceId: string, fields: SealedField[], id: string) {
    return signedUnsealRequest(approverKey, {
      request_id: id,
      incident_id: incidentId,
      evidence_id: evidenceId,
      fields: fields.map((f) => f.id),
    });
  }

  type Listed = { request_evidence_id: string; release_evidence_id: string | null };

  /**
   * A gateway that stops while the parties answer (its call to them never returns), with an
   * incident's unseal `requestId` sent and waited for until its request is logged and listed.
   */
  async function stoppedMidUnseal(requestId: string) {
    const stopped = await makeGateway({
      config: { sealing: {} },
      approverKey,
      wrap: (c) => ({
        ...delegating(c),
        trustedKeys: () => c.trustedKeys(),
        releaseSealed: () => new Promise(() => {}),
      }),
    });
    gateways.push(stopped);
    const res = await request(stopped, 'POST', '/v1/incidents', {
      token: TOKENS.submit,
      body: SIGNALS.quota({ container: { name: 'web', env: [{ name: 'DB_URL', value: SECRET }] } }),
    });
    const incidentId = String((await json(res))['incident_id']);
    await stopped.runner.idle();
    const record = await stopped.store.getIncident(incidentId);
    const evidenceId = String(record?.evidence_id);
    const fields = (record?.sealed?.fields ?? []).map((f) => SealedFieldCodec.fromJSON(f));
    expect(fields.length).toBeGreaterThan(0);
    const req = unsealRequest(incidentId, evidenceId, fields, requestId);
    void request(stopped, 'POST', `/v1/evidence/${evidenceId}/unseal`, {
      token: TOKENS.approve,
      body: { request: req },
    });
    // Wait until the parties are being asked: the request is then logged and listed.
    let listed = undefined as Listed | undefined;
    for (let i = 0; i < 200 && listed === undefined; i++) {
      await new Promise((r) => setTimeout(r, 25));
      const shown = (await incident(stopped, incidentId))['unseals'] as Listed[] | undefined;
      const entry = shown?.[0];
      if (
        entry !== undefined &&
        (await stopped.store.getEvidence(entry.request_evidence_id))?.transparencyLog
      )
        listed = entry;
    }
    expect(listed).toMatchObject({ release_evidence_id: null });
    return { stopped, incidentId, evidenceId, fields, req, listed: listed! };
  }

  /** The next start of `stopped`'s gateway, on the same database and keys. */
  async function restart(stopped: TestGateway): Promise<TestGateway> {
    await stopped.close();
    const next = await makeGateway({
      dir: stopped.dir,
      gatewayKey: stopped.gatewayKey,
      approverKey,
      material: stopped.coordinator.exportMaterial(),
      config: { sealing: {} },
    });
    gateways.push(next);
    return next;
  }

  it('starts no entry once the resume is told to stop, and leaves it pending for the next start', async () => {
    const { stopped, incidentId, req } = await stoppedMidUnseal('ur-interrupted-abort');
    const next = await restart(stopped);
    const stop = new AbortController();
    stop.abort();
    expect(await next.finishInterruptedUnseals(stop.signal)).toBe(0);
    expect(await next.store.pendingUnseals()).toEqual([{ requestId: req.request_id, incidentId }]);
    expect(await next.finishInterruptedUnseals()).toBe(1);
    expect(await next.store.pendingUnseals()).toEqual([]);
  });

  it('is listed unanswered once its request is logged, and recorded as interrupted at the next start', async () => {
    const { stopped, incidentId, evidenceId, req, listed } = await stoppedMidUnseal('ur-interrupted-1');
    expect(await stopped.store.pendingUnseals()).toEqual([{ requestId: req.request_id, incidentId }]);
    const requested = await stopped.store.getEvidence(listed.request_evidence_id);
    expect(statementOf(requested!).predicate.decision.outcome).toBe('unseal-requested');
    const next = await restart(stopped);
    expect(await next.finishInterruptedUnseals()).toBe(1);
    const after = (await next.store.getIncident(incidentId))?.unseals ?? [];
    expect(after).toHaveLength(1);
    expect(after[0]!.request_evidence_id).toBe(listed.request_evidence_id);
    const endId = after[0]!.release_evidence_id;
    expect(endId).toMatch(/^[0-9a-f]{64}$/);
    const end = await next.store.getEvidence(endId!);
    const statement = statementOf(end!);
    expect(statement.predicate.incident).toMatchObject({ type: 'unseal', request_id: req.request_id });
    expect(statement.predicate.decision.outcome).toBe('unseal-interrupted');
    expect(end!.transcript.map((e) => (e.payload as { type?: string }).type)).toEqual([
      'UnsealRequested',
      'UnsealInterrupted',
    ]);
    // Served and verified like any bundle; the request's id stays used.
    const served = await request(next, 'GET', `/v1/evidence/${endId}`, { token: TOKENS.read });
    expect(served.status).toBe(200);
    expect((await verifyServedBundle(next, await served.json())).incidentId).toBe(incidentId);
    expect(await next.store.pendingUnseals()).toEqual([]);
    expect(await next.finishInterruptedUnseals()).toBe(0);
    const again = await request(next, 'POST', `/v1/evidence/${evidenceId}/unseal`, {
      token: TOKENS.approve,
      body: { request: req },
    });
    expect(again.status).toBe(409);
  });

  it('puts a request stored before its log append into the log first', async () => {
    const gw = await makeGateway({ config: { sealing: {} }, approverKey });
    gateways.push(gw);
    const res = await request(gw, 'POST', '/v1/incidents', {
      token: TOKENS.submit,
      body: SIGNALS.quota({ container: { name: 'web', env: [{ name: 'DB_URL', value: SECRET }] } }),
    });
    const incidentId = String((await json(res))['incident_id']);
    await gw.runner.idle();
    const record = (await gw.store.getIncident(incidentId))!;
    const fields = (record.sealed?.fields ?? []).map((f) => SealedFieldCodec.fromJSON(f));
    const req = unsealRequest(incidentId, String(record.evidence_id), fields, 'ur-interrupted-2');
    // What the route stores before the append: the signed request record, not in the log.
    const requested = signEnvelope(
      {
        meta: {
          trace_id: record.trace_id,
          span_id: `unseal-${req.request_id}-requested`,
          timestamp: new Date().toISOString(),
          source_agent: 'gateway',
          target_agent: 'audit',
          message_type: 'EvidenceBundleRef',
          schema_version: SCHEMA_VERSION,
          idempotency_key: `unseal-${req.request_id}-requested`,
        },
        context: record.context,
        payload: { type: 'UnsealRequested', request: req },
      },
      gw.gatewayKey.secretKey,
    ) as SignedEnvelope;
    const signed = await gw.evidence.signRecord({
      incident: { id: incidentId, type: 'unseal', request_id: req.request_id },
      decision: { outcome: 'unseal-requested' },
      times: { requested: new Date().toISOString() },
      transcript: [requested],
    });
    const size = await gw.evidence.logSize();
    await gw.store.putEvidence(signed.evidenceId, signed.bundle, {
      ...record,
      unseals: [
        {
          request_id: req.request_id,
          requester: 'alice',
          request_evidence_id: signed.evidenceId,
          release_evidence_id: null,
        },
      ],
    });
    expect(await gw.finishInterruptedUnseals()).toBe(1);
    expect(await gw.evidence.logSize()).toBe(size + 2);
    const logged = await gw.store.getEvidence(signed.evidenceId);
    expect(logged?.transparencyLog?.logIndex).toBe(size);
  });

  it("gets its end in the log without a restart when the parties' call fails", async () => {
    const g = await makeGateway({
      config: { sealing: {} },
      approverKey,
      wrap: (c) => ({
        ...delegating(c),
        trustedKeys: () => c.trustedKeys(),
        releaseSealed: () => Promise.reject(new Error('party link dropped')),
      }),
    });
    gateways.push(g);
    const res = await request(g, 'POST', '/v1/incidents', {
      token: TOKENS.submit,
      body: SIGNALS.quota({ container: { name: 'web', env: [{ name: 'DB_URL', value: SECRET }] } }),
    });
    const incidentId = String((await json(res))['incident_id']);
    await g.runner.idle();
    const record = await g.store.getIncident(incidentId);
    const evidenceId = String(record?.evidence_id);
    const fields = (record?.sealed?.fields ?? []).map((f) => SealedFieldCodec.fromJSON(f));
    const req = unsealRequest(incidentId, evidenceId, fields, 'ur-failed-3');
    const r = await request(g, 'POST', `/v1/evidence/${evidenceId}/unseal`, {
      token: TOKENS.approve,
      body: { request: req },
    });
    expect(r.status).toBeGreaterThanOrEqual(500);
    // Its end is in the log at once: the parties could not be asked.
    expect(await g.store.pendingUnseals()).toEqual([]);
    const ended = (await g.store.getIncident(incidentId))?.unseals?.[0];
    const end = await g.store.getEvidence(String(ended?.release_evidence_id));
    expect(statementOf(end!).predicate.decision.outcome).toBe('unseal-failed');
    expect(end!.transparencyLog).toBeDefined();
    expect((await verifyServedBundle(g, JSON.parse(JSON.stringify(end)))).incidentId).toBe(incidentId);
  });

  it("a stop between an end's append and its store does not give the request a second end", async () => {
    const { stopped, incidentId } = await stoppedMidUnseal('ur-interrupted-4');
    const next = await restart(stopped);
    // The process stops again after the interrupted record is in the log, before the incident
    // names it (here: that store write fails once).
    const put = next.store.putEvidence.bind(next.store);
    let failed = false;
    (next.store as { putEvidence: typeof put }).putEvidence = async (id, bundle, inc) => {
      if (!failed && inc.unseals?.some((u) => u.release_evidence_id !== null)) {
        failed = true;
        throw new Error('stopped');
      }
      return put(id, bundle, inc);
    };
    await expect(next.finishInterruptedUnseals()).rejects.toThrow('stopped');
    (next.store as { putEvidence: typeof put }).putEvidence = put;
    const logSize = async () => {
      let n = 0;
      while ((await next.store.evidenceIdAt(n)) !== undefined) n++;
      return n;
    };
    const size = await logSize();
    // The retry (the next start) must not log a second end for the same request.
    await next.finishInterruptedUnseals();
    const endId = (await next.store.getIncident(incidentId))?.unseals?.[0]?.release_evidence_id;
    const end = await next.store.getEvidence(String(endId));
    // `size` is the index the first interrupted record took (nothing else was logged since):
    // the retry should have kept that one, not appended another.
    expect(size).toBeGreaterThan(0);
    expect(end?.transparencyLog?.logIndex).toBe(size);
  });

  it('one unseal whose end cannot be recorded does not keep the others waiting', async () => {
    const { stopped, incidentId, evidenceId, fields } = await stoppedMidUnseal('ur-interrupted-5');
    const second = unsealRequest(incidentId, evidenceId, fields, 'ur-interrupted-6');
    void request(stopped, 'POST', `/v1/evidence/${evidenceId}/unseal`, {
      token: TOKENS.approve,
      body: { request: second },
    });
    for (let i = 0; i < 200 && (await stopped.store.pendingUnseals()).length < 2; i++)
      await new Promise((r) => setTimeout(r, 25));
    expect((await stopped.store.pendingUnseals()).map((p) => p.requestId).sort()).toEqual([
      'ur-interrupted-5',
      'ur-interrupted-6',
    ]);
    const next = await restart(stopped);
    // The first one's end cannot be stored (once); the second still gets its end in this call.
    const put = next.store.putEvidence.bind(next.store);
    let failed = false;
    (next.store as { putEvidence: typeof put }).putEvidence = async (id, bundle, inc) => {
      const first = inc.unseals?.find((u) => u.request_id === 'ur-interrupted-5');
      if (!failed && first?.end_evidence_id !== undefined) {
        failed = true;
        throw new Error('store refused');
      }
      return put(id, bundle, inc);
    };
    await expect(next.finishInterruptedUnseals()).rejects.toThrow('store refused');
    expect((await next.store.pendingUnseals()).map((p) => p.requestId)).toEqual(['ur-interrupted-5']);
    (next.store as { putEvidence: typeof put }).putEvidence = put;
    expect(await next.finishInterruptedUnseals()).toBe(1);
    expect(await next.store.pendingUnseals()).toEqual([]);
    const ends = ((await next.store.getIncident(incidentId))?.unseals ?? []).map(
      (u) => u.release_evidence_id,
    );
    expect(ends).toHaveLength(2);
    expect(ends.every((e) => typeof e === 'string')).toBe(true);
  });
});
