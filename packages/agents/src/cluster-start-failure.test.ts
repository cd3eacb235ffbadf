/**
 * How a party that fails while it starts is reported, on real party processes: a party killed by a
 * signal (the OOM killer, V8's abort on a heap limit, an operator's kill -9) is reported as such,
 * with the signal, instead of being waited on as if it might still listen; a failure that is no
 * taken port is not laid out again and keeps its own message.
 */
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { layoutCluster, spawnParty, startCluster, startParties } from './cluster.js';
import { scratchCluster, THREE_PARTIES } from './test-helpers/scratch-cluster.js';

const scratch = scratchCluster('aaps-start-failure-');
afterAll(scratch.cleanup);
const PARTIES = THREE_PARTIES;
const running = scratch.running;
const tempDir = scratch.tempDir;

/** The pids of running processes whose command line names `dir`. */
function processesUnder(dir: string): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (readFileSync(`/proc/${entry}/cmdline`, 'utf8').includes(dir)) pids.push(Number(entry));
    } catch {
      // gone meanwhile
    }
  }
  return pids;
}

const failureOf = (p: Promise<unknown>) =>
  p.then(
    () => undefined,
    (e: unknown) => e as Error,
  );

describe('a party that fails while it starts', () => {
  it('killed by a signal: ready() names the signal instead of waiting out its timeout as not ready', async () => {
    const layout = await layoutCluster({ dir: tempDir(), parties: PARTIES, threshold: 2 });
    const party = layout.roster.parties[0]!;
    const proc = spawnParty(party.id, party.url, layout.configPaths[party.id]!);
    running.push(proc);
    proc.child.kill('SIGKILL');
    const failure = await failureOf(proc.ready(5_000));
    expect(failure?.message).toContain(`party ${party.id}`);
    expect(failure?.message).toContain('SIGKILL');
    expect(failure?.message).not.toContain('did not become ready');
  }, 30_000);

  it('with a bad policy file: startCluster lays nothing out again and the error names the file', async () => {
    const dir = tempDir();
    const bad = join(dir, 'strategy-policy.json');
    writeFileSync(bad, '{ not json');
    let prepared = 0;
    const failure = await failureOf(
      startCluster(
        {
          dir,
          parties: PARTIES,
          threshold: 2,
          policyFor: (p) => (p.id === 'strategy' ? bad : undefined),
        },
        { prepare: () => void prepared++ },
      ),
    );
    expect(prepared).toBe(1);
    expect(failure?.message).toContain('party strategy exited with 2');
    expect(failure?.message).toContain(bad);
  }, 60_000);

  it('a spawn that throws for one party (E2BIG): startParties leaves none of the others running', async () => {
    const dir = tempDir();
    const layout = await layoutCluster({ dir, parties: PARTIES, threshold: 2 });
    const last = PARTIES[PARTIES.length - 1]!.id;
    // One argument longer than the kernel takes (MAX_ARG_STRLEN): that party's spawn throws.
    const configPaths = { ...layout.configPaths, [last]: join(dir, 'x'.repeat(256 * 1024)) };
    const failure = await failureOf(startParties({ ...layout, configPaths }));
    expect((failure as NodeJS.ErrnoException | undefined)?.code).toBe('E2BIG');
    expect(processesUnder(dir)).toEqual([]);
  }, 30_000);
});
