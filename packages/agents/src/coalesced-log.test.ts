/**
 * coalescedLog: per key, the first event at once, then at most one line a minute carrying how
 * many went unlogged; that line is written when the minute ends, also when nothing follows.
 */
import { describe, expect, it } from 'vitest';
import { coalescedLog, type Schedule } from './coalesced-log.js';
import { memoryLogger } from './logger.js';

/** A clock and a scheduler the test moves by hand. */
function manualTime() {
  let t = 1_000_000;
  let pending: { at: number; run: () => void }[] = [];
  const schedule: Schedule = (run, ms) => {
    const entry = { at: t + ms, run };
    pending.push(entry);
    return () => {
      pending = pending.filter((p) => p !== entry);
    };
  };
  const advance = (ms: number) => {
    t += ms;
    for (const p of pending.filter((p) => p.at <= t)) {
      pending = pending.filter((q) => q !== p);
      p.run();
    }
  };
  return { now: () => t, schedule, advance, pending: () => pending.length };
}

const lines = (logger: ReturnType<typeof memoryLogger>) =>
  logger.lines.map(
    (l) => JSON.parse(l) as { event: string; reason: string; n?: number; suppressed?: number },
  );

describe('coalescedLog', () => {
  it('a burst and then silence: the count is written when the minute ends, with the last event’s fields', () => {
    const logger = memoryLogger('party');
    const time = manualTime();
    const log = coalescedLog(logger, 'request.rejected', time.now, 60_000, 'warn', time.schedule);
    for (let n = 0; n < 10; n++) log.note('stale', { reason: 'stale', n });
    expect(lines(logger)).toEqual([expect.objectContaining({ reason: 'stale', n: 0 })]);
    expect(time.pending()).toBe(1); // one timer for the key, however many events
    time.advance(59_999);
    expect(lines(logger)).toHaveLength(1);
    time.advance(1);
    expect(lines(logger)).toHaveLength(2);
    expect(lines(logger)[1]).toMatchObject({
      event: 'request.rejected',
      reason: 'stale',
      n: 9,
      suppressed: 9,
    });
    // Nothing more to say: no further line, no timer left.
    time.advance(600_000);
    expect(lines(logger)).toHaveLength(2);
    expect(time.pending()).toBe(0);
  });

  it('still at most one line a minute per key: events after the counted line wait for the next minute', () => {
    const logger = memoryLogger('party');
    const time = manualTime();
    const log = coalescedLog(logger, 'request.rejected', time.now, 60_000, 'warn', time.schedule);
    log.note('stale', { reason: 'stale' });
    log.note('stale', { reason: 'stale' });
    time.advance(60_000); // the counted line (1)
    log.note('stale', { reason: 'stale' });
    log.note('stale', { reason: 'stale' });
    time.advance(30_000);
    expect(lines(logger).map((l) => l.suppressed)).toEqual([undefined, 1]);
    time.advance(30_000); // a minute after the counted line: the next one (2)
    expect(lines(logger).map((l) => l.suppressed)).toEqual([undefined, 1, 2]);
    // Other keys keep their own minute.
    log.note('budget', { reason: 'budget' });
    expect(lines(logger).at(-1)).toMatchObject({ reason: 'budget' });
    expect(lines(logger).at(-1)?.suppressed).toBeUndefined();
  });

  it('an event after the minute, before its timer ran, carries the count and cancels the timer', () => {
    const logger = memoryLogger('party');
    let t = 0;
    const cancelled: number[] = [];
    const log = coalescedLog(
      logger,
      'e',
      () => t,
      60_000,
      'warn',
      (_run, ms) => {
        const id = ms;
        return () => cancelled.push(id);
      },
    );
    log.note('k', { reason: 'k' });
    t = 10;
    log.note('k', { reason: 'k' });
    t = 60_000;
    log.note('k', { reason: 'k' });
    expect(lines(logger).map((l) => l.suppressed)).toEqual([undefined, 1]);
    expect(cancelled).toEqual([59_990]);
  });

  it('flush writes each key’s pending count at once and cancels its timer (a stopping process)', () => {
    const logger = memoryLogger('party');
    const time = manualTime();
    const log = coalescedLog(logger, 'request.rejected', time.now, 60_000, 'warn', time.schedule);
    for (let n = 0; n < 3; n++) log.note('stale', { reason: 'stale', n });
    log.note('budget', { reason: 'budget' });
    log.flush();
    expect(lines(logger).map((l) => `${l.reason} ${l.suppressed}`)).toEqual([
      'stale undefined',
      'budget undefined',
      'stale 2',
    ]);
    expect(time.pending()).toBe(0);
    log.flush();
    expect(lines(logger)).toHaveLength(3);
  });
});
