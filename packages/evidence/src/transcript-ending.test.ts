/**
 * What the Statement may claim of how an incident ended (transcript-ending.ts), as the party that
 * co-signs evidence (`evidence.outcome`) and `aaps-verify` (`transcript.outcome`) apply it: the
 * ending, strategy's decision, the people's approvals and rejection, and the action are what the
 * signed transcript says, and each refusal names the predicate field.
 */
import { describe, expect, it } from 'vitest';
import type { BuildBundleInput } from './bundle/build.js';
import type { JsonObject, TranscriptEnvelope } from './statement.js';
import {
  gatewaySigned,
  makeApprovedInput,
  makeEd25519Key,
  makeRoster,
  memberSigned,
  type TestRoster,
} from './test-helpers/fixtures.js';
import { judge } from './test-helpers/judge.js';

const group = makeEd25519Key();
const r = makeRoster();
const typeOf = (e: TranscriptEnvelope) => (e.meta as { message_type?: string }).message_type;

function approval(roster: TestRoster, incidentId: string, digest: string): JsonObject {
  return {
    action: 'configmap_reload',
    approved_at: '2026-11-25T15:00:03Z',
    approver_id: roster.approvers[0]!.id,
    decision: 'approve',
    expires_at: '2026-11-25T16:00:03Z',
    incident_id: incidentId,
    proposal_digest: digest,
    signature: 'ed25519:AAAA',
  };
}

/** A needs_human incident a person rejected: strategy's decision, then the signed rejection. */
async function rejected(): Promise<{ input: BuildBundleInput; rejection: JsonObject }> {
  const base = await makeApprovedInput(group, r, { incidentId: 'inc-r', strategyDecision: 'needs_human' });
  const rejection = {
    approver_id: r.approvers[0]!.id,
    decision: 'reject',
    incident_id: 'inc-r',
    reason: 'not during the freeze',
    rejected_at: '2026-11-25T15:00:04Z',
    signature: 'ed25519:AAAA',
  };
  const input: BuildBundleInput = {
    ...base,
    incident: {
      ...base.incident,
      state: 'rejected',
      human_rejection: {
        approver_id: rejection.approver_id,
        reason: rejection.reason,
        rejected_at: rejection.rejected_at,
      },
    },
    transcript: [...base.transcript, memberSigned(r.approvers[0]!, 'ApprovalDecision', rejection)],
  };
  return { input, rejection };
}

describe('the predicate says how the incident ended, as the transcript does', () => {
  it('passes honest endings: executed and resolved, refused by strategy, rejected by a person, approved by one', async () => {
    const executed = await makeApprovedInput(group, r, { incidentId: 'inc-e' });
    expect(
      await judge(group, r, { ...executed, incident: { ...executed.incident, state: 'resolved' } }),
    ).toMatchObject({ party: 'ok', verifier: 'valid' });
    const refused = await makeApprovedInput(group, r, { incidentId: 'inc-f', strategyDecision: 'refuse' });
    expect(
      await judge(group, r, { ...refused, incident: { ...refused.incident, state: 'rejected' } }),
    ).toMatchObject({ party: 'ok', verifier: 'valid' });
    expect(await judge(group, r, (await rejected()).input)).toMatchObject({ party: 'ok', verifier: 'valid' });
    const digest = (executed.decision as JsonObject).proposal_digest as string;
    const approved = approval(r, 'inc-e', digest);
    const order = executed.transcript.findIndex((e) => typeOf(e) === 'ExecutionOrder');
    const withApproval = {
      ...executed,
      humanApprovals: [approved],
      transcript: [
        ...executed.transcript.slice(0, order),
        memberSigned(r.approvers[0]!, 'ApprovalDecision', approved),
        ...executed.transcript.slice(order),
      ],
    };
    expect(await judge(group, r, withApproval)).toMatchObject({ party: 'ok', verifier: 'valid' });
  });

  it("refuses a rejected incident claimed resolved, automatic, approved by another incident's approval", async () => {
    const { input } = await rejected();
    const claims: Array<[string, Partial<BuildBundleInput>]> = [
      ['predicate.incident.state', { incident: { ...input.incident, state: 'resolved' } }],
      [
        'predicate.incident.human_rejection',
        { incident: { id: input.incident.id, type: input.incident.type, state: 'rejected' } },
      ],
      ['predicate.decision.outcome', { decision: { ...input.decision, outcome: 'auto' } }],
      ['predicate.decision.rule', { decision: { ...input.decision, rule: 'human_approval.required' } }],
      ['predicate.decision.risk_score', { decision: { ...input.decision, risk_score: 10 } }],
      [
        'predicate.humanApprovals[0]',
        {
          humanApprovals: [
            approval(r, 'inc-other', (input.decision as JsonObject).proposal_digest as string),
          ],
        },
      ],
      [
        'predicate.action',
        // Not the proposal strategy decided on (that, as {name, target}, is how bundles sealed
        // before action meant "executed" named it: see the next test).
        { action: { name: 'configmap_reload', target: 'configmap://payments/other-config' } },
      ],
    ];
    for (const [field, claim] of claims) {
      const got = await judge(group, r, { ...input, ...claim });
      expect({ field, party: got.party, verifier: got.verifier, named: got.message.includes(field) }).toEqual(
        {
          field,
          party: 'evidence.outcome',
          verifier: 'transcript.outcome',
          named: true,
        },
      );
    }
  });

  it('still verifies a bundle sealed before action meant executed: the decided proposal as {name, target}', async () => {
    const { input } = await rejected();
    const decided = (
      input.transcript.findLast(
        (e) => typeOf(e) === 'ApprovalDecision' && 'proposal' in (e.payload as JsonObject),
      )!.payload as { proposal: { action: string; target: string } }
    ).proposal;
    const old = { name: decided.action, target: decided.target };
    // Its audit summary said the same (the audit step wrote both from one value).
    const summaryOf = (action: JsonObject) => ({ ...input, action });
    expect(await judge(group, r, summaryOf(old))).toMatchObject({ party: 'ok', verifier: 'valid' });
    for (const action of [
      { ...old, target: 'configmap://payments/other' },
      { ...old, result: 'succeeded' },
      { ...old, executor: 'dry-run' },
    ]) {
      // Refused (a claim of execution may meet the approval check first).
      const got = await judge(group, r, summaryOf(action));
      expect(got.party, JSON.stringify(action)).not.toBe('ok');
      expect(got.verifier, JSON.stringify(action)).not.toBe('valid');
    }
  });

  it('holds the action and the ending to the last execution result', async () => {
    const executed = await makeApprovedInput(group, r, { incidentId: 'inc-x' });
    const result = executed.transcript.find((e) => typeOf(e) === 'ExecutionResult')!;
    const { incident_id, proposal_digest } = result.payload as JsonObject;
    const rollback = { done: false, detail: 'revert did not apply' };
    const undoFailed = gatewaySigned(r, 'maintenance-agent', 'ExecutionResult', {
      incident_id,
      proposal_digest,
      status: 'failed',
      rollback,
    });
    const failed: BuildBundleInput = {
      ...executed,
      incident: { ...executed.incident, state: 'failed' },
      transcript: [...executed.transcript, undoFailed],
      action: { ...(executed.action as JsonObject), result: 'failed', rollback },
    };
    expect(await judge(group, r, failed)).toMatchObject({ party: 'ok', verifier: 'valid' });
    // A bundle sealed before the undo was stated in the action has no rollback: not stated, valid.
    const before = { ...failed, action: { ...(executed.action as JsonObject), result: 'failed' } };
    expect(await judge(group, r, before)).toMatchObject({ party: 'ok', verifier: 'valid' });
    const claims: Array<[string, Partial<BuildBundleInput>]> = [
      ['action result', { action: { ...(failed.action as JsonObject), result: 'succeeded' } }],
      [
        'predicate.action.rollback',
        { action: { ...(failed.action as JsonObject), rollback: { done: true, detail: 'reverted' } } },
      ],
      [
        'predicate.action.target',
        { action: { ...(failed.action as JsonObject), target: 'configmap://x/y' } },
      ],
      ['predicate.incident.state', { incident: { ...failed.incident, state: 'resolved' } }],
      ['action result is missing', { action: null }],
    ];
    for (const [field, claim] of claims) {
      const got = await judge(group, r, { ...failed, ...claim });
      expect({ field, party: got.party, verifier: got.verifier, named: got.message.includes(field) }).toEqual(
        {
          field,
          party: 'evidence.outcome',
          verifier: 'transcript.outcome',
          named: true,
        },
      );
    }
  });

  it("names the quorum that approved what executed: the ExecutionOrder's signers, or nothing (older bundles)", async () => {
    const executed = await makeApprovedInput(group, r, { incidentId: 'inc-q' });
    const order = executed.transcript.findLast((e) => typeOf(e) === 'ExecutionOrder')!;
    const quorum = [...(order.payload as { approval: { signers: string[] } }).approval.signers];
    const input = { ...executed, incident: { ...executed.incident, state: 'resolved' } };
    const stating = (approved_by: unknown) => ({
      ...input,
      action: { ...(input.action as JsonObject), approved_by } as JsonObject,
    });
    // Stated sorted, whatever order the order lists them in; not stated (sealed before the field).
    expect(await judge(group, r, stating([...quorum].sort()))).toMatchObject({
      party: 'ok',
      verifier: 'valid',
    });
    expect(await judge(group, r, input)).toMatchObject({ party: 'ok', verifier: 'valid' });
    const other = r.roster.parties.map((p) => p.id).filter((id) => !quorum.includes(id));
    for (const claim of [
      [...quorum.slice(0, 2), other[0]!].sort(),
      quorum.slice(0, 2).sort(),
      [...quorum, other[0]!].sort(),
      [],
      'all of them',
    ]) {
      const got = await judge(group, r, stating(claim));
      expect({
        claim,
        party: got.party,
        verifier: got.verifier,
        named: got.message.includes('predicate.action.approved_by'),
      }).toEqual({
        claim,
        party: 'evidence.outcome',
        verifier: 'transcript.outcome',
        named: true,
      });
    }
  });

  it('still verifies a bundle sealed before incident.reason, incident.source_resolution and action.approved_by', async () => {
    const executed = await makeApprovedInput(group, r, { incidentId: 'inc-o' });
    const order = executed.transcript.findLast((e) => typeOf(e) === 'ExecutionOrder')!;
    const quorum = [...(order.payload as { approval: { signers: string[] } }).approval.signers].sort();
    const {
      reason: _r,
      source_resolution: _s,
      ...incident
    } = {
      ...executed.incident,
      state: 'resolved',
    } as JsonObject & { id: string; type: string };
    const { approved_by: _a, ...action } = executed.action as JsonObject;
    /** A bundle whose predicate states `stated`, beside the audit party's summary stating `summarised`. */
    const sealed = (stated: JsonObject, summarised: JsonObject, extra: JsonObject = {}) => ({
      ...executed,
      incident: { ...incident, ...extra } as BuildBundleInput['incident'],
      action: stated,
      transcript: [
        ...executed.transcript,
        memberSigned(r.parties[4]!, 'EvidenceBundleRef', {
          incident: { id: 'inc-o', state: 'resolved' },
          decision: executed.decision,
          action: summarised,
          times: executed.times,
        }),
      ],
    });
    // As sealed before the three fields: none in the predicate, none in the summary.
    expect(await judge(group, r, sealed(action, action))).toMatchObject({ party: 'ok', verifier: 'valid' });
    // As sealed now: the quorum in both, and the gateway's word on why it stopped and what its
    // source said (not in the transcript, so not checked: any value co-signs and verifies).
    const now = { ...action, approved_by: quorum };
    const gatewaysWord = {
      reason: { code: 'ANYTHING', message: 'the transcript holds nothing to hold this to' },
      source_resolution: { actor: 'source:alertmanager', received_at: '2026-11-25T15:00:09Z' },
    };
    expect(await judge(group, r, sealed(now, now, gatewaysWord))).toMatchObject({
      party: 'ok',
      verifier: 'valid',
    });
    // The predicate's action is the summary's, the quorum too: one stating it and not the other is refused.
    for (const [stated, summarised] of [
      [action, now],
      [now, action],
    ] as const) {
      const got = await judge(group, r, sealed(stated, summarised));
      expect({
        party: got.party,
        verifier: got.verifier,
        named: got.message.includes('predicate.action'),
      }).toEqual({
        party: 'evidence.outcome',
        verifier: 'transcript.outcome',
        named: true,
      });
    }
  });

  it("holds the predicate to the audit party's signed summary", async () => {
    const executed = await makeApprovedInput(group, r, { incidentId: 'inc-a' });
    const input = { ...executed, incident: { ...executed.incident, state: 'resolved' } };
    const summary = {
      incident: { id: 'inc-a', state: 'resolved' },
      decision: input.decision,
      action: input.action,
      times: input.times,
    };
    const withSummary = {
      ...input,
      transcript: [...input.transcript, memberSigned(r.parties[4]!, 'EvidenceBundleRef', summary)],
    };
    expect(await judge(group, r, withSummary)).toMatchObject({ party: 'ok', verifier: 'valid' });
    const times = { ...withSummary, times: { ...input.times, approved: '2026-11-25T15:00:09Z' } };
    expect(await judge(group, r, times)).toMatchObject({
      party: 'evidence.outcome',
      verifier: 'transcript.outcome',
      message: expect.stringContaining('predicate.times'),
    });
  });
});
