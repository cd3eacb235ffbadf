/**
 * `aaps party policy --role ROLE`: print a role's default policy, the same JSON as the shipped
 * `policies/<role>.json` (a test keeps them equal), for a department to save and edit into its own
 * policy file. Exit 0, or one readable line and exit 2.
 */

import { missingValue, splitFlag } from '../flag-arg.js';
import { defaultPolicy } from '../policy/defaults.js';
import { type AgentRole, isPartyRole, PARTY_ROLES } from '../policy/roles.js';
import { PARTY_ROLE_EXPECTED } from '../roster.js';
import type { CliIo } from './party-backup.js';

const USAGE = `usage: aaps party policy --role ROLE   print ROLE's default policy (${PARTY_ROLES.join(', ')}) as JSON`;

const stdio: CliIo = {
  out: (line) => process.stdout.write(`${line}\n`),
  err: (line) => process.stderr.write(`${line}\n`),
};

/** The default policy of `role` as a file holds it (two-space JSON, final newline omitted). */
export function defaultPolicyText(role: AgentRole): string {
  return JSON.stringify(defaultPolicy(role), null, 2);
}

export function runPartyPolicy(argv: readonly string[], io: CliIo = stdio): number {
  if (argv.includes('--help') || argv.includes('-h')) {
    io.out(USAGE);
    return 0;
  }
  let role: string | undefined;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const flag = splitFlag(a);
    if (flag === undefined || flag.name !== 'role') {
      io.err(`aaps party policy: unexpected ${JSON.stringify(a)}; ${USAGE}`);
      return 2;
    }
    if (flag.inline === undefined && missingValue(argv[i + 1])) {
      io.err(`aaps party policy: --role needs a value; ${USAGE}`);
      return 2;
    }
    role = flag.inline ?? argv[++i]!;
  }
  if (role === undefined) {
    io.err(`aaps party policy: --role is required; ${USAGE}`);
    return 2;
  }
  // A party's role only: no party runs maintenance's policy (the gateway's executor does maintenance).
  if (!isPartyRole(role)) {
    io.err(`aaps party policy: --role ${JSON.stringify(role)}: ${PARTY_ROLE_EXPECTED}`);
    return 2;
  }
  io.out(defaultPolicyText(role));
  return 0;
}
