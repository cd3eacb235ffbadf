/**
 * Reading a request body with a size cap, a shared budget and a pace. A `Content-Length` over the
 * cap is refused before any byte is read, and a body sent without one (chunked) is read only until
 * it passes the cap: a sender cannot make the server buffer more than `max` bytes in one request.
 * The budget bounds the bytes held by all requests' bodies at once, since bodies are read before
 * their senders are authenticated: past it a request is refused as busy instead of buffered. The
 * pace bounds how long a body may hold its share of the budget: after a grace period it must keep
 * arriving at a minimum average rate, so idle or trickling senders cannot fill the budget and
 * keep it. A body holds budget only for bytes that arrived (its buffer grows from what it
 * received, never from a declared length or a fixed first chunk): a sender that declares a body
 * and stalls holds nothing, and one that sends `n` bytes holds at most about `2n`. A body whose stream fails before its end (the sender closed the connection or reset
 * it) is an outcome like the others, not an exception: it is the sender's doing, so callers answer
 * it as a 4xx, not as a server failure. The party node's authentication and the gateway's
 * body-limit middleware both read bodies through this.
 */

import { AapsError } from '@aaps/mpc-core';

/** How fast a body must arrive: within `graceMs`, then at least `minBytesPerSecond` on average. */
export interface BodyPace {
  graceMs: number;
  minBytesPerSecond: number;
}

/** 10 s, then 16 KiB/s: far below any real client on the networks parties and gateways use. */
export const DEFAULT_BODY_PACE: BodyPace = { graceMs: 10_000, minBytesPerSecond: 16 * 1024 };

/**
 * Bytes of request bodies that may be held at once across requests. A reader takes bytes as its
 * buffer grows and gives them all back once its request is done (`release`).
 */
export class BodyBudget {
  #free: number;

  constructor(readonly bytes: number) {
    if (!Number.isSafeInteger(bytes) || bytes < 1)
      throw new RangeError('BodyBudget: expected a positive integer');
    this.#free = bytes;
  }

  /** Bytes not held by any request now. */
  get free(): number {
    return this.#free;
  }

  take(n: number): boolean {
    if (n > this.#free) return false;
    this.#free -= n;
    return true;
  }

  give(n: number): void {
    this.#free = Math.min(this.bytes, this.#free + n);
  }
}

/** The error a request refused for the budget gets (503, to be retried). */
export function bodiesBusyError(): AapsError {
  return new AapsError('UNAVAILABLE', 'too many request bodies are being read; retry');
}

/**
 * Why a body was not read: over the cap, no budget left, too slow, or cut off by its sender (the
 * stream failed before its end: a closed or reset connection).
 */
export type BodyReadFailure = 'too_large' | 'busy' | 'slow' | 'aborted';

export type BodyRead =
  | {
      ok: true;
      body: Uint8Array;
      /** Give the body's bytes back to the budget (once the request is done with them). */
      release: () => void;
    }
  | { ok: false; reason: BodyReadFailure };

/** The error for a body that was not read: 413, 503 (retry), 408, or 400 (`BODY_ABORTED`). */
export function bodyReadError(
  reason: BodyReadFailure,
  max: number,
  pace: BodyPace = DEFAULT_BODY_PACE,
): AapsError {
  if (reason === 'too_large') return new AapsError('PAYLOAD_TOO_LARGE', `the body is over ${max} bytes`);
  if (reason === 'busy') return bodiesBusyError();
  if (reason === 'aborted')
    return new AapsError('BODY_ABORTED', 'the body ended before it was complete (the connection was closed)');
  return new AapsError(
    'REQUEST_TIMEOUT',
    `the body arrived too slowly (it must arrive within ${pace.graceMs / 1000} s, then at ${pace.minBytesPerSecond} bytes/s)`,
  );
}

/**
 * Read the body into one buffer as bytes arrive, grown by doubling from the first chunk's size
 * (never past the cap or the declared length), never kept as the stream's chunks, so memory stays
 * within about twice what was received (three times for a moment while the buffer grows), however
 * it is chunked. With a `budget`, each growth is taken from it first: nothing is taken before the
 * first byte arrives.
 */
export async function readBodyCapped(
  request: Request,
  max: number,
  budget?: BodyBudget,
  pace: BodyPace = DEFAULT_BODY_PACE,
): Promise<BodyRead> {
  const start = Date.now();
  const header = request.headers.get('content-length');
  const declared = header === null ? Number.NaN : Number(header);
  if (declared > max) return { ok: false, reason: 'too_large' };
  let held = 0;
  const release = () => {
    budget?.give(held);
    held = 0;
  };
  /** A buffer of `size` bytes, if the budget has them. */
  const allocate = (size: number): Uint8Array | undefined => {
    if (budget !== undefined && !budget.take(size)) return undefined;
    held += size;
    return new Uint8Array(size);
  };
  const stream = request.body;
  if (stream === null) return { ok: true, body: new Uint8Array(0), release };
  // Grown as bytes arrive (never allocated from the header alone: a sender must send what it
  // declares). A declared length only bounds the growth.
  const limit = Number.isSafeInteger(declared) && declared >= 0 ? Math.min(max, declared) : max;
  const reader = stream.getReader();
  const refuse = async (reason: Exclude<BodyReadFailure, 'aborted'>): Promise<BodyRead> => {
    release();
    await reader.cancel().catch(() => undefined);
    return { ok: false, reason };
  };
  let buffer: Uint8Array = new Uint8Array(0);
  let size = 0;
  /** The next chunk, or `slow` once the body is behind its pace (`size` bytes by now). */
  const next = () =>
    new Promise<Awaited<ReturnType<typeof reader.read>> | 'slow'>((resolve, reject) => {
      const due = start + pace.graceMs + (size / pace.minBytesPerSecond) * 1000;
      const wait = due - Date.now();
      if (wait <= 0) {
        resolve('slow');
        return;
      }
      const timer = setTimeout(() => resolve('slow'), wait);
      reader.read().then(
        (r) => {
          clearTimeout(timer);
          resolve(r);
        },
        (e: unknown) => {
          clearTimeout(timer);
          reject(e);
        },
      );
    });
  try {
    for (;;) {
      const chunk = await next();
      if (chunk === 'slow') return refuse('slow');
      const { done, value } = chunk;
      if (done) break;
      if (size + value.byteLength > max) return refuse('too_large');
      if (size + value.byteLength > buffer.length) {
        const want = size + value.byteLength;
        const grown = allocate(want > limit ? want : Math.min(limit, Math.max(2 * buffer.length, want)));
        if (grown === undefined) return refuse('busy');
        grown.set(buffer.subarray(0, size));
        budget?.give(buffer.length);
        held -= buffer.length;
        buffer = grown;
      }
      buffer.set(value, size);
      size += value.byteLength;
    }
  } catch {
    // The stream failed mid-body: for a request body that is its sender going away (a closed or
    // reset connection). Nothing to keep, and nothing to cancel: the stream is already errored.
    release();
    return { ok: false, reason: 'aborted' };
  }
  return { ok: true, body: buffer.subarray(0, size), release };
}
