/**
 * The transcript's authority and outcome rules (transcript-authority.ts), as the party that
 * co-signs evidence (`checkEvidenceForSigning`) and `aaps-verify` apply them: each refusal names
 * the same rule on both sides, and every honest way an incident ends still passes both.
 */
import type { MessageType } from '@aaps/mpc-core';
import { describe, expect, it } from 'vitest';
import type { BuildBundleInput } from './bundle/build.js';
import type { JsonObject, TranscriptEnvelope } from './statement.js';
import {
  gatewaySigned,
  makeApprovedInput,
  makeEd25519Key,
  memberSigned,
  rosterOf,
  type TestRoster,
} from './test-helpers/fixtures.js';
import { judge } from './test-helpers/judge.js';
import { PARTY_ROLE_MESSAGE_TYPES, type PartyRoles } from './transcript-authority.js';

/** One party per role, with ids that do not name their roles (`p1`..`p5`), and the roles apart. */
function roster(): TestRoster & { roles: PartyRoles } {
  const roles = ['monitoring', 'problem-solver', 'strategy', 'quality-assurance', 'audit'];
  const r = rosterOf(
    roles.map((_, i) => `p${i + 1}`),
    'oncall',
  );
  return { ...r, roles: Object.fromEntries(r.parties.map((p, i) => [p.id, roles[i]!])) };
}

const typeOf = (e: TranscriptEnvelope) => (e.meta as { message_type?: string }).message_type;

/** Quality assurance's (party index 3) report on the approved input's executed proposal. */
function report(r: TestRoster, input: BuildBundleInput, verdict: 'pass' | 'veto'): TranscriptEnvelope {
  const order = input.transcript.find((e) => typeOf(e) === 'ExecutionOrder')!;
  const { incident_id, proposal } = order.payload as { incident_id: string; proposal: JsonObject };
  return memberSigned(r.parties[3]!, 'VerificationReport', {
    incident_id,
    proposal_digest: proposal.proposal_digest!,
    stages: [{ name: 'security_scan', status: verdict === 'pass' ? 'pass' : 'fail', mandatory: true }],
    verdict,
    vetoed_by: verdict === 'pass' ? [] : ['security_scan'],
  });
}

/** The gateway's record of the execution's undo (`rolled_back`, or `failed` when it could not be). */
function undo(r: TestRoster, input: BuildBundleInput, status: 'rolled_back' | 'failed', cause: JsonObject) {
  const result = input.transcript.find((e) => typeOf(e) === 'ExecutionResult')!;
  const { incident_id, proposal_digest } = result.payload as { incident_id: string; proposal_digest: string };
  return gatewaySigned(r, 'maintenance-agent', 'ExecutionResult', {
    incident_id,
    proposal_digest,
    status,
    cause,
  });
}

/** `input` with its last envelope (quality assurance's passing report) replaced by `tail`. */
function ending(input: BuildBundleInput, tail: TranscriptEnvelope[], claims: Partial<BuildBundleInput>) {
  return { ...input, transcript: [...input.transcript.slice(0, -1), ...tail], ...claims } as BuildBundleInput;
}

const vetoed = { verdict: 'veto', vetoed_by: ['security_scan'], stages: [] } as JsonObject;

describe('transcript authority and outcome: honest endings pass both sides', () => {
  it('passes a verified change, a veto rolled back, a veto whose rollback failed, and a verification not completed', async () => {
    const group = makeEd25519Key();
    const r = roster();
    const input = await makeApprovedInput(group, r, { incidentId: 'inc-1' });
    const action = input.action as JsonObject;
    const endings: BuildBundleInput[] = [
      input,
      ending(
        input,
        [report(r, input, 'veto'), undo(r, input, 'rolled_back', { vetoed_by: ['security_scan'] })],
        {
          verification: vetoed,
          action: { ...action, result: 'rolled_back' },
        },
      ),
      // The rollback could not be done: the vetoed change stays, and the action result is the last
      // result's, `failed` (not the execution's `succeeded`).
      ending(input, [report(r, input, 'veto'), undo(r, input, 'failed', { vetoed_by: ['security_scan'] })], {
        verification: vetoed,
        action: { ...action, result: 'failed' },
      }),
      // Verification could not be completed: no report, the gateway's undo instead.
      ending(input, [undo(r, input, 'rolled_back', { verification: 'not completed' })], {
        verification: null,
        action: { ...action, result: 'rolled_back' },
      }),
    ];
    for (const e of endings) {
      expect(await judge(group, r, e, r.roles)).toMatchObject({ party: 'ok', verifier: 'valid' });
      expect(await judge(group, r, e)).toMatchObject({ party: 'ok', verifier: 'valid' });
    }
  });

  it('passes an execution that failed (nothing to verify) and an incident refused before any execution', async () => {
    const group = makeEd25519Key();
    const r = roster();
    const input = await makeApprovedInput(group, r, { incidentId: 'inc-2' });
    const failed = structuredClone(input.transcript.slice(0, -2));
    const result = input.transcript.find((e) => typeOf(e) === 'ExecutionResult')!;
    const { incident_id, proposal_digest } = result.payload as {
      incident_id: string;
      proposal_digest: string;
    };
    failed.push(
      gatewaySigned(r, 'maintenance-agent', 'ExecutionResult', {
        incident_id,
        proposal_digest,
        status: 'failed',
      }),
    );
    const failedInput = {
      ...input,
      transcript: failed,
      verification: null,
      action: { ...(input.action as JsonObject), result: 'failed' },
    } as BuildBundleInput;
    expect(await judge(group, r, failedInput, r.roles)).toMatchObject({ party: 'ok', verifier: 'valid' });
    const refused = await makeApprovedInput(group, r, { incidentId: 'inc-3', strategyDecision: 'refuse' });
    expect(await judge(group, r, refused, r.roles)).toMatchObject({ party: 'ok', verifier: 'valid' });
  });
});

describe('transcript authority: who may say what, about which incident', () => {
  it("refuses a report by a party whose role (from the roster) is not quality assurance's, even as its only message", async () => {
    const group = makeEd25519Key();
    const r = roster();
    const input = await makeApprovedInput(group, r, { incidentId: 'inc-4' });
    // The audit party (p5) signed nothing else here, so only its role gives it away.
    const qa = report(r, input, 'pass');
    const byAudit = memberSigned(r.parties[4]!, 'VerificationReport', qa.payload as JsonObject);
    const forged = ending(input, [byAudit], {});
    expect(await judge(group, r, forged, r.roles)).toMatchObject({
      party: 'evidence.transcript',
      verifier: 'transcript.authority',
      message: expect.stringContaining('role audit signs EvidenceBundleRef only'),
    });
    // Without the roles, a party's one kind of message cannot be told from another role's.
    expect(await judge(group, r, forged)).toMatchObject({ party: 'ok', verifier: 'valid' });
  });

  it('refuses, roles unknown, a party that signs the outputs of two roles', async () => {
    const group = makeEd25519Key();
    const r = roster();
    const input = await makeApprovedInput(group, r, { incidentId: 'inc-5' });
    const byMonitoring = memberSigned(
      r.parties[0]!,
      'VerificationReport',
      report(r, input, 'pass').payload as JsonObject,
    );
    expect(await judge(group, r, ending(input, [byMonitoring], {}))).toMatchObject({
      party: 'evidence.transcript',
      verifier: 'transcript.authority',
      message: expect.stringContaining('a party plays one role'),
    });
  });

  it('refuses an execution order or result signed by a party, and any type outside the workflow', async () => {
    const group = makeEd25519Key();
    const r = roster();
    const input = await makeApprovedInput(group, r, { incidentId: 'inc-6' });
    for (const type of [
      'ExecutionResult',
      'KnowledgeArtifactPublished',
      'ProtocolRequest',
    ] as MessageType[]) {
      const extra = memberSigned(r.parties[4]!, type, { incident_id: 'inc-6' });
      const transcript = [...input.transcript, extra];
      expect(await judge(group, r, { ...input, transcript })).toMatchObject({
        party: 'evidence.transcript',
        verifier: 'transcript.authority',
      });
    }
    expect(Object.values(PARTY_ROLE_MESSAGE_TYPES).flat()).not.toContain('ExecutionResult');
  });

  it("refuses a person's decision, or the gateway's record, naming another incident; an intake signal may name its source's", async () => {
    const group = makeEd25519Key();
    const r = roster();
    const input = await makeApprovedInput(group, r, { incidentId: 'inc-7' });
    const approval = memberSigned(r.approvers[0]!, 'ApprovalDecision', {
      incident_id: 'inc-8',
      decision: 'approve',
    });
    const record = gatewaySigned(r, 'gateway', 'EvidenceBundleRef', { incident_id: 'inc-8' });
    for (const stray of [approval, record]) {
      const transcript = [...input.transcript, stray];
      expect(await judge(group, r, { ...input, transcript }, r.roles)).toMatchObject({
        party: 'evidence.transcript',
        verifier: 'transcript.authority',
        message: expect.stringContaining('is about incident inc-8, not inc-7'),
      });
    }
    // What a source reported on intake, before the incident had its id, is not the gateway's claim.
    const intake = gatewaySigned(r, 'alertmanager', 'IncidentSignal', { incident_id: 'source-42' });
    const transcript = [intake, ...input.transcript.slice(1)];
    expect(await judge(group, r, { ...input, transcript }, r.roles)).toMatchObject({
      party: 'ok',
      verifier: 'valid',
    });
  });
});

describe('transcript outcome: the predicate says what the signed envelopes say', () => {
  it('refuses a predicate that hides a veto, or states a verification nobody signed', async () => {
    const group = makeEd25519Key();
    const r = roster();
    const input = await makeApprovedInput(group, r, { incidentId: 'inc-9' });
    const action = input.action as JsonObject;
    const cases: BuildBundleInput[] = [
      // The veto is in the transcript; the predicate says it passed.
      ending(input, [report(r, input, 'veto'), undo(r, input, 'rolled_back', {})], {
        action: { ...action, result: 'rolled_back' },
      }),
      // ... or says nothing of it.
      ending(input, [report(r, input, 'veto'), undo(r, input, 'rolled_back', {})], {
        verification: null,
        action: { ...action, result: 'rolled_back' },
      }),
      // A passing verification with no report at all (nor any execution left out: the undo is there).
      ending(input, [undo(r, input, 'rolled_back', {})], { action: { ...action, result: 'rolled_back' } }),
    ];
    for (const c of cases) {
      expect(await judge(group, r, c, r.roles)).toMatchObject({
        party: 'evidence.outcome',
        verifier: 'transcript.outcome',
      });
    }
  });

  it('refuses an action result the execution results do not say, and a report of another change', async () => {
    const group = makeEd25519Key();
    const r = roster();
    const input = await makeApprovedInput(group, r, { incidentId: 'inc-10' });
    const action = input.action as JsonObject;
    const rolledBackAsSucceeded = ending(
      input,
      [report(r, input, 'veto'), undo(r, input, 'rolled_back', {})],
      { verification: vetoed, action: { ...action, result: 'succeeded' } },
    );
    const noResult = { ...input, action: { name: action.name!, target: action.target! } } as BuildBundleInput;
    const other = report(r, input, 'pass');
    const otherChange = memberSigned(r.parties[3]!, 'VerificationReport', {
      ...(other.payload as JsonObject),
      proposal_digest: '00'.repeat(32),
    });
    for (const c of [rolledBackAsSucceeded, noResult, ending(input, [otherChange], {})]) {
      expect(await judge(group, r, c, r.roles)).toMatchObject({
        party: 'evidence.outcome',
        verifier: 'transcript.outcome',
      });
    }
  });

  it('refuses a report before any execution, and an executed change left without a report or an undo', async () => {
    const group = makeEd25519Key();
    const r = roster();
    const input = await makeApprovedInput(group, r, { incidentId: 'inc-11' });
    const qa = input.transcript.at(-1)!;
    const early = [...input.transcript.slice(0, 5), qa, ...input.transcript.slice(5, -1)];
    const unverified = input.transcript.slice(0, -1);
    for (const transcript of [early, unverified]) {
      expect(await judge(group, r, { ...input, transcript }, r.roles)).toMatchObject({
        party: 'evidence.outcome',
        verifier: 'transcript.outcome',
      });
    }
  });
});
