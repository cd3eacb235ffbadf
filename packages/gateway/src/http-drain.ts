/**
 * Draining a server before it stops: requests being handled when the stop begins finish and their
 * answers are written; requests that arrive after it are told to retry (503, `Retry-After`,
 * `Connection: close`). An event stream counts only until its handler returns, so an open stream
 * never holds a stop (the caller ends those connections once the drain is over).
 *
 * Without this, a stop that ended every connection at once left handlers running against a store
 * about to close: an incident taken in but not answered, or a note queued after the workflow
 * runner had stopped waiting for notes, was lost.
 */

import type { FetchHandler } from '@aaps/agents';

/** A fetch handler as `@hono/node-server` calls it (the served processes' one type). */
export type { FetchHandler };

export interface Drain {
  /** The handler to serve: `inner` while open, a 503 once {@link Drain.drain} has begun. */
  fetch: FetchHandler;
  /** Requests being handled or answered now. */
  inFlight(): number;
  /**
   * Refuse new requests and resolve once every request in flight is answered (true), or after
   * `deadlineMs` with some still in flight (false).
   */
  drain(deadlineMs: number): Promise<boolean>;
}

/** The answer to a request that arrives while the server stops. */
function stopping(): Response {
  return Response.json(
    { error: { code: 'UNAVAILABLE', message: 'the gateway is stopping; retry' } },
    { status: 503, headers: { 'retry-after': '1', connection: 'close' } },
  );
}

/** The Node response `@hono/node-server` passes as `env.outgoing`, as far as the drain reads it. */
interface Outgoing {
  writableFinished: boolean;
  destroyed: boolean;
  once(event: 'finish' | 'close', listener: () => void): unknown;
}

function outgoingOf(env: unknown): Outgoing | undefined {
  const out = (env as { outgoing?: Partial<Outgoing> } | null | undefined)?.outgoing;
  return typeof out?.once === 'function' && typeof out.writableFinished === 'boolean'
    ? (out as Outgoing)
    : undefined;
}

const isEventStream = (res: Response) =>
  res.headers.get('content-type')?.toLowerCase().startsWith('text/event-stream') === true;

export function drainable(inner: FetchHandler): Drain {
  let running = 0;
  let closing = false;
  let idle: (() => void) | undefined;
  const settled = () => {
    running--;
    if (running === 0) idle?.();
  };
  /**
   * A request is done once its answer is written (the server writes it after the handler
   * returns), or, for an event stream, once the handler has returned.
   */
  const doneWith = (res: Response, env: unknown) => {
    const out = outgoingOf(env);
    if (out === undefined || isEventStream(res) || out.writableFinished || out.destroyed) {
      settled();
      return;
    }
    let once = false;
    const finish = () => {
      if (once) return;
      once = true;
      settled();
    };
    out.once('finish', finish);
    out.once('close', finish);
  };
  return {
    fetch(request, env) {
      if (closing) return stopping();
      running++;
      let out: Response | Promise<Response>;
      try {
        out = inner(request, env);
      } catch (e) {
        settled();
        throw e;
      }
      if (!(out instanceof Promise)) {
        doneWith(out, env);
        return out;
      }
      return out.then(
        (res) => {
          doneWith(res, env);
          return res;
        },
        (e: unknown) => {
          settled();
          throw e;
        },
      );
    },
    inFlight: () => running,
    drain(deadlineMs) {
      closing = true;
      if (running === 0) return Promise.resolve(true);
      return new Promise<boolean>((resolve) => {
        const timer = setTimeout(() => resolve(false), deadlineMs);
        timer.unref?.();
        idle = () => {
          clearTimeout(timer);
          resolve(true);
        };
      });
    },
  };
}
