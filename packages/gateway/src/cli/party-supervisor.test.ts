/** aaps up's party supervisor, on real party processes: a party that dies is started again. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { memoryLogger, type PartyProcess, spawnParty, startCluster } from '@aaps/agents';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { superviseParties } from './party-supervisor.js';

let dir: string;
let parties: PartyProcess[] = [];
let configPaths: Record<string, string>;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'aaps-supervise-'));
  const started = await startCluster({
    dir,
    threshold: 2,
    parties: [
      { id: 'monitoring', role: 'monitoring' },
      { id: 'strategy', role: 'strategy' },
      { id: 'audit', role: 'audit' },
    ],
  });
  configPaths = started.layout.configPaths;
  parties = started.procs;
}, 60_000);

afterAll(async () => {
  await Promise.all(parties.map((p) => p.stop('SIGKILL')));
  rmSync(dir, { recursive: true, force: true });
});

const answers = async (url: string) => {
  try {
    return (await fetch(`${url}/healthz`, { signal: AbortSignal.timeout(1000) })).ok;
  } catch {
    return false;
  }
};

async function until(check: () => boolean | Promise<boolean>, ms = 15_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('superviseParties', () => {
  it('starts a party that was killed again, says so, and stops restarting once told to', async () => {
    const lines: string[] = [];
    const logger = memoryLogger('supervisor');
    const supervisor = superviseParties(parties, {
      say: (l) => lines.push(l),
      logger,
      respawn: (p) => spawnParty(p.id, p.url, configPaths[p.id]!),
      minWaitMs: 50,
    });
    const victim = parties[1]!;
    victim.child.kill('SIGKILL');
    await until(() => supervisor.restarts()['strategy'] === 1);
    expect(parties[1]).not.toBe(victim);
    await until(() => lines.some((l) => l.includes('strategy is back')));
    expect(await answers(victim.url)).toBe(true);
    expect(lines[0]).toMatch(/^parties: strategy exited \(signal SIGKILL\); starting it again in /);
    expect(logger.lines.some((l) => l.includes('"event":"party.exited"'))).toBe(true);

    supervisor.stop();
    const other = parties[0]!;
    other.child.kill('SIGKILL');
    await until(() => other.child.exitCode !== null || other.child.signalCode !== null);
    await new Promise((r) => setTimeout(r, 300));
    expect(parties[0]).toBe(other);
    expect(supervisor.restarts()['monitoring']).toBeUndefined();
    expect(await answers(other.url)).toBe(false);
  }, 60_000);

  it('a restart that throws (its log directory was removed) is logged and tried again, not fatal', async () => {
    const lines: string[] = [];
    const logger = memoryLogger('supervisor');
    let calls = 0;
    const supervisor = superviseParties(parties, {
      say: (l) => lines.push(l),
      logger,
      // The first restart of audit opens its log file in a directory that is gone: openSync
      // throws ENOENT. (The party the test above left dead is started again too.)
      respawn: (p) => {
        const gone = p.id === 'audit' && calls++ === 0;
        return spawnParty(p.id, p.url, configPaths[p.id]!, {
          logFile: join(dir, gone ? 'removed-logs' : '.', `party-${p.id}.log`),
        });
      },
      minWaitMs: 50,
    });
    const victim = parties[2]!;
    victim.child.kill('SIGKILL');
    await until(() => supervisor.restarts()['audit'] === 1);
    await until(() => lines.some((l) => l.includes('audit is back')));
    supervisor.stop();
    expect(calls).toBe(2);
    expect(parties[2]).not.toBe(victim);
    expect(await answers(victim.url)).toBe(true);
    const events = logger.lines
      .map((l) => JSON.parse(l) as { event: string; party?: string; code?: string; restart_in_ms?: number })
      .filter((l) => l.party === 'audit');
    expect(events.map((l) => l.event)).toEqual(['party.exited', 'party.restart_failed', 'party.restarted']);
    // The wait grows after the failed try.
    expect(events[1]).toMatchObject({ code: 'ENOENT', restart_in_ms: 100 });
    expect(events[0]).toMatchObject({ restart_in_ms: 50 });
  }, 60_000);
});
