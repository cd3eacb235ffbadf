import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { evaluateProposal } from './evaluate.js';
import { buildApprovalProposal, proposalSigningBytes } from './proposal.js';
import { computeRiskScore, ENVIRONMENTS, type RiskFactors, URGENCY_LEVELS } from './risk.js';
import { ACTIONS, type ActionName, PARTY_ROLES } from './roles.js';
import type { Policy } from './schema.js';
import { context, DIGEST, PARAMS, policyFor, proposalFor, signApproval } from './test-helpers/fixtures.js';

const factorsArb: fc.Arbitrary<RiskFactors> = fc.record({
  blast_radius: fc.integer({ min: 1, max: 50 }),
  urgency: fc.constantFrom(...URGENCY_LEVELS),
  environment: fc.constantFrom(...ENVIRONMENTS),
});

/** A policy that splits a random subset of the known actions between its two lists. */
const policyArb = fc
  .tuple(
    fc.constantFrom(...PARTY_ROLES),
    fc.array(fc.constantFrom(...ACTIONS), { maxLength: ACTIONS.length }),
    fc.array(fc.constantFrom(...ACTIONS), { maxLength: ACTIONS.length }),
  )
  .map(([role, auto, human]): Policy => {
    const a = [...new Set(auto)];
    const h = [...new Set(human)].filter((x) => !a.includes(x));
    return { ...policyFor(role), allowed_auto_actions: a, require_human_approval: h };
  });

const strangeActionArb = fc
  .stringMatching(/^[a-z][a-z0-9_]{0,20}$/)
  .filter((s) => !(ACTIONS as readonly string[]).includes(s));

describe('evaluateProposal laws', () => {
  it('any action not in the policy is refused, approval or not', () => {
    fc.assert(
      fc.property(
        policyArb,
        fc.oneof(fc.constantFrom(...ACTIONS), strangeActionArb),
        factorsArb,
        fc.boolean(),
        (policy, action, factors, withApproval) => {
          const listed = [...policy.allowed_auto_actions, ...policy.require_human_approval] as string[];
          fc.pre(!listed.includes(action));
          const shape = PARAMS[action as ActionName] ?? PARAMS.configmap_reload;
          const p = buildApprovalProposal({
            incident_id: 'inc-1',
            action,
            target: shape.target,
            parameters: shape.parameters,
            evidence_refs: ['incident://inc-1/signal'],
            risk: { score: computeRiskScore(action, factors), method: 'aaps.risk.v1', factors },
          });
          const proposal = withApproval ? { ...p, human_approval: signApproval(p) } : p;
          const r = evaluateProposal(policy, policy.role, proposal, context());
          expect(r.decision).toBe('refuse');
          if (r.decision === 'refuse') expect(['action.unknown', 'action.not_allowed']).toContain(r.rule);
        },
      ),
    );
  });

  it('a require_human_approval action without a valid human approval is always refused', () => {
    fc.assert(
      fc.property(
        policyArb,
        fc.constantFrom(...ACTIONS),
        factorsArb,
        fc.constantFrom('none', 'unsigned', 'rejected-by-verifier', 'expired', 'tampered'),
        (policy, action, factors, kind) => {
          fc.pre(policy.require_human_approval.includes(action));
          const p = proposalFor(action, {}, factors);
          const ctx = context(kind === 'rejected-by-verifier' ? { verifyHumanApproval: () => false } : {});
          const approval =
            kind === 'none'
              ? undefined
              : kind === 'unsigned'
                ? { ...signApproval(p), signature: 'ed25519:' }
                : kind === 'expired'
                  ? signApproval(p, {
                      approved_at: '2026-11-20T00:00:00Z',
                      expires_at: '2026-11-20T01:00:00Z',
                    })
                  : kind === 'tampered'
                    ? { ...signApproval(p), approver_id: 'bob' }
                    : signApproval(p);
          const proposal = approval ? { ...p, human_approval: approval } : p;
          expect(evaluateProposal(policy, policy.role, proposal, ctx).decision).toBe('refuse');
        },
      ),
    );
  });

  it('an approval bound to another incident or another action is refused', () => {
    fc.assert(
      fc.property(
        fc.constantFrom(...ACTIONS),
        fc.oneof(
          fc.record({ incident_id: fc.stringMatching(/^[A-Za-z0-9][A-Za-z0-9._:-]{0,30}$/) }),
          fc.record({
            action: fc.oneof(fc.constantFrom(...ACTIONS), fc.stringMatching(/^[a-z][a-z_]{0,20}$/)),
          }),
        ),
        (action, over) => {
          const p = proposalFor(action);
          fc.pre(
            ('incident_id' in over && over.incident_id !== p.incident_id) ||
              ('action' in over && over.action !== action),
          );
          const policy = policyFor('strategy');
          const r = evaluateProposal(
            policy,
            'strategy',
            { ...p, human_approval: signApproval(p, over) },
            context(),
          );
          expect(r).toMatchObject({ decision: 'refuse', rule: 'human_approval.binding' });
        },
      ),
    );
  });

  it('never throws and never approves what is not a proposal', () => {
    fc.assert(
      fc.property(fc.constantFrom(...PARTY_ROLES), fc.anything(), (role, junk) => {
        const r = evaluateProposal(policyFor(role), role, junk, context());
        expect(r.decision).toBe('refuse');
      }),
    );
  });

  it('approves only proposals whose signing bytes it can derive', () => {
    fc.assert(
      fc.property(fc.constantFrom(...ACTIONS), factorsArb, (action, factors) => {
        const p = proposalFor(action, {}, factors);
        const r = evaluateProposal(policyFor('strategy'), 'strategy', p, context());
        if (r.decision === 'approve') expect(() => proposalSigningBytes(p)).not.toThrow();
      }),
    );
  });

  it('with allowed_image_prefixes, a rollback is approved only to an image under a listed prefix', () => {
    const shop = 'registry.example/shop/';
    const policy: Policy = {
      ...policyFor('strategy'),
      bounds: {
        ...policyFor('strategy').bounds,
        image_rollback: { require_digest: true, allowed_image_prefixes: [shop] },
      },
    };
    const component = /^[a-z0-9]+([._-][a-z0-9]+)*$/;
    const rollbackTo = (to_image: string) =>
      proposalFor('image_rollback', {
        parameters: { basis: 'deployment_history', container: 'web', to_image },
      });
    // Any spelling, hostile ones included: an approved image lies under the prefix, by whole
    // components none of which is empty, `.` or `..`.
    const pieces = [
      'registry.example',
      'shop',
      'shopping',
      'web',
      '..',
      '.',
      '',
      'evil.example',
      'shop:v1',
      'x:5000',
    ];
    fc.assert(
      fc.property(fc.array(fc.constantFrom(...pieces), { minLength: 1, maxLength: 6 }), (parts) => {
        const image = `${parts.join('/')}@${DIGEST}`;
        fc.pre(/^[a-z0-9]/.test(image));
        const r = evaluateProposal(policy, 'strategy', rollbackTo(image), context());
        if (r.decision === 'approve') {
          const named = image.slice(0, image.indexOf('@'));
          expect(named.startsWith(shop)).toBe(true);
          const rest = named.slice(shop.length).split('/');
          expect(rest.every((c) => c !== '' && c !== '.' && c !== '..')).toBe(true);
        } else {
          expect(['bounds.image_prefix', 'parameters.invalid']).toContain(r.rule);
        }
      }),
    );
    // And every well-formed repository under the prefix passes, tagged or not.
    fc.assert(
      fc.property(
        fc.array(fc.stringMatching(component), { minLength: 1, maxLength: 3 }),
        fc.option(fc.stringMatching(/^[a-z0-9][a-z0-9._-]{0,20}$/)),
        (path, tag) => {
          const image = `${shop}${path.join('/')}${tag === null ? '' : `:${tag}`}@${DIGEST}`;
          expect(evaluateProposal(policy, 'strategy', rollbackTo(image), context()).decision).toBe('approve');
        },
      ),
    );
  });
});
