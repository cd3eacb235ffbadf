/** Gives every request an id (a sane incoming `X-Request-Id` is kept) and echoes it back. */
import type { MiddlewareHandler } from 'hono';
import type { GatewayEnv } from '../http-env.js';

const SANE = /^[A-Za-z0-9._:-]{1,128}$/;

export function requestId(opts: { newId: () => string }): MiddlewareHandler<GatewayEnv> {
  return async (c, next) => {
    const given = c.req.header('x-request-id');
    const id = given !== undefined && SANE.test(given) ? given : opts.newId();
    c.set('requestId', id);
    c.header('X-Request-Id', id);
    await next();
  };
}
