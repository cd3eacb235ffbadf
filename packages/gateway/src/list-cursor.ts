/**
 * The incident list's paging cursor: an opaque string that names a listing key (creation time and
 * incident id; the page goes on after it) and checks itself, so a cursor the gateway did not issue
 * (a client's corrupted, cut-short or foreign one) is refused, never read as a place in the list.
 *
 * Wire form: `base64url(body) "." base64url(check)`, where body is `1|<created_at>|<id>` (`1` is
 * the format's version, `created_at` as `Date.toISOString` writes it) and check is the first 9
 * bytes of SHA-256 over `aaps.list-cursor|` and body. The check catches damage, not intent: a
 * client that builds a well-formed cursor on purpose only chooses where its page starts, which any
 * listing shows it anyway.
 */
import { createHash } from 'node:crypto';
import { ValidationError } from '@aaps/mpc-core';

const VERSION = '1';
const CHECK_BYTES = 9;
const WIRE = /^([A-Za-z0-9_-]+)\.([A-Za-z0-9_-]{12})$/;
const ISO_TIME = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/;
/** Longest incident id a cursor names (ids the gateway makes are 40 characters). */
const MAX_ID = 256;
// biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what it refuses
const CONTROL = /[\u0000-\u001f\u007f]/;

const fatalUtf8 = new TextDecoder('utf-8', { fatal: true });

function checkOf(body: string): string {
  return createHash('sha256')
    .update(`aaps.list-cursor|${body}`, 'utf8')
    .digest()
    .subarray(0, CHECK_BYTES)
    .toString('base64url');
}

/** The cursor for listing key `key` (`<created_at>|<id>`). */
export function encodeListCursor(key: string): string {
  const body = `${VERSION}|${key}`;
  return `${Buffer.from(body, 'utf8').toString('base64url')}.${checkOf(body)}`;
}

function refuse(why: string): never {
  throw new ValidationError('INVALID_ARGUMENT', `cursor: not a cursor this gateway issued (${why})`, [
    'cursor',
  ]);
}

/**
 * The listing key a cursor names, or a `ValidationError` (`INVALID_ARGUMENT`, field `cursor`) for
 * one the gateway did not issue: not of the wire form, not canonical base64url, a check that does
 * not match (damaged, cut short), an unknown version, or parts that are not a creation time and an
 * id.
 */
export function decodeListCursor(cursor: string): string {
  const m = WIRE.exec(cursor);
  if (m === null) return refuse('not of its form');
  const [, encoded = '', check = ''] = m;
  const bytes = Buffer.from(encoded, 'base64url');
  if (bytes.toString('base64url') !== encoded) return refuse('not of its form');
  let body: string;
  try {
    body = fatalUtf8.decode(bytes);
  } catch {
    return refuse('not of its form');
  }
  if (checkOf(body) !== check) return refuse('damaged or cut short');
  const first = body.indexOf('|');
  const second = body.indexOf('|', first + 1);
  if (first < 0 || body.slice(0, first) !== VERSION) return refuse('an unknown version');
  if (second < 0) return refuse('no incident id');
  const at = body.slice(first + 1, second);
  const id = body.slice(second + 1);
  const time = Date.parse(at);
  if (!ISO_TIME.test(at) || !Number.isFinite(time) || new Date(time).toISOString() !== at)
    return refuse('no creation time');
  if (id.length === 0 || id.length > MAX_ID || CONTROL.test(id)) return refuse('no incident id');
  return `${at}|${id}`;
}
