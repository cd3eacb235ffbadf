/**
 * `maintenance` is no party's role: the gateway's executor does maintenance (docs/architecture.md),
 * and its workflow runs a step on monitoring, problem-solver, strategy, quality-assurance and audit
 * only. `aaps up`, `aaps party init` and the roster agree on those roles; a roster with a
 * maintenance party stops `aaps gateway` with one line naming them. Before: accepted, and the
 * party held a key share the workflow never asked for a step.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { layoutCluster, PARTY_ROLES } from '@aaps/agents';
import { afterAll, describe, expect, it } from 'vitest';
import { runCapture } from './test-helpers/run-capture.js';
import { UP_PARTIES } from './up.js';

const dir = mkdtempSync(join(tmpdir(), 'aaps-maintenance-role-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('a maintenance party', () => {
  it('aaps up runs one party per workflow role, and no maintenance party', () => {
    expect(UP_PARTIES.map((p) => p.role)).toEqual([...PARTY_ROLES]);
  });

  it('aaps gateway refuses a roster.json with one: exit 2, one line naming the party and the roles', async () => {
    await layoutCluster({ dir });
    const path = join(dir, 'roster.json');
    const roster = JSON.parse(readFileSync(path, 'utf8')) as { parties: { role: string }[] };
    roster.parties[4]!.role = 'maintenance';
    writeFileSync(path, JSON.stringify(roster));
    const r = await runCapture(['gateway', '--data-dir', dir, '--port', '0']);
    expect(r.code).toBe(2);
    expect(r.err).toHaveLength(1);
    expect(r.err[0]).toContain(
      "parties[4].role: expected one of monitoring, problem-solver, strategy, quality-assurance, audit (the roles the workflow runs; maintenance is the gateway's executor, not a party)",
    );
  });
});
