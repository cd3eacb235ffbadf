/**
 * A first `aaps up` (real party processes) that fails once it has written its setup (here: a
 * department's policy file that a party cannot read, so the party exits) leaves the data
 * directory as if it had never started, but for the logs that say why: no roster with its probed
 * ports, no identity keys, no token. The next start is a first start again, not the reuse of a
 * half-made setup (whose threshold it would otherwise hold the operator to, for a key no DKG made).
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runAaps } from '../test-helpers/aaps-process.js';
import { snapshot } from '../test-helpers/dir-snapshot.js';

const root = mkdtempSync(join(tmpdir(), 'aaps-up-failed-first-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

const badPolicies = join(root, 'bad-policies');
mkdirSync(badPolicies);
writeFileSync(join(badPolicies, 'audit.json'), '{ not json');

describe('aaps up: a first start that fails after writing its setup', () => {
  it('removes what it wrote (roster, keys, party directories, token) and keeps the logs, naming both', async () => {
    const dataDir = join(root, 'first');
    const r = await runAaps(
      ['up', '--data-dir', dataDir, '--port', '0', '--party-policy-dir', badPolicies],
      root,
    );
    expect(r.code).toBe(1);
    expect(r.err).toContain('party audit exited with 2');
    expect(r.out).toContain('token: created');
    expect(r.out).toMatch(
      /aaps: start failed; removed what it wrote: api-token, .*roster\.json.*; kept logs\/ \(the gateway's and the parties' logs may say why\)/,
    );
    const left = snapshot(dataDir);
    // Only the logs: the gateway's and each party's (the audit party's says what it could not read).
    expect(Object.keys(left).filter((p) => p !== 'logs' && !p.startsWith(`logs${'/'}`))).toEqual([]);
    expect(readFileSync(join(dataDir, 'logs', 'party-audit.log'), 'utf8')).toContain(
      join(badPolicies, 'audit.json'),
    );
  }, 120_000);

  it('so the next start is a first start: another --threshold is not refused for a key no DKG made', async () => {
    const dataDir = join(root, 'again');
    const first = await runAaps(
      ['up', '--data-dir', dataDir, '--port', '0', '--party-policy-dir', badPolicies, '--threshold', '4'],
      root,
    );
    expect(first.code).toBe(1);
    // The operator fixes nothing but the threshold: the start gets as far as the first did.
    const second = await runAaps(
      ['up', '--data-dir', dataDir, '--port', '0', '--party-policy-dir', badPolicies],
      root,
    );
    expect(second.err).not.toContain('holds a 4-of-5');
    expect(second.err).toContain('party audit exited with 2');
    expect(second.code).toBe(1);
  }, 120_000);
});
