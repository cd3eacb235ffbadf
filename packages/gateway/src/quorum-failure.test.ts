import { AapsError, ProtocolError } from '@aaps/mpc-core';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { type QuorumFailure, quorumFailureOf, quorumUnreachable } from './quorum-failure.js';

const id = fc.constantFrom('security', 'qa', 'sre', 'finance', 'audit');
const refusal = fc.record({
  party: id,
  rule: fc.constantFrom('risk.max_score', 'evidence.signers'),
  message: fc.string(),
});
const failure: fc.Arbitrary<Partial<QuorumFailure>> = fc.record(
  {
    refusals: fc.array(refusal, { maxLength: 3 }),
    vetoes: fc.array(refusal, { maxLength: 2 }),
    culprit_parties: fc.array(id, { maxLength: 3 }),
    unavailable_parties: fc.array(id, { maxLength: 3 }),
    required_unavailable: fc.array(id, { maxLength: 2 }),
    required_culprits: fc.array(id, { maxLength: 2 }),
  },
  { requiredKeys: [] },
);

describe('quorum failures', () => {
  it('law: what a coordinator writes is what the runner and the evidence writer read (missing lists empty)', () => {
    fc.assert(
      fc.property(failure, fc.dictionary(fc.string(), fc.jsonValue()), (f, extra) => {
        const e = quorumUnreachable('no quorum', f, { culprits: ['3'], extra });
        expect(e).toBeInstanceOf(ProtocolError);
        expect(e.code).toBe('QUORUM_UNREACHABLE');
        expect(e.culprits).toEqual(['3']);
        // A session's other details are kept, but never replace the failure's own lists.
        expect(quorumFailureOf(e)).toEqual({
          refusals: [],
          vetoes: [],
          culprit_parties: [],
          unavailable_parties: [],
          required_unavailable: [],
          required_culprits: [],
          ...f,
        });
      }),
    );
  });

  it('reads only QUORUM_UNREACHABLE, and skips malformed entries of a hand-made one', () => {
    expect(quorumFailureOf(new AapsError('UNAVAILABLE', 'down'))).toBeUndefined();
    expect(quorumFailureOf(new Error('QUORUM_UNREACHABLE'))).toBeUndefined();
    const odd = new AapsError('QUORUM_UNREACHABLE', 'odd', {
      details: {
        refusals: [{ party: 'qa' }, { party: 'sre', rule: 'r', message: 'm' }, null],
        culprit_parties: ['qa', 7],
      },
    });
    expect(quorumFailureOf(odd)).toMatchObject({
      refusals: [{ party: 'sre', rule: 'r', message: 'm' }],
      culprit_parties: ['qa'],
      vetoes: [],
    });
  });
});
