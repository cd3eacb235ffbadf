/**
 * Reads the request body once (`readBodyCapped`: never more than `maxBytes`, 413 beyond), and a
 * content type other than JSON (415). The raw bytes are kept for HMAC checks; `jsonBody` parses them.
 */

import { type BodyBudget, bodyReadError, readBodyCapped } from '@aaps/agents';
import { AapsError, ValidationError } from '@aaps/mpc-core';
import type { Context, MiddlewareHandler } from 'hono';
import type { GatewayEnv } from '../http-env.js';

export const DEFAULT_BODY_LIMIT = 1024 * 1024;

/**
 * `budget`, when given, is shared by every route: past it a request is refused as `UNAVAILABLE`
 * (503) instead of read, and a body's bytes count against it until its request is done.
 */
export function bodyLimit(opts: { maxBytes: number; budget?: BodyBudget }): MiddlewareHandler<GatewayEnv> {
  if (!Number.isSafeInteger(opts.maxBytes) || opts.maxBytes < 1) {
    throw new ValidationError('INVALID_ARGUMENT', 'maxBytes: expected a positive integer', ['maxBytes']);
  }
  const max = opts.maxBytes;
  return async (c, next) => {
    const type = c.req.header('content-type') ?? '';
    if (!/^application\/json\s*(;|$)/i.test(type)) {
      // GitHub's default webhook content type is form-encoded: say what to change there.
      const hint = c.req.header('x-github-event')
        ? " (set the GitHub webhook's content type to application/json)"
        : '';
      throw new AapsError('UNSUPPORTED_MEDIA_TYPE', `the body must be application/json${hint}`);
    }
    const read = await readBodyCapped(c.req.raw, max, opts.budget);
    if (!read.ok) throw bodyReadError(read.reason, max);
    try {
      c.set('rawBody', read.body);
      await next();
    } finally {
      read.release();
    }
  };
}

/** The body as JSON; a `ValidationError` (`DECODE_FAILED`) when it is not. */
export function jsonBody(c: Context<GatewayEnv>): unknown {
  const raw = c.get('rawBody');
  try {
    return JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(raw));
  } catch {
    throw new ValidationError('DECODE_FAILED', 'the body is not valid JSON', ['$']);
  }
}
