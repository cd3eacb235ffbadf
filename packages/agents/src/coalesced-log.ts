/**
 * Log lines that strangers can cause (warnings; the gateway's refused requests at info and its
 * 5xx answers at error), coalesced per key, so they cannot grow a process's log without bound:
 * per key, the first event is logged; later ones within `everyMs` (a minute) are only counted,
 * and when that minute ends one line carries `suppressed`, how many went unlogged since the last
 * line, with the fields of the last of them (written then even if no event follows: a burst and
 * then silence is not left uncounted in the log). Keys are a small fixed set (refusal reasons, or
 * status, code and route pattern), so the state is a few entries and at most one timer each.
 * Metrics, where a caller keeps them, still count every event.
 */
import type { LogFields, Logger } from './logger.js';

export interface CoalescedLog {
  /** Log (or count) one event of `key`; `fields` go on the line when it is logged. */
  note(key: string, fields: LogFields): void;
  /**
   * Write now the line each key's minute would end with (for a stopping process, before its log
   * closes) and cancel the timers.
   */
  flush(): void;
}

/** Runs `run` in `ms`; the returned function cancels it. Must not keep the process alive. */
export type Schedule = (run: () => void, ms: number) => () => void;

const unrefTimeout: Schedule = (run, ms) => {
  const timer = setTimeout(run, ms);
  timer.unref();
  return () => clearTimeout(timer);
};

interface KeyState {
  /** When the key's last line was written. */
  at: number;
  /** Events counted since that line, and the fields of the last of them. */
  suppressed: number;
  fields?: LogFields;
  /** Cancels the pending end-of-minute line, if one is scheduled. */
  cancel?: () => void;
}

/** Coalesced `event` lines on `logger` at `level`, at most one line per key every `everyMs`. */
export function coalescedLog(
  logger: Logger,
  event: string,
  now: () => number = Date.now,
  everyMs = 60_000,
  level: 'info' | 'warn' | 'error' = 'warn',
  schedule: Schedule = unrefTimeout,
): CoalescedLog {
  const last = new Map<string, KeyState>();
  const counted = (suppressed: number) =>
    suppressed > 0 ? { suppressed, note: `${suppressed} more for this reason since the last line` } : {};
  const endOfMinute = (state: KeyState) => {
    state.cancel = undefined;
    if (state.suppressed === 0) return;
    logger[level](event, { ...state.fields, ...counted(state.suppressed) });
    state.at = now();
    state.suppressed = 0;
    state.fields = undefined;
  };
  return {
    note(key, fields) {
      const t = now();
      const seen = last.get(key);
      if (seen !== undefined && t - seen.at < everyMs) {
        seen.suppressed++;
        seen.fields = fields;
        seen.cancel ??= schedule(() => endOfMinute(seen), seen.at + everyMs - t);
        return;
      }
      seen?.cancel?.();
      last.set(key, { at: t, suppressed: 0 });
      logger[level](event, { ...fields, ...counted(seen?.suppressed ?? 0) });
    },
    flush() {
      for (const state of last.values()) {
        state.cancel?.();
        endOfMinute(state);
      }
    },
  };
}
