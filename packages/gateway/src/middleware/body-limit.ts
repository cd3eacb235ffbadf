/**
 * Reads the request body once (`readBodyCapped`: never more than `maxBytes`, 413 beyond; a body
 * its sender cut off is 400 `BODY_ABORTED`). Refused before a byte is read, with 415: a content
 * type other than JSON, a charset other than UTF-8, or a content coding other than identity. The
 * gateway decodes neither compression nor other charsets, and a body it would read as plain UTF-8
 * anyway must not be taken when its sender says it is something else. The raw bytes are kept for
 * HMAC checks; `jsonBody` parses them, and refuses a body with a key given twice in one object.
 */

import { type BodyBudget, bodyReadError, readBodyCapped, unsupportedMediaType } from '@aaps/agents';
import { parseJsonRefusingRepeats } from '@aaps/evidence';
import { AapsError, ValidationError } from '@aaps/mpc-core';
import type { Context, MiddlewareHandler } from 'hono';
import type { GatewayEnv } from '../http-env.js';
import { repeatedKeyPath } from '../schema/check.js';

export const DEFAULT_BODY_LIMIT = 1024 * 1024;

/**
 * `budget`, when given, is shared by every route using this reader: past it a request is refused
 * as `UNAVAILABLE` (503) instead of read, and a body's bytes count against it until its request is
 * done. `maxInflight`, when given, bounds the requests whose bodies are being read through this
 * reader at once: past it a request is refused `UNAVAILABLE` (503, `Retry-After: 1`) before a byte
 * is read. A request leaves the count once its body is read, not when it is handled, so senders
 * that stall mid-body are what the cap bounds, never slow handling of whole bodies (their bytes
 * still count against `budget` until they are done).
 */
export function bodyLimit(opts: {
  maxBytes: number;
  budget?: BodyBudget;
  maxInflight?: number;
}): MiddlewareHandler<GatewayEnv> {
  if (!Number.isSafeInteger(opts.maxBytes) || opts.maxBytes < 1) {
    throw new ValidationError('INVALID_ARGUMENT', 'maxBytes: expected a positive integer', ['maxBytes']);
  }
  if (opts.maxInflight !== undefined && (!Number.isSafeInteger(opts.maxInflight) || opts.maxInflight < 1)) {
    throw new ValidationError('INVALID_ARGUMENT', 'maxInflight: expected a positive integer', [
      'maxInflight',
    ]);
  }
  const max = opts.maxBytes;
  const cap = opts.maxInflight ?? Number.POSITIVE_INFINITY;
  let inflight = 0;
  return async (c, next) => {
    if (inflight >= cap) {
      c.header('Retry-After', '1');
      throw new AapsError(
        'UNAVAILABLE',
        `too many requests of this kind are being read (${cap} at once); retry`,
      );
    }
    inflight++;
    let reading = true;
    const doneReading = () => {
      if (reading) {
        reading = false;
        inflight--;
      }
    };
    try {
      await readThen(c, next, doneReading);
    } finally {
      doneReading();
    }
  };

  async function readThen(
    c: Context<GatewayEnv>,
    next: () => Promise<void>,
    doneReading: () => void,
  ): Promise<void> {
    const problem = unsupportedMediaType(
      c.req.header('content-type') ?? '',
      c.req.header('content-encoding'),
      c.req.header('x-github-event') !== undefined,
    );
    if (problem !== undefined) {
      // RFC 9110 §12.5.3: a 415 for a content coding says which codings are accepted.
      if (problem.label === 'coding') c.header('Accept-Encoding', 'identity');
      throw new AapsError('UNSUPPORTED_MEDIA_TYPE', problem.message);
    }
    const read = await readBodyCapped(c.req.raw, max, opts.budget);
    doneReading();
    if (!read.ok) throw bodyReadError(read.reason, max);
    try {
      c.set('rawBody', read.body);
      await next();
    } finally {
      read.release();
    }
  }
}

/**
 * The body as JSON; a `ValidationError` (`DECODE_FAILED`) when it is not, or when one object in it
 * gives a key twice (`fields`: that key's path, written as schema errors write paths). `JSON.parse`
 * keeps the last of the two and other parsers the first, so such a body, signed or not, could mean
 * one thing here and another to whoever reads it after (an auditor, the sender's own tools): it is
 * refused before any route acts on it. The scan is one pass after the parse, jumping over strings
 * (`parseJsonRefusingRepeats`); the key's path is named escaped (the sender chose it).
 */
export function jsonBody(c: Context<GatewayEnv>): unknown {
  const notJson = () => new ValidationError('DECODE_FAILED', 'the body is not valid JSON', ['$']);
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(c.get('rawBody'));
  } catch {
    throw notJson();
  }
  const read = parseJsonRefusingRepeats(text);
  if ('notJson' in read) throw notJson();
  if ('repeated' in read) {
    const path = repeatedKeyPath(read.repeated.segments);
    throw new ValidationError(
      'DECODE_FAILED',
      `the body is not JSON the gateway takes: ${path} is given twice in one object (JSON parsers differ on which one counts); send it once`,
      [path],
    );
  }
  return read.value;
}
