/**
 * Policy files for a local cluster whose departments know that `shop` runs in staging, as the
 * test fixtures' proposals declare it (`LOW_RISK`). Without a map `shop` is `unknown` to every
 * party, which then refuses a proposal declaring staging (`risk.environment_understated`): the
 * declared environment is the gateway's word, the map is the department's own.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { RosterParty } from '@aaps/agents';
import { policyFor } from '../../packages/agents/src/policy/test-helpers/fixtures.js';

/** `layoutCluster`'s `policyFor`: each party's default policy mapping `shop` to staging, written under `dir`. */
export function shopStagingPolicies(dir: string): (party: RosterParty) => string {
  return (party) => {
    const path = join(dir, `${party.id}.policy.json`);
    writeFileSync(path, JSON.stringify(policyFor(party.role)));
    return path;
  };
}
