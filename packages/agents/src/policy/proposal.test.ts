import { ValidationError } from '@aaps/mpc-core';
import { describe, expect, it } from 'vitest';
import {
  computeProposalDigest,
  humanApprovalSigningBytes,
  parseApprovalProposal,
  parseHumanApproval,
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
