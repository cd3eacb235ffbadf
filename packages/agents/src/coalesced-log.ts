/**
 * Log lines that strangers can cause (warnings; the gateway's refused requests at info and its
 * 5xx answers at error),
 * coalesced per key, so they cannot grow a process's log without bound: per key, the first event is logged; later ones within `everyMs` (a minute) are
 * only counted, and the first event of that key after the minute logs one line carrying
 * `suppressed`, how many went unlogged since the last line. Keys are a small fixed set (refusal
 * reasons, or status, code and route pattern), so the state is a few entries. Metrics, where a caller keeps them, still count every
 * event.
 */
import type { LogFields, Logger } from './logger.js';

export interface CoalescedLog {
  /** Log (or count) one event of `key`; `fields` go on the line when it is logged. */
  note(key: string, fields: LogFields): void;
}

/** Coalesced `event` lines on `logger` at `level`, at most one line per key every `everyMs`. */
export function coalescedLog(
  logger: Logger,
  event: string,
  now: () => number = Date.now,
  everyMs = 60_000,
  level: 'info' | 'warn' | 'error' = 'warn',
): CoalescedLog {
  const last = new Map<string, { at: number; suppressed: number }>();
  return {
    note(key, fields) {
      const t = now();
      const seen = last.get(key);
      if (seen !== undefined && t - seen.at < everyMs) {
        seen.suppressed++;
        return;
      }
      const suppressed = seen?.suppressed ?? 0;
      last.set(key, { at: t, suppressed: 0 });
      logger[level](event, {
        ...fields,
        ...(suppressed > 0
          ? { suppressed, note: `${suppressed} more for this reason since the last line` }
          : {}),
      });
    },
  };
}
