/** An approval is signed only when the strategy and problem-solver parties' signed outputs propose exactly it. */
import { bytesToHex, generateIdentityKey, type IdentityKey, signEnvelope } from '@aaps/mpc-core';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { Roster } from '../roster.js';
import { BACKING_RULE, backingFromTranscript, checkApprovalBacking, signBacking } from './backing.js';
import { buildApprovalProposal } from './proposal.js';
import type { AgentRole } from './roles.js';
import { proposalFor, signApproval } from './test-helpers/fixtures.js';

const ROLES: AgentRole[] = ['monitoring', 'problem-solver', 'strategy', 'quality-assurance', 'audit'];
const keys: Record<string, IdentityKey> = Object.fromEntries(ROLES.map((r) => [r, generateIdentityKey()]));
const gatewayKey = generateIdentityKey();
const roster: Roster = {
  ciphersuite: 'FROST-ED25519-SHA512-v1',
  threshold: { min: 3, max: 5 },
  parties: ROLES.map((role, i) => ({
    id: role,
    role,
    department: role,
    url: `http://127.0.0.1:${7101 + i}`,
    index: i + 1,
    identity_key: bytesToHex(keys[role]!.publicKey),
  })),
  gateway: { id: 'gateway', identity_key: bytesToHex(gatewayKey.publicKey) },
  approvers: [],
} as unknown as Roster;
const signers = {
  fix: { id: 'problem-solver', key: keys['problem-solver']! },
  decision: { id: 'strategy', key: keys['strategy']! },
};

const proposal = proposalFor('image_rollback');
const backing = signBacking(proposal, signers);

const refusedFor = (p: unknown, b: unknown) => {
  const out = checkApprovalBacking(p, b, roster);
  return out.ok ? undefined : out.rule;
};

describe('checkApprovalBacking', () => {
  it('accepts a proposal its agents signed, with or without a human approval attached', () => {
    expect(checkApprovalBacking(proposal, backing, roster)).toEqual({ ok: true });
    const approved = { ...proposal, human_approval: signApproval(proposal) };
    expect(checkApprovalBacking(approved, backing, roster)).toEqual({ ok: true });
  });

  it('refuses to skip the person strategy asked for: needs_human needs a human approval attached', () => {
    const needsHuman = signBacking(proposal, signers, { decision: 'needs_human' });
    expect(refusedFor(proposal, needsHuman)).toBe(BACKING_RULE);
    const approved = { ...proposal, human_approval: signApproval(proposal) };
    expect(checkApprovalBacking(approved, needsHuman, roster)).toEqual({ ok: true });
  });

  it('refuses a proposal with no backing, or a backing that is not envelopes', () => {
    expect(refusedFor(proposal, undefined)).toBe(BACKING_RULE);
    expect(refusedFor(proposal, {})).toBe(BACKING_RULE);
    expect(refusedFor(proposal, { decision: backing.decision })).toBe(BACKING_RULE);
    expect(refusedFor(proposal, { fix: 1, decision: 'x' })).toBe(BACKING_RULE);
  });

  it('refuses a proposal the gateway made up: other fix, other target, other incident', () => {
    const evil = proposalFor('image_rollback', {
      parameters: {
        basis: 'deployment_history',
        container: 'web',
        to_image: `evil.example/backdoor@sha256:${'ab'.repeat(32)}`,
      },
    });
    expect(refusedFor(evil, backing)).toBe(BACKING_RULE);
    expect(refusedFor(proposalFor('image_rollback', { target: 'deployment://shop/api' }), backing)).toBe(
      BACKING_RULE,
    );
    expect(refusedFor(proposalFor('image_rollback', { incident_id: 'inc-0002' }), backing)).toBe(
      BACKING_RULE,
    );
    expect(
      refusedFor(
        proposalFor('image_rollback', {}, { blast_radius: 2, urgency: 'P2', environment: 'staging' }),
        backing,
      ),
    ).toBe(BACKING_RULE);
  });

  it('refuses envelopes from the wrong agent: the gateway, another role, a key not in the roster', () => {
    const asGateway = signBacking(proposal, { ...signers, decision: { id: 'gateway', key: gatewayKey } });
    expect(refusedFor(proposal, asGateway)).toBe(BACKING_RULE);
    const swapped = signBacking(proposal, { fix: signers.decision, decision: signers.fix });
    expect(refusedFor(proposal, swapped)).toBe(BACKING_RULE);
    const forged = signBacking(proposal, {
      ...signers,
      decision: { id: 'strategy', key: generateIdentityKey() },
    });
    expect(refusedFor(proposal, forged)).toBe(BACKING_RULE);
  });

  it('refuses a proposal the strategy party refused, and one decided on another proposal', () => {
    const decision = {
      ...backing.decision,
      payload: { ...backing.decision.payload, decision: 'refuse' },
    };
    const refused = { ...backing, decision: signEnvelope(decision, keys['strategy']!.secretKey) };
    expect(refusedFor(proposal, refused)).toBe(BACKING_RULE);
    const other = buildApprovalProposal({ ...proposal, evidence_refs: ['incident://inc-0001/other'] });
    const mixed = { fix: backing.fix, decision: signBacking(other, signers).decision };
    expect(refusedFor(proposal, mixed)).toBe(BACKING_RULE);
  });

  it('law: a changed character anywhere in either envelope is refused', () => {
    const texts = { fix: JSON.stringify(backing.fix), decision: JSON.stringify(backing.decision) };
    fc.assert(
      fc.property(
        fc.constantFrom('fix' as const, 'decision' as const),
        fc.nat(),
        fc.integer({ min: 1, max: 25 }),
        (which, at, shift) => {
          const text = texts[which];
          const i = at % text.length;
          const c = String.fromCharCode(((text.charCodeAt(i) - 32 + shift) % 95) + 32);
          let changed: unknown;
          try {
            changed = JSON.parse(text.slice(0, i) + c + text.slice(i + 1));
          } catch {
            return; // no longer JSON: nothing a party would be sent
          }
          const b = { ...backing, [which]: changed };
          // A change to whitespace-insensitive syntax can leave the same value: that still passes.
          if (JSON.stringify(changed) === text) return;
          expect(refusedFor(proposal, b)).toBe(BACKING_RULE);
        },
      ),
      { numRuns: 300 },
    );
  });
});

describe('backingFromTranscript', () => {
  it('takes the last decision and fix proposal of the transcript', () => {
    const later = signBacking(proposal, signers, { decision: 'needs_human' });
    const got = backingFromTranscript([backing.fix, backing.decision, later.decision]);
    expect(got?.decision).toBe(later.decision);
    expect(got?.fix).toBe(backing.fix);
    expect(backingFromTranscript([backing.fix])).toBeUndefined();
    // A person's approval is an ApprovalDecision too, without a proposal: it is not the backing.
    const human = signEnvelope(
      { ...backing.decision, payload: { approver_id: 'alice', decision: 'approve' } },
      keys['monitoring']!.secretKey,
    );
    expect(backingFromTranscript([backing.fix, backing.decision, human])?.decision).toBe(backing.decision);
  });
});
