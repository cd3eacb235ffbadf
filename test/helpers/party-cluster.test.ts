/**
 * The fault suites' party cluster helper on real party processes: a start that fails leaves
 * nothing behind (no process, no temporary directory), as the suites' `afterAll` has no cluster
 * to stop or remove then.
 */
import { readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { startPartyCluster } from './party-cluster.js';

const prefix = `aaps-helper-fail-${process.pid}-`;
const leftOver = () => readdirSync(tmpdir()).filter((n) => n.startsWith(prefix));
afterAll(() => {
  for (const n of leftOver()) rmSync(join(tmpdir(), n), { recursive: true, force: true });
});

describe('startPartyCluster', () => {
  it('removes its temporary directory when its parties cannot start', async () => {
    // A threshold above the party count: every party refuses the roster at start (not a port race).
    const failure = await startPartyCluster({ prefix, threshold: 9 }).then(
      () => undefined,
      (e: unknown) => e as Error,
    );
    expect(failure?.message).toMatch(/exited with 2/);
    expect(leftOver()).toEqual([]);
  }, 60_000);
});
