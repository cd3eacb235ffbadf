/**
 * Facts the gateway declares and a party's policy bounds: the environment a change runs in and a
 * quota's current hard limit. Each party holds its own figures for them (`risk.environments`,
 * `bounds.resource_quota.max_hard`), so a gateway that calls a production change `development`,
 * or reports a huge current quota, gets nothing signed on its word.
 *
 * Driven through real party apps (app.request via the in-process client): the strategy and problem
 * solver parties' own steps decide, and the veto holder and two others sign round two. Where a
 * step would not produce the lie, `signBacking` stands for a strategy or problem solver that has
 * been compromised too: the signers must still refuse on their own policy.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { getCiphersuite, type SignedEnvelope } from '@aaps/mpc-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { PartyClient } from '../../client.js';
import { type ApprovalBacking, signBacking } from '../../policy/backing.js';
import { type ApprovalProposal, buildApprovalProposal } from '../../policy/proposal.js';
import { computeRiskScore, type RiskFactors } from '../../policy/risk.js';
import type { FixProposal, FixProposalSet } from '../../steps/problem-solver.js';
import type { ApprovalDecisionPayload } from '../../steps/strategy.js';
import { CONTEXT, SIGNALS } from '../../steps/test-helpers/signals.js';
import type { PartyStore } from '../../store/level.js';
import { approvalRoundTwo, dealtPartyApps, type FiveParties } from '../test-helpers/five-parties.js';

const _suite = getCiphersuite('FROST-ED25519-SHA512-v1');
let dir: string;
const stores: PartyStore[] = [];
let set: FiveParties;
let client: PartyClient;
let sessions = 0;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'aaps-declared-facts-'));
  // Every department knows `payments` is production and its `dev-*` namespaces development;
  // anything else is `unknown` to them (weighed as production).
  ({ set, client } = await dealtPartyApps({
    dir,
    stores,
    configure: (_i, deps) => {
      deps.policy = {
        ...deps.policy,
        risk: {
          weight_percent: 100,
          offset: 0,
          environments: { payments: 'production', 'dev-*': 'development' },
        },
      };
    },
  }));
});

afterAll(async () => {
  await Promise.all(stores.map((s) => s.close()));
  rmSync(dir, { recursive: true, force: true });
});

const id = (i: number) => set.roster.parties[i]!.id;
const signer = (i: number) => ({ id: id(i), key: set.keys[i]! });
const PROBLEM_SOLVER = 1;
const STRATEGY = 2;
/** Strategy, quality assurance (the veto holder) and audit: a quorum every party accepts. */
const SIGNERS = [2, 3, 4];

/** `fix` as a proposal declaring `factors`, backed as a (compromised) solver and strategy would sign it. */
function declared(incident: string, fix: FixProposal, factors: RiskFactors) {
  const proposal = buildApprovalProposal({
    incident_id: incident,
    action: fix.action,
    target: fix.target,
    parameters: fix.parameters,
    evidence_refs: fix.evidence_refs,
    risk: { score: computeRiskScore(fix.action, factors), method: 'aaps.risk.v1', factors },
  });
  return {
    proposal,
    backing: signBacking(proposal, { fix: signer(PROBLEM_SOLVER), decision: signer(STRATEGY) }),
  };
}

/** The strategy party's own step on `fix`, with the environment the gateway declares. */
async function strategyStep(incident: string, fix: FixProposal, environment: string) {
  const out = await client.call<{ envelopes: SignedEnvelope[] }>(
    id(STRATEGY),
    'agent.step',
    `${incident}:strategy-${sessions++}`,
    {
      request: { role: 'strategy', input: { incident_id: incident, urgency: 'P1', fix, environment } },
      context: { ...CONTEXT, namespace: 'payments' },
    },
  );
  const decision = out.envelopes[0]!;
  return { decision, payload: decision.payload as unknown as ApprovalDecisionPayload };
}

/** Each signer's round two on `proposal` with `backing`: `signed`, or the rule it refused under. */
function signAll(proposal: ApprovalProposal, backing: ApprovalBacking | { decision: unknown; fix: unknown }) {
  return approvalRoundTwo(client, SIGNERS.map(id), `declared-${sessions++}`, proposal, backing);
}

/** An image rollback of `namespace`'s ledger touching 11 resources, during a P1. */
const rollback = (incident: string, namespace = 'payments'): FixProposal => ({
  rank: 1,
  action: 'image_rollback',
  target: `deployment://${namespace}/ledger`,
  parameters: {
    basis: 'deployment_history',
    container: 'ledger',
    to_image: `registry.example/payments/ledger@sha256:${'cd'.repeat(32)}`,
  },
  rationale: 'roll back',
  evidence_refs: [`incident://${incident}/signal`],
  executor: 'maintenance',
  requires_human_approval: false,
  blast_radius: 11,
});

describe('the environment a change runs in', () => {
  it('declared production for production, the change needs a human (80 > 60) and no party signs without one', async () => {
    const fix = rollback('inc-env-true');
    const { decision, payload } = await strategyStep('inc-env-true', fix, 'production');
    expect(payload).toMatchObject({
      decision: 'needs_human',
      reason: 'risk 80 needs a signed human approval',
    });
    expect(payload.proposal.risk.factors.environment).toBe('production');
    expect(
      await signAll(payload.proposal, {
        decision,
        fix: declared('inc-env-true', fix, payload.proposal.risk.factors).backing.fix,
      }),
    ).toEqual(['risk.over_auto_threshold', 'risk.over_auto_threshold', 'risk.over_auto_threshold']);
  });

  it('declared development for production, strategy scores it as production (80, a human) and says why', async () => {
    const { payload } = await strategyStep('inc-env-lie', rollback('inc-env-lie'), 'development');
    expect(payload.decision).toBe('needs_human');
    expect(payload.proposal.risk.score).toBe(80);
    expect(payload.proposal.risk.factors.environment).toBe('production');
    expect(payload.risk.terms.environment).toBe(20);
    expect(payload.reason).toContain('production, this party');
    expect(payload.reason).toContain('not the declared development');
  });

  it('a proposal declaring development for production is refused by every signer, even backed by strategy', async () => {
    const fix = rollback('inc-env-forged');
    const { proposal, backing } = declared('inc-env-forged', fix, {
      blast_radius: 11,
      urgency: 'P1',
      environment: 'development',
    });
    // The lie alone moves the score from 80 (a human) to 60 (automatic).
    expect(proposal.risk.score).toBe(60);
    expect(await signAll(proposal, backing)).toEqual([
      'risk.environment_understated',
      'risk.environment_understated',
      'risk.environment_understated',
    ]);
  });

  it('an unmapped namespace is unknown (as production): staging declared there is scored as unknown', async () => {
    const { payload } = await strategyStep(
      'inc-env-unmapped',
      rollback('inc-env-unmapped', 'ledger'),
      'staging',
    );
    expect(payload.proposal.risk.factors.environment).toBe('unknown');
    expect(payload.proposal.risk.score).toBe(80);
    expect(payload.decision).toBe('needs_human');
  });

  it('declared development where the departments say development, the change is automatic and signed', async () => {
    const incident = 'inc-env-dev';
    const fix = rollback(incident, 'dev-payments');
    const { decision, payload } = await strategyStep(incident, fix, 'development');
    expect(payload).toMatchObject({ decision: 'auto', reason: 'within policy' });
    expect(payload.proposal.risk.score).toBe(60);
    const fixEnvelope = declared(incident, fix, payload.proposal.risk.factors).backing.fix;
    expect(await signAll(payload.proposal, { decision, fix: fixEnvelope })).toEqual([
      'signed',
      'signed',
      'signed',
    ]);
  });
});

describe('the current quota the gateway reports', () => {
  /** A quota event the gateway made up: limits.cpu hard 50000, used 60000, requested 40000. */
  const inflated = {
    ...SIGNALS.quotaExceeded,
    metadata: {
      namespace: 'shop',
      reason: 'FailedCreate',
      messages: [
        'Error creating: pods "web-1" is forbidden: exceeded quota: compute, requested: limits.cpu=40000, ' +
          'used: limits.cpu=60000, limited: limits.cpu=50000',
      ],
    },
  };

  it('the problem solver proposes no quota over its policy cap (limits.cpu 128): it asks a person', async () => {
    const incident = 'inc-quota-inflated';
    const step = async (i: number, input: unknown) =>
      (
        await client.call<{ envelopes: SignedEnvelope[] }>(id(i), 'agent.step', `${incident}:${i}`, {
          request: { role: set.roster.parties[i]!.role, input },
          context: CONTEXT,
        })
      ).envelopes;
    const [triaged] = await step(0, { incident_id: incident, context: CONTEXT, signal: inflated });
    const solved = await step(PROBLEM_SOLVER, { incident_id: incident, signal: triaged!.payload });
    const fixes = solved.find((e) => e.meta.message_type === 'FixProposal')!
      .payload as unknown as FixProposalSet;
    expect(fixes.proposals.filter((p) => p.action === 'resource_quota_adjust')).toEqual([]);
    expect(fixes.escalations).toContainEqual({
      kind: 'quota_expansion',
      detail: expect.stringContaining('limits.cpu needs 100000 (hard 50000, cap 128)'),
    });
  });

  it('a quota proposal over the cap is refused by every signer (bounds.quota_max), even backed by both steps', async () => {
    const fix: FixProposal = {
      rank: 1,
      action: 'resource_quota_adjust',
      target: 'resourcequota://shop/compute',
      parameters: {
        changes: [
          {
            resource: 'limits.cpu',
            current_hard: '50000',
            new_hard: '100000',
            used: '60000',
            requested: '40000',
          },
        ],
      },
      rationale: 'raise',
      evidence_refs: ['incident://inc-quota-forged/signal'],
      executor: 'maintenance',
      requires_human_approval: false,
      blast_radius: 1,
    };
    const { proposal, backing } = declared('inc-quota-forged', fix, {
      blast_radius: 1,
      urgency: 'P1',
      environment: 'unknown',
    });
    expect(await signAll(proposal, backing)).toEqual([
      'bounds.quota_max',
      'bounds.quota_max',
      'bounds.quota_max',
    ]);
  });
});
