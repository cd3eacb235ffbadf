/**
 * What a test of real party processes started from a layout tidies after itself: its temporary
 * directories and the parties it started, killed and removed by `cleanup` (pass it to `afterAll`).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { PartyProcess } from '../cluster.js';

/** A small cluster's parties: three roles, threshold 2 in the tests that use it. */
export const THREE_PARTIES = [
  { id: 'monitoring', role: 'monitoring' as const },
  { id: 'strategy', role: 'strategy' as const },
  { id: 'audit', role: 'audit' as const },
];

export function scratchCluster(prefix: string) {
  const dirs: string[] = [];
  const running: PartyProcess[] = [];
  return {
    /** Parties to kill at the end. */
    running,
    /** A fresh temporary directory, removed at the end. */
    tempDir(): string {
      const d = mkdtempSync(join(tmpdir(), prefix));
      dirs.push(d);
      return d;
    },
    async cleanup(): Promise<void> {
      await Promise.all(running.map((p) => p.stop('SIGKILL')));
      for (const d of dirs) rmSync(d, { recursive: true, force: true });
    },
  };
}
