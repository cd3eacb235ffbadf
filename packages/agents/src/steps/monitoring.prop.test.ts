import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { runMonitoringStep } from './monitoring.js';
import { monitoringInput, SIGNALS } from './test-helpers/signals.js';

const names = Object.keys(SIGNALS) as (keyof typeof SIGNALS)[];

describe('monitoring laws', () => {
  it('classification and dedup key ignore resource order and duplicates', () => {
    fc.assert(
      fc.property(
        fc.constantFrom(...names),
        fc.array(fc.nat(), { minLength: 1, maxLength: 6 }),
        (name, picks) => {
          const s = SIGNALS[name];
          const shuffled = picks.map((i) => s.affected_resources[i % s.affected_resources.length]!);
          const all = [...new Set([...shuffled, ...s.affected_resources])];
          const a = runMonitoringStep(monitoringInput(s));
          const b = runMonitoringStep(
            monitoringInput({ ...s, affected_resources: [...all, ...shuffled].reverse() }),
          );
          expect(b.incident_type).toBe(a.incident_type);
          expect(b.triage.dedup.key).toBe(a.triage.dedup.key);
          expect(b.affected_resources).toEqual(a.affected_resources);
        },
      ),
    );
  });

  it('any signal is either one of the three types with a route to a fix, or unknown and sent to a human', () => {
    fc.assert(
      fc.property(fc.array(fc.string(), { maxLength: 4 }), fc.string(), (messages, reason) => {
        const out = runMonitoringStep(
          monitoringInput({ ...SIGNALS.probeFailed, metadata: { namespace: 'shop', reason, messages } }),
        );
        expect(out.triage.route).toBe(out.incident_type === 'unknown' ? 'human' : 'auto');
      }),
    );
  });
});
