/**
 * Coalesced `request.rejected` warnings. Anyone who can reach a party can send it requests it
 * refuses, so one warning per refusal would let strangers grow its log without bound. Per reason,
 * the first refusal is logged; later ones within `everyMs` (a minute) are only counted, and the
 * first refusal of that reason after the minute logs one line carrying `suppressed`, how many
 * went unlogged since the last line. The metrics counter still counts every refusal. The reasons
 * are a fixed set, so the state is a few entries.
 */
import type { LogFields, Logger } from '../logger.js';

export interface RejectionLog {
  /** Log (or count) one refusal; `fields` go on the line when it is logged. */
  rejected(reason: string, fields: LogFields): void;
}

export function rejectionLog(logger: Logger, now: () => number = Date.now, everyMs = 60_000): RejectionLog {
  const last = new Map<string, { at: number; suppressed: number }>();
  return {
    rejected(reason, fields) {
      const t = now();
      const seen = last.get(reason);
      if (seen !== undefined && t - seen.at < everyMs) {
        seen.suppressed++;
        return;
      }
      const suppressed = seen?.suppressed ?? 0;
      last.set(reason, { at: t, suppressed: 0 });
      logger.warn('request.rejected', {
        reason,
        ...fields,
        ...(suppressed > 0
          ? { suppressed, note: `${suppressed} more refused for this reason since the last line` }
          : {}),
      });
    },
  };
}
