/**
 * The event streams (`GET /v1/incidents/{id}/events`) the gateway holds open: at most `maxTotal`
 * in all and `maxPerToken` under one token's name. Each stream costs tens of KiB of heap for as
 * long as its client keeps it, so without these one `read` token could open streams until the
 * heap runs out. A stream takes a slot before it starts and gives it back once, when it ends.
 */
import { AapsError } from '@aaps/mpc-core';

export const DEFAULT_MAX_EVENT_STREAMS = 1000;
export const DEFAULT_MAX_EVENT_STREAMS_PER_TOKEN = 100;
/**
 * The longest one stream stays open: then it ends, and its client reconnects with `Last-Event-ID`
 * (an `EventSource` does so by itself). A client that never reads is let go by then.
 */
export const DEFAULT_STREAM_MAX_MS = 30 * 60_000;

/** Seconds a refused client is told to wait (`Retry-After`). */
export const STREAM_RETRY_AFTER_SECONDS = 30;

export interface StreamSlots {
  /**
   * A slot for a stream under `token` (its name), and the function that gives it back (once; a
   * second call does nothing). Throws `TOO_MANY_REQUESTS` (429) when the token holds its share,
   * `UNAVAILABLE` (503) when all slots are taken.
   */
  acquire(token: string): () => void;
  /** Streams open now, in all. */
  open(): number;
}

export function createStreamSlots(limits: { maxTotal: number; maxPerToken: number }): StreamSlots {
  const byToken = new Map<string, number>();
  let total = 0;
  return {
    acquire(token) {
      const held = byToken.get(token) ?? 0;
      if (held >= limits.maxPerToken)
        throw new AapsError(
          'TOO_MANY_REQUESTS',
          `this token holds ${held} event streams, its most (--max-event-streams-per-token); close one or retry later`,
        );
      if (total >= limits.maxTotal)
        throw new AapsError(
          'UNAVAILABLE',
          `the gateway holds ${total} event streams, its most (--max-event-streams); retry later`,
        );
      byToken.set(token, held + 1);
      total++;
      let released = false;
      return () => {
        if (released) return;
        released = true;
        total--;
        const left = (byToken.get(token) ?? 1) - 1;
        if (left > 0) byToken.set(token, left);
        else byToken.delete(token);
      };
    },
    open: () => total,
  };
}
