/**
 * A pooled risk score stays valid when the strategy step raises the environment: the gateway pools
 * on the subject {incident, action, namespace, factors} with its declared environment, the strategy party
 * raises it to its own view when that is heavier (an unmapped namespace is `unknown`, heavier than
 * a declared `staging`), and the ledger accepts the reference for a heavier environment (never a
 * lighter one): the incident is decided on the raised score, as it is without pooling.
 */
import { describe, expect, it } from 'vitest';
import { defaultPolicy } from '../policy/defaults.js';
import { context } from '../policy/test-helpers/fixtures.js';
import { runMonitoringStep } from '../steps/monitoring.js';
import { runProblemSolverStep } from '../steps/problem-solver.js';
import { runStrategyStep, strategyRiskSubject } from '../steps/strategy.js';
import { monitoringInput, SIGNALS } from '../steps/test-helpers/signals.js';
import { PooledRiskLedger } from './pooled-risk.js';

describe('review s19: pooled risk and a raised environment', () => {
  it('a pooled reference for the declared subject still verifies once strategy raises the environment', async () => {
    const triaged = runMonitoringStep(monitoringInput(SIGNALS.quotaExceeded));
    const fix = runProblemSolverStep({
      incident_id: 'inc-0001',
      signal: triaged,
      policy: defaultPolicy('problem-solver'),
    }).fix.proposals[0]!;
    // What the gateway pools (declared: staging), and what every party confirmed.
    const ledger = new PooledRiskLedger();
    const ref = { circuit: 'weighted-risk', session_id: 'agg-1', output_digest: 'cd'.repeat(32), value: 20 };
    await ledger.remember('agg-1', {
      circuit: ref.circuit,
      digest: ref.output_digest,
      value: ref.value,
      subject: strategyRiskSubject('inc-0001', fix, 'P1', 'staging'),
    });
    const input = {
      incident_id: 'inc-0001',
      urgency: 'P1' as const,
      environment: 'staging' as const,
      fix,
      policy: defaultPolicy('strategy'),
    };
    const ctx = context({ verifyAggregationRef: (r, p) => ledger.verifyRef(r, p) });
    const unpooled = runStrategyStep(input, ctx);
    // The premise: strategy raised the environment (the shipped policy maps no namespace).
    expect(unpooled.proposal.risk.factors.environment).toBe('unknown');
    expect(unpooled.decision).not.toBe('refuse');

    const pooled = runStrategyStep({ ...input, pooled: ref }, ctx);
    expect(pooled.rule).not.toBe('risk.aggregation_unverified');
    expect(pooled.decision).toBe(unpooled.decision);
    // The reference holds for the same or a heavier environment than the one pooled, never a lighter.
    const proposal = pooled.proposal;
    const withEnv = (environment: 'development' | 'staging' | 'production') => ({
      ...proposal,
      risk: { ...proposal.risk, factors: { ...proposal.risk.factors, environment } },
    });
    expect(ledger.verifyRef(ref, withEnv('staging'))).toBe(true);
    expect(ledger.verifyRef(ref, withEnv('production'))).toBe(true);
    expect(ledger.verifyRef(ref, withEnv('development'))).toBe(false);
  });
});
