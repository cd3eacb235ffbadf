/**
 * How a party that fails while it starts is reported, on real party processes: a party killed by a
 * signal (the OOM killer, V8's abort on a heap limit, an operator's kill -9) is reported as such,
 * with the signal, instead of being waited on as if it might still listen; a failure that is no
 * taken port is not laid out again and keeps its own message.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { layoutCluster, type PartyProcess, spawnParty, startCluster } from './cluster.js';

const dirs: string[] = [];
const running: PartyProcess[] = [];
afterAll(async () => {
  await Promise.all(running.map((p) => p.stop('SIGKILL')));
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

const PARTIES = [
  { id: 'monitoring', role: 'monitoring' as const },
  { id: 'strategy', role: 'strategy' as const },
  { id: 'audit', role: 'audit' as const },
];

function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'aaps-start-failure-'));
  dirs.push(d);
  return d;
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
});
