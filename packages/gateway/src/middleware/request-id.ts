/** Gives every request an id (a sane incoming `X-Request-Id` is kept) and echoes it back. */
import type { MiddlewareHandler } from 'hono';
import type { GatewayEnv } from '../http-env.js';

const SANE = /^[A-Za-z0-9._:-]{1,128}$/;

/** The request's id: the client's `X-Request-Id` when it is sane, else a new one. */
export function chooseRequestId(given: string | undefined, newId: () => string): string {
  return given !== undefined && SANE.test(given) ? given : newId();
}

export function requestId(opts: { newId: () => string }): MiddlewareHandler<GatewayEnv> {
  return async (c, next) => {
    const id = chooseRequestId(c.req.header('x-request-id'), opts.newId);
    c.set('requestId', id);
    c.header('X-Request-Id', id);
    await next();
  };
}
