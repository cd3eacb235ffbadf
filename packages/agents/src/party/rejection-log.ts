/**
 * Coalesced `request.rejected` warnings. Anyone who can reach a party can send it requests it
 * refuses, so one warning per refusal would let strangers grow its log without bound: refusals
 * are logged per reason as {@link coalescedLog} says (the first, then at most one line a minute
 * with `suppressed`). The metrics counter still counts every refusal.
 */
import { coalescedLog } from '../coalesced-log.js';
import type { LogFields, Logger } from '../logger.js';

export interface RejectionLog {
  /** Log (or count) one refusal; `fields` go on the line when it is logged. */
  rejected(reason: string, fields: LogFields): void;
  /** Write the counts not yet logged (a stopping party, before its log closes). */
  flush(): void;
}

export function rejectionLog(logger: Logger, now: () => number = Date.now, everyMs = 60_000): RejectionLog {
  const log = coalescedLog(logger, 'request.rejected', now, everyMs);
  return { rejected: (reason, fields) => log.note(reason, { reason, ...fields }), flush: () => log.flush() };
}
