/**
 * `aaps up` keeps its party processes running: a party that exits while `aaps up` runs (killed, out
 * of memory, a crash) is reported and started again, after a wait that grows while it keeps
 * exiting (1 s, doubling, at most 30 s; back to 1 s once it stayed up a minute). Without this a
 * dead party stayed dead, unnoticed, until the whole stack was restarted. A restart that fails
 * (the log file cannot be opened, the process cannot be spawned) is logged (`party.restart_failed`)
 * and tried again with the same growing wait.
 */
import type { Logger, PartyProcess } from '@aaps/agents';

/** A failure's code (`ENOENT`, `EMFILE`, `EAGAIN`, an AAPS code), never its message. */
function errorCode(e: unknown): string {
  const code = (e as { code?: unknown } | undefined)?.code;
  return typeof code === 'string' ? code : 'INTERNAL';
}

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

  /** The next wait for `id`: doubling while it keeps failing, the minimum after a stable run. */
  const nextWait = (id: string, upFor: number) => {
    const wait = upFor >= stable ? minWait : Math.min(maxWait, (waits.get(id) ?? minWait / 2) * 2);
    waits.set(id, wait);
    return wait;
  };

  /**
   * Start `party` (at `index`) again in `wait` ms. A restart that fails (its log file cannot be
   * opened: a removed directory, EMFILE; the process cannot be spawned: EAGAIN, ENOMEM) is logged
   * and tried again with a longer wait: it never takes `aaps up` down.
   */
  const restartIn = (index: number, party: PartyProcess, wait: number) => {
    const timer = setTimeout(() => {
      timers.delete(timer);
      if (stopped) return;
      let next: PartyProcess;
      try {
        next = opts.respawn(party);
      } catch (e) {
        restartFailed(index, party, e);
        return;
      }
      parties[index] = next;
      counts[party.id] = (counts[party.id] ?? 0) + 1;
      watch(index);
      next.ready().then(
        () => {
          if (stopped) return;
          opts.say(`parties: ${party.id} is back (${next.url})`);
          opts.logger.info('party.restarted', { party: party.id, restarts: counts[party.id] });
        },
        (e: unknown) => {
          // Its exit, or its failure to spawn, is watched below and retried; a party that answers
          // nothing without exiting is left to the operator.
          if (next.child.pid === undefined) return;
          opts.logger.error('party.restart_failed', {
            party: party.id,
            code: errorCode(e),
            error: (e as Error).message,
          });
        },
      );
    }, wait);
    timer.unref?.();
    timers.add(timer);
  };

  const restartFailed = (index: number, party: PartyProcess, e: unknown) => {
    if (stopped) return;
    const wait = nextWait(party.id, 0);
    const code = errorCode(e);
    opts.say(`parties: ${party.id} could not be started (${code}); trying again in ${wait / 1000} s`);
    opts.logger.error('party.restart_failed', { party: party.id, code, restart_in_ms: wait });
    restartIn(index, party, wait);
  };

  const watch = (index: number) => {
    const party = parties[index]!;
    const startedAt = Date.now();
    let seen = false;
    const onExit = (code: number | null, signal: NodeJS.Signals | null) => {
      if (stopped || seen) return;
      seen = true;
      const wait = nextWait(party.id, Date.now() - startedAt);
      const how = signal !== null ? `signal ${signal}` : `code ${code}`;
      opts.say(`parties: ${party.id} exited (${how}); starting it again in ${wait / 1000} s`);
      opts.logger.error('party.exited', { party: party.id, code, signal, restart_in_ms: wait });
      restartIn(index, party, wait);
    };
    const { child } = party;
    // A process that could not be spawned (EAGAIN, ENOMEM) emits 'error' and never exits.
    child.on('error', (e) => {
      if (stopped || seen || child.pid !== undefined) return;
      seen = true;
      restartFailed(index, party, e);
    });
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
