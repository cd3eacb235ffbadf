import { ProtocolError } from '@aaps/mpc-core';
import { describe, expect, it } from 'vitest';
import { requorum } from './evidence-writer.js';

const unreachable = (details: Record<string, unknown>) =>
  new ProtocolError('QUORUM_UNREACHABLE', 'fewer than 3 parties would sign', [], { details });
const refused = (party: string, rule = 'evidence.signers') => ({ party, rule, message: '' });

describe('requorum (the next signers to name after an evidence signing found no quorum)', () => {
  it('keeps the named parties still usable and adds those refused only for not being named', () => {
    // p1 timed out; p4 and p5 were asked in its place and refused, not being named.
    const e = unreachable({ refusals: [refused('p4'), refused('p5')], unavailable_parties: ['p1'] });
    expect(requorum(e, ['p1', 'p2', 'p3'], 3)).toEqual(['p2', 'p3', 'p4']);
  });

  it('drops parties that refused on other grounds or cheated', () => {
    const e = unreachable({
      refusals: [refused('p2', 'evidence.transcript'), refused('p4'), refused('p5')],
      culprit_parties: ['p3'],
    });
    expect(requorum(e, ['p1', 'p2', 'p3'], 3)).toEqual(['p1', 'p4', 'p5']);
  });

  it('gives up when too few are left, when nobody refused for not being named, or on another error', () => {
    const few = unreachable({ refusals: [refused('p4')], unavailable_parties: ['p1', 'p2'] });
    expect(requorum(few, ['p1', 'p2', 'p3'], 3)).toBeUndefined();
    expect(requorum(unreachable({ unavailable_parties: ['p1'] }), ['p1', 'p2', 'p3'], 3)).toBeUndefined();
    expect(requorum(new Error('boom'), ['p1', 'p2', 'p3'], 3)).toBeUndefined();
  });
});
