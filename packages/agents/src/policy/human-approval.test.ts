import { describe, expect, it } from 'vitest';
import { evaluateProposal } from './evaluate.js';
import { createHumanApprovalVerifier } from './human-approval.js';
import { APPROVER_PUBLIC, NOW, policyFor, proposalFor, signApproval } from './test-helpers/fixtures.js';

const verify = createHumanApprovalVerifier((id) => (id === 'alice' ? APPROVER_PUBLIC : undefined));

describe('createHumanApprovalVerifier', () => {
  const p = proposalFor('rbac_changes');
  const a = signApproval(p);

  it('accepts an approval signed by the roster key of its approver', () => {
    expect(verify(a)).toBe(true);
    const r = evaluateProposal(
      policyFor('audit'),
      'audit',
      { ...p, human_approval: a },
      { now: NOW, verifyHumanApproval: verify },
    );
    expect(r.decision).toBe('approve');
  });

  it('rejects unknown approvers, other prefixes, bad base64 and changed fields', () => {
    expect(verify({ ...a, approver_id: 'mallory' })).toBe(false);
    expect(verify({ ...a, signature: a.signature.replace('ed25519:', 'rsa:') })).toBe(false);
    expect(verify({ ...a, signature: 'ed25519:!!!' })).toBe(false);
    expect(verify({ ...a, expires_at: '2026-11-25T23:59:59Z' })).toBe(false);
  });
});
