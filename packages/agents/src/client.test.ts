/** The client takes a refusal only as the party signed it, and the parties an error body names only as a claim. */
import { AapsError, generateIdentityKey, PolicyRefusal, ProtocolError, signEnvelope } from '@aaps/mpc-core';
import { describe, expect, it } from 'vitest';
import { PartyClient } from './client.js';
import { fiveParties, partyErrorResponse } from './party/test-helpers/five-parties.js';

const set = fiveParties();
const qa = set.roster.parties.find((p) => p.role === 'quality-assurance')!;
const qaIndex = set.roster.parties.indexOf(qa);
const qaKey = set.keys[qaIndex]!;

/** A client whose every call is answered 403 POLICY_REFUSED with `refusal` (or none). */
function answering(refusal: (requestBody: string) => unknown) {
  return new PartyClient({
    roster: set.roster,
    caller: { id: 'gateway', key: set.gatewayKey },
    fetch: async (_input, init) => {
      const body = {
        error: { code: 'POLICY_REFUSED', message: 'vetoed', rule: 'qa.veto' },
        refusal: refusal(String(init?.body)),
      };
      // The error answer itself is qa's, signed for this request; the refusal in it is the test's.
      return partyErrorResponse(set, qaIndex, String(init?.body), 403, body);
    },
  });
}

/** A refusal envelope like the party's, signed with `key`, of session `session`. */
function refusalSignedBy(key: typeof qaKey, requestBody: string, session = 's-1') {
  const request = JSON.parse(requestBody) as { meta: { idempotency_key: string } };
  return signEnvelope(
    {
      meta: {
        trace_id: 't',
        span_id: 's',
        timestamp: new Date().toISOString(),
        source_agent: qa.id,
        target_agent: 'gateway',
        message_type: 'ProtocolResponse',
        schema_version: 'v1.0.0',
        idempotency_key: 'r',
      },
      context: { namespace: 'n', cluster: 'c', urgency: 'P2', constraints_ref: 'r' },
      payload: {
        in_reply_to: request.meta.idempotency_key,
        kind: 'sign.round2',
        session_id: session,
        body: { refused: { rule: 'qa.veto', message: 'vetoed' } },
        outcome: 'refused',
      },
    },
    key.secretKey,
  );
}

const outcome = (client: PartyClient) =>
  client.call(qa.id, 'sign.round2', 's-1', {}).then(
    () => expect.unreachable('expected a rejection'),
    (e: unknown) => e,
  );

describe('PartyClient refusals', () => {
  it('a refusal the party signed is a PolicyRefusal naming its signed rule', async () => {
    const e = await outcome(answering((body) => refusalSignedBy(qaKey, body)));
    expect(e).toBeInstanceOf(PolicyRefusal);
    expect((e as PolicyRefusal).rule).toBe('qa.veto');
  });

  it('an unsigned refusal, one signed by another key, or a refusal of another session (replayed) is no refusal (INVALID_SIGNATURE)', async () => {
    for (const client of [
      answering(() => undefined),
      answering((body) => refusalSignedBy(generateIdentityKey(), body)),
      answering((body) => refusalSignedBy(qaKey, body, 's-0')),
    ]) {
      const e = await outcome(client);
      expect(e).not.toBeInstanceOf(PolicyRefusal);
      expect((e as { code?: string }).code).toBe('INVALID_SIGNATURE');
    }
  });
});

describe('PartyClient error bodies', () => {
  it('the parties an error body names are a claim (details.claimed_culprits), never culprits', async () => {
    const named = ['00'.repeat(32), 42, '01'.repeat(32), '00'.repeat(32)];
    const client = new PartyClient({
      roster: set.roster,
      caller: { id: 'gateway', key: set.gatewayKey },
      fetch: async (_input, init) =>
        partyErrorResponse(set, qaIndex, String(init?.body), 422, {
          error: { code: 'INVALID_DEALING', message: 'x', culprits: named },
        }),
    });
    const e = (await client.call(qa.id, 'agg.evaluate', 's-1', {}).then(
      () => expect.unreachable('expected a rejection'),
      (x: unknown) => x,
    )) as AapsError;
    expect(e).toBeInstanceOf(AapsError);
    expect(e).not.toBeInstanceOf(ProtocolError);
    expect(e.code).toBe('INVALID_DEALING');
    expect(e.details['culprits']).toBeUndefined();
    expect(e.details['claimed_culprits']).toEqual(['00'.repeat(32), '01'.repeat(32)]);
    expect(e.details['party']).toBe(qa.id);
  });

  it('keeps what failed, as the party said it: the fields and the check (bounded), for the record', async () => {
    const client = new PartyClient({
      roster: set.roster,
      caller: { id: 'gateway', key: set.gatewayKey },
      fetch: async (_input, init) =>
        partyErrorResponse(set, qaIndex, String(init?.body), 400, {
          error: {
            code: 'VERIFICATION_FAILED',
            message: 'malformed record',
            fields: ['record.threshold', 7, 'x'.repeat(500)],
            details: { check: 'aggregation.format' },
          },
        }),
    });
    const e = (await client.call(qa.id, 'agg.confirm', 's-2', {}).then(
      () => expect.unreachable('expected a rejection'),
      (x: unknown) => x,
    )) as AapsError;
    expect(e.code).toBe('VERIFICATION_FAILED');
    expect(e.details['fields']).toEqual(['record.threshold', 'x'.repeat(200)]);
    expect(e.details['check']).toBe('aggregation.format');
  });
});
