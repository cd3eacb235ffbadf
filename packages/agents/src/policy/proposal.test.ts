import { ValidationError } from '@aaps/mpc-core';
import { describe, expect, it } from 'vitest';
import {
  computeProposalDigest,
  humanApprovalSigningBytes,
  humanRejectionSigningBytes,
  parseApprovalProposal,
  parseHumanApproval,
  parseHumanRejection,
  proposalSigningBytes,
} from './proposal.js';
import { proposalFor, signApproval, verifyApproval } from './test-helpers/fixtures.js';

function fieldsOf(f: () => unknown): readonly string[] {
  try {
    f();
  } catch (e) {
    if (e instanceof ValidationError) return e.fields;
    throw e;
  }
  throw new Error('expected a ValidationError');
}

describe('ApprovalProposal', () => {
  it('round-trips a valid proposal', () => {
    const p = proposalFor('configmap_reload');
    expect(parseApprovalProposal(JSON.parse(JSON.stringify(p)))).toEqual(p);
    expect(computeProposalDigest(p)).toBe(p.proposal_digest);
  });

  it('lists every bad field', () => {
    const p = proposalFor('configmap_reload');
    const bad = {
      ...p,
      incident_id: '',
      risk: { ...p.risk, score: 101, factors: { ...p.risk.factors, urgency: 'P0' } },
      proposal_digest: 'XYZ',
      human_approval: { ...signApproval(p), decision: 'maybe' },
    };
    expect([...fieldsOf(() => parseApprovalProposal(bad))].sort()).toEqual([
      'human_approval.decision',
      'incident_id',
      'proposal_digest',
      'risk.factors.urgency',
      'risk.score',
    ]);
  });

  it('refuses to derive signing bytes from anything but a valid proposal', () => {
    const p = proposalFor('pod_restart');
    expect(() => proposalSigningBytes({ ...p, smuggled: 'x' })).toThrow(ValidationError);
    expect(() => proposalSigningBytes({ ...p, parameters: { f: () => 1 } })).toThrow(ValidationError);
  });

  it('signing bytes cover the human approval', () => {
    const p = proposalFor('rbac_changes');
    expect(proposalSigningBytes({ ...p, human_approval: signApproval(p) })).not.toEqual(
      proposalSigningBytes(p),
    );
  });
});

describe('HumanApproval', () => {
  it('is signed over domain-separated bytes without its signature', () => {
    const a = signApproval(proposalFor('rbac_changes'));
    expect(verifyApproval(a)).toBe(true);
    expect(new TextDecoder().decode(humanApprovalSigningBytes(a))).not.toContain(a.signature);
    expect(parseHumanApproval(a)).toEqual(a);
    expect(fieldsOf(() => parseHumanApproval({ ...a, approved_at: 'yesterday' }))).toEqual(['approved_at']);
  });
});

describe('HumanRejection', () => {
  const r = {
    approver_id: 'oncall',
    incident_id: 'inc-1',
    decision: 'reject' as const,
    reason: 'the node team handles it',
    rejected_at: '2026-11-25T16:00:00Z',
    signature: 'ed25519:AAAA',
  };

  it('parses strictly, naming every bad field', () => {
    expect(parseHumanRejection(r)).toEqual(r);
    expect(fieldsOf(() => parseHumanRejection({ ...r, decision: 'approve', reason: '' }))).toEqual([
      'decision',
      'reason',
    ]);
    expect(fieldsOf(() => parseHumanRejection({ ...r, reason: 'x'.repeat(501) }))).toEqual(['reason']);
    expect(fieldsOf(() => parseHumanRejection({ ...r, extra: 1 }))).toEqual(['extra']);
  });

  it('signs over its own domain, without its signature, never as an approval', () => {
    const text = new TextDecoder().decode(humanRejectionSigningBytes(r));
    expect(text).toContain('"domain":"aaps.human-rejection.v1"');
    expect(text).not.toContain(r.signature);
    expect(text).not.toContain('aaps.human-approval.v1');
  });
});
