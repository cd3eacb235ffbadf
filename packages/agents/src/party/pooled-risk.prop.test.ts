/**
 * Laws of the subject digest every pooled-risk dealer signs (`riskSubjectDigest`): it depends on the
 * subject's content only (not on how its JSON was written), and two different subjects never share
 * one, so evaluators comparing digests compare subjects.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ENVIRONMENTS, URGENCY_LEVELS } from '../policy/risk.js';
import { parseRiskSubject, type RiskSubject, riskSubjectDigest } from './pooled-risk.js';

const subject: fc.Arbitrary<RiskSubject> = fc.record({
  incident_id: fc.stringMatching(/^[A-Za-z0-9][A-Za-z0-9._:@-]{0,20}$/),
  action: fc.stringMatching(/^[a-z][a-z0-9_]{0,20}$/),
  namespace: fc.option(fc.stringMatching(/^[a-z0-9]([-a-z0-9]{0,20}[a-z0-9])?$/), { nil: null }),
  factors: fc.record({
    blast_radius: fc.integer({ min: 1, max: 1_000_000 }),
    urgency: fc.constantFrom(...URGENCY_LEVELS),
    environment: fc.constantFrom(...ENVIRONMENTS),
  }),
});

/** The same object with its keys (and its factors' keys) in another order. */
function reordered(s: RiskSubject, order: number[]): Record<string, unknown> {
  const pick = <T extends object>(o: T): T => {
    const keys = Object.keys(o);
    const sorted = keys.map((k, i) => [order[i % order.length]!, k] as const).sort((a, b) => a[0] - b[0]);
    return Object.fromEntries(sorted.map(([, k]) => [k, o[k as keyof T]])) as T;
  };
  return pick({ ...s, factors: pick({ ...s.factors }) });
}

describe('riskSubjectDigest', () => {
  it('is the same for a subject however its keys are ordered (canonical JSON), parsed or not', () => {
    fc.assert(
      fc.property(subject, fc.array(fc.integer(), { minLength: 4, maxLength: 4 }), (s, order) => {
        const written = reordered(s, order);
        expect(riskSubjectDigest(written as unknown as RiskSubject)).toBe(riskSubjectDigest(s));
        expect(riskSubjectDigest(parseRiskSubject(written, 'derive'))).toBe(riskSubjectDigest(s));
      }),
    );
  });

  it('differs for different subjects', () => {
    fc.assert(
      fc.property(subject, subject, (a, b) => {
        fc.pre(JSON.stringify(reordered(a, [0, 1, 2, 3])) !== JSON.stringify(reordered(b, [0, 1, 2, 3])));
        expect(riskSubjectDigest(a)).not.toBe(riskSubjectDigest(b));
      }),
    );
  });
});
