/**
 * The verifier derives the approval's signed bytes and the proposal digest itself (an auditor
 * needs no agents code); the parties call the same functions (packages/agents
 * `proposalSigningBytes`, `computeProposalDigest`) after their strict parse. These tests hold the
 * two paths equal: the parse neither drops nor adds anything the signature or digest covers.
 */
import { computeProposalDigest, parseApprovalProposal, proposalSigningBytes } from '@aaps/agents';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { approvalSigningBytes, executionOrderIndexes, proposalDigestOf } from './approval.js';
import { makeApprovedInput, makeEd25519Key, makeProposal, makeRoster } from './test-helpers/fixtures.js';

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');

const proposalArb = fc
  .record({
    incident_id: fc.stringMatching(/^[A-Za-z0-9][A-Za-z0-9._:@-]{0,40}$/),
    action: fc.constantFrom('configmap_reload', 'image_rollback', 'resource_quota_adjust', 'pod_restart'),
    target: fc.string({ maxLength: 60 }),
    parameters: fc.dictionary(fc.string({ maxLength: 8 }), fc.jsonValue({ maxDepth: 3 }), { maxKeys: 5 }),
    evidence_refs: fc.array(fc.string({ maxLength: 30 }), { maxLength: 4 }),
    risk: fc.record({
      score: fc.integer({ min: 0, max: 100 }),
      method: fc.constant('aaps.risk.v1'),
      factors: fc.record({
        blast_radius: fc.integer({ min: 1, max: 100_000 }),
        urgency: fc.constantFrom('P1', 'P2', 'P3'),
        environment: fc.constantFrom('production', 'staging', 'development', 'unknown'),
      }),
    }),
  })
  // A `__proto__` member does not survive the agents' strict parse as an own key.
  .filter((core) => !JSON.stringify(core).includes('"__proto__"'))
  .map((core) => ({ ...core, proposal_digest: computeProposalDigest(core as never) }));

/** A proposal as a person approved it (every approval that follows awaiting_human carries one). */
const humanApprovedArb = fc
  .tuple(
    proposalArb,
    fc.record({
      approver_id: fc.stringMatching(/^[A-Za-z0-9][A-Za-z0-9._:@-]{0,20}$/),
      approved_at: fc.constantFrom('2026-11-25T15:00:00Z', '2026-11-25T15:00:00.123+02:00'),
      signature: fc.base64String({ minLength: 4, maxLength: 100 }),
    }),
  )
  .map(([p, h]) => ({
    ...p,
    human_approval: {
      approver_id: h.approver_id,
      incident_id: p.incident_id,
      action: p.action,
      proposal_digest: p.proposal_digest,
      decision: 'approve',
      approved_at: h.approved_at,
      expires_at: '2026-11-25T16:00:00Z',
      signature: h.signature,
    },
  }));

describe("the approval's signed bytes and the proposal digest", () => {
  it("are the parties' own for the fixture's proposal, which the agents' strict parser accepts", () => {
    const proposal = makeProposal('inc-7');
    expect(() => parseApprovalProposal(proposal)).not.toThrow();
    expect(proposalDigestOf(proposal)).toBe(proposal.proposal_digest);
    expect(hex(approvalSigningBytes(proposal))).toBe(hex(proposalSigningBytes(proposal)));
    expect(new TextDecoder().decode(approvalSigningBytes(proposal))).toMatch(
      /^\{"domain":"aaps\.approval\.v1","proposal":\{"action":"configmap_reload",/,
    );
  });

  it("are the parties' own for any proposal the agents accept (parsed from JSON, as a bundle carries it)", () => {
    fc.assert(
      fc.property(fc.oneof(proposalArb, humanApprovedArb), (built) => {
        const proposal = JSON.parse(JSON.stringify(built)) as Record<string, unknown>;
        let theirs: Uint8Array;
        try {
          theirs = proposalSigningBytes(proposal);
        } catch {
          fc.pre(false);
          return;
        }
        expect(hex(approvalSigningBytes(proposal))).toBe(hex(theirs));
        expect(proposalDigestOf(proposal)).toBe(computeProposalDigest(parseApprovalProposal(proposal)));
      }),
      { numRuns: 300 },
    );
  });

  it('gives no digest for a proposal missing a core field', () => {
    const { risk: _gone, ...partial } = makeProposal('inc-7');
    expect(proposalDigestOf(partial)).toBeUndefined();
  });
});

describe('executionOrderIndexes', () => {
  it("finds the gateway's ExecutionOrder by message type, and nothing in other transcripts", async () => {
    const input = await makeApprovedInput(makeEd25519Key(), makeRoster());
    expect(executionOrderIndexes(input.transcript)).toEqual([5]);
    expect(executionOrderIndexes([{ meta: {} }, { meta: { message_type: 'ExecutionResult' } }, {}])).toEqual(
      [],
    );
  });
});
