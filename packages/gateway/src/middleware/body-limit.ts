/**
 * Reads the request body once, refusing more than `maxBytes` (413) before reading further, and a
 * content type other than JSON (415). The raw bytes are kept for HMAC checks; `jsonBody` parses them.
 */
import { AapsError, ValidationError } from '@aaps/mpc-core';
import type { Context, MiddlewareHandler } from 'hono';
import type { GatewayEnv } from '../http-env.js';

export const DEFAULT_BODY_LIMIT = 1024 * 1024;

export function bodyLimit(opts: { maxBytes: number }): MiddlewareHandler<GatewayEnv> {
  if (!Number.isSafeInteger(opts.maxBytes) || opts.maxBytes < 1) {
    throw new ValidationError('INVALID_ARGUMENT', 'maxBytes: expected a positive integer', ['maxBytes']);
  }
  const max = opts.maxBytes;
  return async (c, next) => {
    const type = c.req.header('content-type') ?? '';
    if (!/^application\/json\s*(;|$)/i.test(type)) {
      throw new AapsError('UNSUPPORTED_MEDIA_TYPE', 'the body must be application/json');
    }
    const declared = c.req.header('content-length');
    if (declared !== undefined && Number(declared) > max) {
      throw new AapsError('PAYLOAD_TOO_LARGE', `the body is over ${max} bytes`);
    }
    const chunks: Uint8Array[] = [];
    let size = 0;
    const stream = c.req.raw.body;
    if (stream !== null) {
      const reader = stream.getReader();
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        size += value.byteLength;
        if (size > max) {
          await reader.cancel().catch(() => undefined);
          throw new AapsError('PAYLOAD_TOO_LARGE', `the body is over ${max} bytes`);
        }
        chunks.push(value);
      }
    }
    const raw = new Uint8Array(size);
    let at = 0;
    for (const chunk of chunks) {
      raw.set(chunk, at);
      at += chunk.byteLength;
    }
    c.set('rawBody', raw);
    await next();
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
