/**
 * Reading a department's policy file for a party: parsed as the party enforces it, and refused
 * when it is another role's (the party would refuse every proposal). `aaps party init` reads it
 * as the party's start does, so a wrong file is told before the roster entry goes out.
 */
import { ValidationError } from '@aaps/mpc-core';
import { readJsonFile } from '../store/files.js';
import type { AgentRole } from './roles.js';
import { type Policy, parsePolicy } from './schema.js';

/**
 * The policy in `path` for a party of `role`. `whose` completes the refusal of another role's
 * policy ("but <whose>"), e.g. `party-3 is audit in the roster`.
 */
export function readPolicyFile(path: string, role: AgentRole, whose: string): Policy {
  const policy = parsePolicy(readJsonFile(path, 'policy'));
  if (policy.role !== role) {
    throw new ValidationError(
      'INVALID_ARGUMENT',
      `policy ${path} is for role ${policy.role}, but ${whose}: it would refuse every proposal (policy.role_mismatch)`,
      ['policy.role'],
    );
  }
  return policy;
}
