/**
 * `aaps-verify` on a valid bundle says how the incident ended, as the signed Statement records it
 * (`predicate.incident.state`): a valid bundle of a rejected incident is valid evidence (exit 0),
 * and its line must not read like that of a resolved one.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type BuildBundleInput, buildBundle } from '../bundle/build.js';
import { ED25519_SUITE } from '../keys.js';
import { CLI, ensureBuilt } from '../test-helpers/build-dist.js';
import { frostSigner, logBundles, makeApprovedInput, makeRoster } from '../test-helpers/fixtures.js';

const dir = mkdtempSync(join(tmpdir(), 'aaps-verify-outcome-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const group = frostSigner(ED25519_SUITE, 3, 5);
const roster = makeRoster(5);
const key = Buffer.from(group.publicKey).toString('hex');
const files: Record<string, string> = {};

function run(args: string[]): { code: number | null; out: string[] } {
  const r = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', timeout: 60_000 });
  return { code: r.status, out: r.stdout.split('\n').filter((l) => l.length > 0) };
}

/** The input with `state` as the Statement's `incident.state` (none: left out). */
function stating(input: BuildBundleInput, state: string | undefined): BuildBundleInput {
  return state === undefined ? input : { ...input, incident: { ...input.incident, state } };
}

beforeAll(async () => {
  ensureBuilt();
  const inputs: Record<string, BuildBundleInput> = {
    // Executed, quality assurance passed it: resolved.
    resolved: stating(await makeApprovedInput(group, roster, { incidentId: 'inc-resolved' }), 'resolved'),
    // Strategy refused the proposal: nothing executed, the incident was rejected.
    rejected: stating(
      await makeApprovedInput(group, roster, { incidentId: 'inc-rejected', strategyDecision: 'refuse' }),
      'rejected',
    ),
    // A bundle sealed before the predicate stated the ending.
    unstated: await makeApprovedInput(group, roster, { incidentId: 'inc-unstated' }),
  };
  const names = Object.keys(inputs);
  const built = await Promise.all(names.map((n) => buildBundle(inputs[n]!, group.sign)));
  const logged = await logBundles(built, group);
  for (const [i, n] of names.entries()) {
    files[n] = join(dir, `${n}.json`);
    writeFileSync(files[n]!, JSON.stringify(logged[i]));
  }
}, 120_000);

describe('aaps-verify on a valid bundle states the outcome the Statement records', () => {
  it('in its line: resolved, rejected, or not stated; exit 0 for each', () => {
    expect(run([files['resolved']!, '--key', key])).toEqual({
      code: 0,
      out: ['valid: incident/inc-resolved (log index 0), outcome: resolved'],
    });
    expect(run([files['rejected']!, '--key', key])).toEqual({
      code: 0,
      out: ['valid: incident/inc-rejected (log index 1), outcome: rejected'],
    });
    expect(run([files['unstated']!, '--key', key])).toEqual({
      code: 0,
      out: ['valid: incident/inc-unstated (log index 2), outcome: not stated'],
    });
  });

  it('in --json: "outcome" beside "incidentId", absent when the Statement states none', () => {
    const report = (name: string) => JSON.parse(run([files[name]!, '--key', key, '--json']).out.join('\n'));
    expect(report('resolved')).toMatchObject({
      valid: true,
      incidentId: 'inc-resolved',
      outcome: 'resolved',
    });
    expect(report('rejected')).toMatchObject({
      valid: true,
      incidentId: 'inc-rejected',
      outcome: 'rejected',
    });
    expect(report('unstated')).not.toHaveProperty('outcome');
  });

  it('in a directory run, --json carries it per bundle', () => {
    const r = run([dir, '--key', key, '--json', '--jobs', '1']);
    expect(r.code).toBe(0);
    const lines = r.out.map((l) => JSON.parse(l) as { bundle?: string; outcome?: string });
    expect(lines.filter((l) => l.bundle !== undefined).map((l) => [l.bundle, l.outcome ?? null])).toEqual([
      ['rejected.json', 'rejected'],
      ['resolved.json', 'resolved'],
      ['unstated.json', null],
    ]);
  });
});
