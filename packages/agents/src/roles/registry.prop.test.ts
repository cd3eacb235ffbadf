import { AapsError } from '@aaps/mpc-core';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { defaultPolicy } from '../policy/defaults.js';
import { PARTY_ROLES } from '../policy/roles.js';
import { context } from '../policy/test-helpers/fixtures.js';
import { type RoleStepRequest, runRoleStep } from './registry.js';

describe('runRoleStep laws', () => {
  it('hostile input yields an output or an AapsError, never a crash', () => {
    fc.assert(
      fc.property(fc.constantFrom(...PARTY_ROLES), fc.anything(), fc.anything(), (role, input, extra) => {
        const request = {
          role,
          input: typeof input === 'object' && input !== null ? { ...input, extra } : input,
        };
        try {
          runRoleStep(role, defaultPolicy(role), request as unknown as RoleStepRequest, context());
        } catch (e) {
          expect(e).toBeInstanceOf(AapsError);
        }
      }),
    );
  });
});
