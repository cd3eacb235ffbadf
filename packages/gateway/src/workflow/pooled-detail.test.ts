/** The strategy step's timeline shows the pooled score, and which departments' inputs were substituted. */
import { describe, expect, it } from 'vitest';
import { pooledDetail } from './pooled-detail.js';

const ref = { circuit: 'weighted-risk', session_id: 'risk-1', output_digest: 'ab'.repeat(32), value: 64 };

describe('pooledDetail', () => {
  it('gives the value and session of a round every department dealt in (record v1)', () => {
    expect(pooledDetail({ ref, record: { v: 1 } })).toEqual({ value: 64, session_id: 'risk-1' });
  });

  it("names each excluded department and why (record v2), without its inputs' values", () => {
    const record = {
      v: 2,
      excluded: [
        {
          provider: '03'.padStart(64, '0'),
          reason: 'refused',
          inputs: [{ name: 'risk.strategy', value: '100' }],
        },
      ],
    };
    expect(pooledDetail({ ref, record })).toEqual({
      value: 64,
      session_id: 'risk-1',
      substituted: [{ provider: '03'.padStart(64, '0'), reason: 'refused' }],
    });
  });
});
