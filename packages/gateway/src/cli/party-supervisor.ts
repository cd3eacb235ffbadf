/**
 * `aaps up` keeps its party processes running: a party that exits while `aaps up` runs (killed, out
 * of memory, a crash) is reported and started again, after a wait that grows while it keeps
 * exiting (1 s, doubling, at most 30 s; back to 1 s once it stayed up a minute). Without this a
 * dead party stayed dead, unnoticed, until the whole stack was restarted.
 */
import type { Logger, PartyProcess } from '@aaps/agents';

export interface SupervisorOptions {
  /** One line for the operator's terminal. */
  say: (line: string) => void;
  logger: Logger;
  /** Start `party` again (a new process on the same URL, config and log). */
  respawn: (party: PartyProcess) => PartyProcess;
  minWaitMs?: number;
  maxWaitMs?: number;
  /** How long a party must stay up for its wait to go back to the minimum. */
  stableMs?: number;
}

export interface Supervisor {
  /** Stop restarting (before the parties are stopped on purpose). */
  stop(): void;
  /** Restarts so far, per party id. */
  restarts(): Readonly<Record<string, number>>;
}

/** Watch every process of `parties` (replaced in place when restarted). */
export function superviseParties(parties: PartyProcess[], opts: SupervisorOptions): Supervisor {
  const minWait = opts.minWaitMs ?? 1_000;
  const maxWait = opts.maxWaitMs ?? 30_000;
  const stable = opts.stableMs ?? 60_000;
  let stopped = false;
  const timers = new Set<ReturnType<typeof setTimeout>>();
  const counts: Record<string, number> = {};
  const waits = new Map<string, number>();

  const watch = (index: number) => {
    const party = parties[index]!;
    const startedAt = Date.now();
    const onExit = (code: number | null, signal: NodeJS.Signals | null) => {
      if (stopped) return;
      const upFor = Date.now() - startedAt;
      const wait = upFor >= stable ? minWait : Math.min(maxWait, (waits.get(party.id) ?? minWait / 2) * 2);
      waits.set(party.id, wait);
      const how = signal !== null ? `signal ${signal}` : `code ${code}`;
      opts.say(`parties: ${party.id} exited (${how}); starting it again in ${wait / 1000} s`);
      opts.logger.error('party.exited', { party: party.id, code, signal, restart_in_ms: wait });
      const timer = setTimeout(async () => {
        timers.delete(timer);
        if (stopped) return;
        const next = opts.respawn(party);
        parties[index] = next;
        counts[party.id] = (counts[party.id] ?? 0) + 1;
        watch(index);
        try {
          await next.ready();
          if (stopped) return;
          opts.say(`parties: ${party.id} is back (${next.url})`);
          opts.logger.info('party.restarted', { party: party.id, restarts: counts[party.id] });
        } catch (e) {
          // Its exit (if it exited) is watched above and retried; a party that answers nothing
          // without exiting is left to the operator.
          opts.logger.error('party.restart_failed', { party: party.id, error: (e as Error).message });
        }
      }, wait);
      timer.unref?.();
      timers.add(timer);
    };
    const { child } = party;
    if (child.exitCode !== null || child.signalCode !== null) onExit(child.exitCode, child.signalCode);
    else child.once('exit', onExit);
  };
  for (let i = 0; i < parties.length; i++) watch(i);
  return {
    stop() {
      stopped = true;
      for (const t of timers) clearTimeout(t);
      timers.clear();
    },
    restarts: () => ({ ...counts }),
  };
}
