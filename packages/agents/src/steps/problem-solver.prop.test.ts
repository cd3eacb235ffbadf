import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { defaultPolicy } from '../policy/defaults.js';
import { evaluateProposal } from '../policy/evaluate.js';
import { parseQuantity } from '../policy/quantity.js';
import type { Policy } from '../policy/schema.js';
import { context } from '../policy/test-helpers/fixtures.js';
import { runMonitoringStep } from './monitoring.js';
import { runProblemSolverStep } from './problem-solver.js';
import { runStrategyStep } from './strategy.js';
import { CONTEXT } from './test-helpers/signals.js';

/** Figures that mostly exceed the limit: used <= limited, requested up to three limits. */
const amounts = fc
  .integer({ min: 1, max: 64_000 })
  .chain((limited) =>
    fc.tuple(
      fc.constant(limited),
      fc.integer({ min: 0, max: limited }),
      fc.integer({ min: 1, max: 3 * limited }),
    ),
  );
const cpu = (m: number) => (m % 1000 === 0 ? `${m / 1000}` : `${m}m`);
const mem = (mi: number) => (mi % 1024 === 0 ? `${mi / 1024}Gi` : `${mi}Mi`);
const figures = fc
  .tuple(fc.constantFrom(['limits.cpu', cpu] as const, ['requests.memory', mem] as const), amounts)
  .map(([[resource, fmt], [limited, used, requested]]) => ({
    resource,
    limited: fmt(limited),
    used: fmt(used),
    requested: fmt(requested),
  }));
const factor = fc.integer({ min: 1000, max: 4000 }).map((m) => m / 1000);

function withFactor(f: number): Policy {
  const p = defaultPolicy('strategy');
  return {
    ...p,
    bounds: { ...p.bounds, resource_quota: { ...p.bounds.resource_quota, max_increase_factor: f } },
  };
}

describe('problem solver laws', () => {
  it('a quota fix it proposes is one its policy approves; beyond bounds it asks a person instead', () => {
    fc.assert(
      fc.property(figures, factor, (f, k) => {
        const message =
          `Error creating: pods "web-1" is forbidden: exceeded quota: compute, requested: ${f.resource}=${f.requested}, ` +
          `used: ${f.resource}=${f.used}, limited: ${f.resource}=${f.limited}`;
        const signal = runMonitoringStep({
          incident_id: 'inc-1',
          context: CONTEXT,
          signal: {
            incident_type: 'unknown',
            severity: 'medium',
            affected_resources: [],
            evidence_refs: ['event://kubernetes/shop/e1'],
            metadata: { reason: 'FailedCreate', messages: [message] },
          },
        });
        const policy = withFactor(k);
        const { fix } = runProblemSolverStep({
          incident_id: 'inc-1',
          signal,
          policy: { ...policy, role: 'problem-solver' },
        });
        const needed = parseQuantity(f.used) + parseQuantity(f.requested);
        const limited = parseQuantity(f.limited);
        if (needed <= limited) {
          expect(fix.proposals).toEqual([]);
          return;
        }
        const proposal = fix.proposals[0];
        if (proposal === undefined) {
          expect(fix.escalations.map((e) => e.kind)).toEqual(['quota_expansion']);
          return;
        }
        const decision = runStrategyStep(
          { incident_id: 'inc-1', urgency: 'P3', environment: 'development', fix: proposal, policy },
          context(),
        );
        expect(decision.decision).toBe('auto');
        expect(evaluateProposal(policy, 'strategy', decision.proposal, context()).decision).toBe('approve');
      }),
    );
  });
});
