/**
 * A party co-signs evidence only when each party's envelope in the transcript is its role's output,
 * by the roles its own roster.json names (`evidence.transcript`): another role's output signed by
 * a party is refused even when it is that party's only message (which nothing but the roles tells
 * apart). Driven in process through the party app and the real client.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  type Envelope,
  getCiphersuite,
  type MessageType,
  Round1CommitmentBatchCodec,
  signEnvelope,
} from '@aaps/mpc-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { PartyClient } from '../../client.js';
import { LOW_RISK, proposalFor } from '../../policy/test-helpers/fixtures.js';
import type { PartyStore } from '../../store/level.js';
import {
  dealtPartyApps,
  evidenceRoundTwo,
  type FiveParties,
  needsHumanStatement,
  strategyDecision,
} from '../test-helpers/five-parties.js';

function envelope(source: string, type: MessageType, payload: Record<string, unknown>): Envelope {
  return {
    meta: {
      trace_id: 'trace-inc-ev-roles',
      span_id: `span-${source}-${type}`,
      timestamp: '2026-11-26T12:00:01Z',
      source_agent: source,
      target_agent: 'gateway',
      message_type: type,
      schema_version: 'v1.0.0',
      idempotency_key: `idem-${source}-${type}`,
    },
    context: {
      namespace: 'shop',
      cluster: 'prod-eu-1',
      urgency: 'P2',
      constraints_ref: 'policy://risk-management/v1',
    },
    payload: payload as never,
  };
}

const suite = getCiphersuite('FROST-ED25519-SHA512-v1');
let groupPublicKey: Uint8Array;
let dir: string;
const stores: PartyStore[] = [];
let set: FiveParties;
let client: PartyClient;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'aaps-ev-signers-'));
  ({ set, client, groupPublicKey } = await dealtPartyApps({ dir, stores }));
});

afterAll(async () => {
  await Promise.all(stores.map((s) => s.close()));
  rmSync(dir, { recursive: true, force: true });
});

/**
 * A valid evidence Statement (no action, no aggregation) naming parties 0-2 as its signers, over
 * strategy's decision and then `extra` (envelopes of parties `extra` names, by role).
 */
function evidenceWith(extra: { role: string; type: MessageType; payload: Record<string, unknown> }[]) {
  const incident = 'inc-ev-roles';
  const named = [0, 1, 2];
  const proposal = proposalFor('image_rollback', { incident_id: incident }, LOW_RISK);
  const decision = strategyDecision(set, incident, proposal, 'review');
  const transcript = [
    JSON.parse(JSON.stringify(decision)),
    ...extra.map((e) => {
      const i = set.roster.parties.findIndex((p) => p.role === e.role);
      return signEnvelope(envelope(set.roster.parties[i]!.id, e.type, e.payload), set.keys[i]!.secretKey);
    }),
  ];
  const payload = needsHumanStatement(set, {
    incident,
    proposal,
    transcript,
    signers: named.map((i) => set.roster.parties[i]!.id),
    groupPublicKey,
  });
  return { payload, transcript };
}

/** Party 0's round two, with fresh commitments from parties 0-2, over {@link evidenceWith}(extra). */
async function sign(extra: Parameters<typeof evidenceWith>[0], session: string) {
  const { payload, transcript } = evidenceWith(extra);
  const commitments = await Promise.all(
    [0, 1, 2].map(async (i) => {
      const id = set.roster.parties[i]!.id;
      const drawn = await client.call<{ commitments: unknown }>(id, 'sign.commit', session, { count: 1 });
      return Round1CommitmentBatchCodec.fromJSON(drawn.commitments, suite.id).value.commitments[0]!;
    }),
  );
  return evidenceRoundTwo(client, set.roster.parties[0]!.id, session, commitments, payload, transcript);
}

/** The rule a refused round two names, or `signed`. */
const outcomeOf = (signing: Promise<unknown>) =>
  signing.then(
    () => 'signed',
    (e: { code?: string; rule?: string }) => e.rule ?? e.code,
  );

describe("evidence round two: each party's envelope is its role's output", () => {
  it("signs the transcript with the audit party's summary (its role's output)", async () => {
    const summary = {
      role: 'audit',
      type: 'EvidenceBundleRef' as const,
      payload: { incident_id: 'inc-ev-roles' },
    };
    expect(await outcomeOf(sign([summary], 'ev-roles-ok'))).toBe('signed');
  });

  it("refuses, as evidence.transcript, the audit party's signature on another role's output", async () => {
    // Its only message: only the party's roster roles tell it from the audit party's own output.
    // (A VerificationReport is held to the same rule: transcript-authority.test.ts in @aaps/evidence.)
    const rca = { role: 'audit', type: 'RCAReport' as const, payload: { incident_id: 'inc-ev-roles' } };
    expect(await outcomeOf(sign([rca], 'ev-roles-audit-rca'))).toBe('evidence.transcript');
  });
});
