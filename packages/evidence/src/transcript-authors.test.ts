/**
 * Who may say what in a transcript: the gateway's key vouches for senders the roster does not
 * list, but only for what the gateway writes (intake signals, execution orders and results,
 * evidence records). A role's output (here QA's `VerificationReport`) or a person's decision
 * (an `ApprovalDecision` from `human:bob`, no roster approver) signed by the gateway key is refused
 * by the verifier and by every party asked to co-sign it; an approver's key signs decisions only.
 */
import { type Envelope, signEnvelope } from '@aaps/mpc-core';
import { describe, expect, it } from 'vitest';
import { buildBundle } from './bundle/build.js';
import { createBundleVerifier } from './bundle/verify.js';
import { checkEvidenceForSigning } from './signing-check.js';
import {
  logBundles,
  makeApprovedInput,
  makeEd25519Key,
  makeRoster,
  trustingVerifier,
} from './test-helpers/fixtures.js';

function forged(
  gatewaySecret: Parameters<typeof signEnvelope>[1],
  source: string,
  type: Envelope['meta']['message_type'],
  payload: Record<string, unknown>,
) {
  const env: Envelope = {
    meta: {
      trace_id: 'trace-0001',
      span_id: `forged-${type}`,
      timestamp: '2026-11-25T15:00:08Z',
      source_agent: source,
      target_agent: 'audit',
      message_type: type,
      schema_version: 'v1.0.0',
      idempotency_key: `forged-${type}`,
    },
    context: { namespace: 'payments', cluster: 'prod-eu', urgency: 'P2', constraints_ref: 'policy/v1' },
    payload,
  };
  return signEnvelope(env, gatewaySecret);
}

describe('transcript authors: what the gateway and approver keys may sign', () => {
  it('a gateway-made VerificationReport (as quality-assurance-agent) and human approval (as human:bob) are not valid', async () => {
    const group = makeEd25519Key();
    const r = makeRoster();
    const input = await makeApprovedInput(group, r);
    const transcript = input.transcript.slice();
    // The QA party's own report (the last envelope) is swapped for one the gateway wrote and signed.
    const real = transcript.pop()!;
    expect(real.meta.source_agent).toBe(r.roster.parties[3]!.id);
    transcript.push(
      forged(r.gateway.secretKey, 'quality-assurance-agent', 'VerificationReport', {
        incident_id: 'inc-approved',
        verdict: 'pass',
      }) as never,
      forged(r.gateway.secretKey, 'human:bob', 'ApprovalDecision', { approve: true }) as never,
    );
    const bundle = await buildBundle({ ...input, transcript }, group.sign);

    // No party lends its share to this Statement.
    const payload = new Uint8Array(Buffer.from(bundle.dsseEnvelope.payload, 'base64'));
    const party = checkEvidenceForSigning({
      payloadType: bundle.dsseEnvelope.payloadType,
      payload,
      transcript: JSON.parse(JSON.stringify(bundle.transcript)),
      roster: r.roster,
      ciphersuite: input.ciphersuite,
      groupPublicKey: group.publicKey,
      threshold: input.threshold,
      signer: input.signers[0]!,
    });
    expect(party.ok).toBe(false);
    expect(party.ok ? '' : party.message).toMatch(
      /is a VerificationReport, and it is signed by the gateway key \(gateway\), which signs IncidentSignal/,
    );

    const [logged] = await logBundles([bundle], group);
    // The auditor's trusted roster.
    const verifier = trustingVerifier(group, r.roster, input.threshold);
    const report = verifier.report(JSON.parse(JSON.stringify(logged)));
    expect({ valid: report.valid, check: report.failure?.check }).toEqual({
      valid: false,
      check: 'transcript.signature',
    });
  });
});

describe('transcript authors: each forgery alone', () => {
  it('refuses each gateway-signed role output or decision, and an approver-signed report', async () => {
    const group = makeEd25519Key();
    const r = makeRoster();
    const input = await makeApprovedInput(group, r);
    const verifier = createBundleVerifier({
      groupPublicKey: group.publicKey,
      roster: r.roster,
      requireLog: false,
    });
    const base = await buildBundle(input, group.sign);
    expect(verifier.report(JSON.parse(JSON.stringify(base))).valid).toBe(true);
    const approver = r.approvers[0]!;
    const cases: Array<[string, unknown]> = [
      [
        'RCAReport as problem-solver-agent',
        forged(r.gateway.secretKey, 'problem-solver-agent', 'RCAReport', {}),
      ],
      ['FixProposal as the gateway', forged(r.gateway.secretKey, 'gateway', 'FixProposal', {})],
      ['ApprovalDecision as human:bob', forged(r.gateway.secretKey, 'human:bob', 'ApprovalDecision', {})],
      [
        'VerificationReport by an approver',
        forged(approver.key.secretKey, approver.id, 'VerificationReport', {}),
      ],
    ];
    for (const [what, envelope] of cases) {
      const bundle = await buildBundle(
        { ...input, transcript: [...input.transcript, envelope as never] },
        group.sign,
      );
      const report = verifier.report(JSON.parse(JSON.stringify(bundle)));
      expect({ what, valid: report.valid, check: report.failure?.check }).toEqual({
        what,
        valid: false,
        check: 'transcript.signature',
      });
    }
    // What the gateway does write still verifies: an ExecutionResult from an outside sender.
    // (Its status is the action result the predicate states: the last result's, transcript.outcome.)
    const result = forged(r.gateway.secretKey, 'maintenance-agent', 'ExecutionResult', {
      status: 'succeeded',
    });
    const fine = await buildBundle(
      { ...input, transcript: [...input.transcript, result as never] },
      group.sign,
    );
    expect(verifier.report(JSON.parse(JSON.stringify(fine))).valid).toBe(true);
  });
});
