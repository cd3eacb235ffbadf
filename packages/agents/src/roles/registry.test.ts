import { ValidationError } from '@aaps/mpc-core';
import { describe, expect, it } from 'vitest';
import { defaultPolicy } from '../policy/defaults.js';
import { context } from '../policy/test-helpers/fixtures.js';
import { monitoringInput, SIGNALS } from '../steps/test-helpers/signals.js';
import { ROLE_OUTPUT_TYPES, runRoleStep } from './registry.js';

describe('runRoleStep', () => {
  it("runs the party's own step and labels its outputs", () => {
    const out = runRoleStep(
      'monitoring',
      defaultPolicy('monitoring'),
      { role: 'monitoring', input: monitoringInput(SIGNALS.missingKey) },
      context(),
    );
    expect(out.outputs.map((o) => o.message_type)).toEqual(ROLE_OUTPUT_TYPES.monitoring);
  });

  it("refuses to run another role's step", () => {
    expect(() =>
      runRoleStep(
        'audit',
        defaultPolicy('audit'),
        { role: 'monitoring', input: monitoringInput(SIGNALS.missingKey) },
        context(),
      ),
    ).toThrow(ValidationError);
  });

  it("gives the problem solver the party's own policy, not the caller's", () => {
    const triaged = runRoleStep(
      'monitoring',
      defaultPolicy('monitoring'),
      { role: 'monitoring', input: monitoringInput(SIGNALS.quotaExceeded) },
      context(),
    );
    if (triaged.role !== 'monitoring') throw new Error('wrong role');
    const signal = triaged.outputs[0].payload;
    const own = defaultPolicy('problem-solver');
    const tight = {
      ...own,
      bounds: { ...own.bounds, resource_quota: { ...own.bounds.resource_quota, max_increase_factor: 1.1 } },
    };
    const out = runRoleStep(
      'problem-solver',
      tight,
      { role: 'problem-solver', input: { incident_id: 'inc-0001', signal, policy: own } },
      context(),
    );
    expect(out.outputs.map((o) => o.message_type)).toEqual(['RCAReport', 'FixProposal']);
    if (out.role !== 'problem-solver') throw new Error('wrong role');
    expect(out.outputs[1].payload.escalations.map((e) => e.kind)).toEqual(['quota_expansion']);
  });
});
