import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  computeRiskScore,
  departmentRiskScore,
  ENVIRONMENTS,
  pooledRiskValue,
  URGENCY_LEVELS,
} from './risk.js';
import { ACTIONS } from './roles.js';

const factors = fc.record({
  blast_radius: fc.integer({ min: 1, max: 50 }),
  urgency: fc.constantFrom(...URGENCY_LEVELS),
  environment: fc.constantFrom(...ENVIRONMENTS),
});

describe('pooled risk laws', () => {
  it('the pooled value lies between the lowest and highest department score, at or above the mean', () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.integer({ min: 0, max: 100 }), fc.integer({ min: 1, max: 5 })), {
          minLength: 1,
          maxLength: 8,
        }),
        (parts) => {
          const sum = parts.reduce((a, [s, w]) => a + BigInt(s * w), 0n);
          const weights = parts.reduce((a, [, w]) => a + BigInt(w), 0n);
          const v = pooledRiskValue(sum, weights);
          const scores = parts.map(([s]) => s);
          expect(v).toBeGreaterThanOrEqual(Math.min(...scores));
          expect(v).toBeLessThanOrEqual(Math.max(...scores));
          expect(v * Number(weights)).toBeGreaterThanOrEqual(Number(sum));
        },
      ),
    );
  });

  it('every department shares the formula when no view is set; the pooled value is then the formula', () => {
    fc.assert(
      fc.property(fc.constantFrom(...ACTIONS), factors, (action, f) => {
        const s = departmentRiskScore(undefined, action, f);
        expect(s).toBe(computeRiskScore(action, f));
        expect(pooledRiskValue(BigInt(10 * s), 10n)).toBe(s);
      }),
    );
  });

  it('a department score stays in 0..100 and never falls as its weight rises', () => {
    fc.assert(
      fc.property(
        fc.constantFrom(...ACTIONS),
        factors,
        fc.integer({ min: 0, max: 399 }),
        fc.integer({ min: -100, max: 100 }),
        (action, f, w, offset) => {
          const lo = departmentRiskScore({ weight_percent: w, offset }, action, f);
          const hi = departmentRiskScore({ weight_percent: w + 1, offset }, action, f);
          expect(lo).toBeGreaterThanOrEqual(0);
          expect(hi).toBeLessThanOrEqual(100);
          expect(hi).toBeGreaterThanOrEqual(lo);
        },
      ),
    );
  });
});
