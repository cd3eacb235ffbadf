/**
 * What a spawned party process runs with: glibc's malloc arenas capped at two unless the operator's
 * environment says otherwise (docs/PERFORMANCE.md, "Memory"), read back from the live process.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { PARTY_MALLOC_ARENA_MAX, type PartyProcess, startCluster } from './cluster.js';

const dir = mkdtempSync(join(tmpdir(), 'aaps-party-env-'));
const running: PartyProcess[] = [];
afterAll(async () => {
  await Promise.all(running.map((p) => p.stop('SIGKILL')));
  rmSync(dir, { recursive: true, force: true });
});

const PARTIES = [
  { id: 'monitoring', role: 'monitoring' as const },
  { id: 'strategy', role: 'strategy' as const },
  { id: 'audit', role: 'audit' as const },
];

/** A live process's environment variable (Linux `/proc/<pid>/environ`). */
function envOf(p: PartyProcess, name: string): string | undefined {
  const vars = readFileSync(`/proc/${p.child.pid}/environ`, 'utf8').split('\0');
  return vars.find((v) => v.startsWith(`${name}=`))?.slice(name.length + 1);
}

describe('a spawned party’s environment', () => {
  it('caps malloc arenas at two by default; an operator’s MALLOC_ARENA_MAX wins', async () => {
    const saved = process.env['MALLOC_ARENA_MAX'];
    delete process.env['MALLOC_ARENA_MAX'];
    try {
      const first = await startCluster({ dir: join(dir, 'a'), parties: PARTIES, threshold: 2 });
      running.push(...first.procs);
      expect(first.procs.map((p) => envOf(p, 'MALLOC_ARENA_MAX'))).toEqual(PARTIES.map(() => '2'));
      expect(PARTY_MALLOC_ARENA_MAX).toBe('2');
      process.env['MALLOC_ARENA_MAX'] = '5';
      const second = await startCluster({ dir: join(dir, 'b'), parties: PARTIES, threshold: 2 });
      running.push(...second.procs);
      expect(second.procs.map((p) => envOf(p, 'MALLOC_ARENA_MAX'))).toEqual(PARTIES.map(() => '5'));
    } finally {
      if (saved === undefined) delete process.env['MALLOC_ARENA_MAX'];
      else process.env['MALLOC_ARENA_MAX'] = saved;
    }
  }, 60_000);
});
