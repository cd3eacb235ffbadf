/**
 * Duplicate object keys in JSON text. `JSON.parse` keeps the last of two equal keys and other
 * parsers the first, so a document with one could read differently elsewhere: aaps-verify refuses
 * such a bundle (`bundle.format`), a party refuses such a policy, roster or config file, and the
 * gateway and the parties refuse such a request body (400 `DECODE_FAILED`). The one finder for all
 * of them: agents and the gateway depend on this package already.
 */

import { BACKSLASH, isSpace, OPEN_BRACE as OPEN, QUOTE } from './json-bytes.js';

const CLOSE = 0x7d;
const COLON = 0x3a;
const OPEN_BRACKET = 0x5b;
const CLOSE_BRACKET = 0x5d;
const COMMA = 0x2c;

/**
 * A key given twice: the key, its dot path from the top (`bounds.namespaces.allow`, `parties.2.id`),
 * and the same path as its steps (object keys, array indexes; the key last), for callers that
 * write paths another way (the gateway: `alerts[0].labels["app.kubernetes.io/name"]`).
 */
export interface DuplicateKey {
  key: string;
  path: string;
  segments: readonly (string | number)[];
}

/** An open object (its keys so far, and the key whose value is being read) or array (its index). */
type Frame = { keys: string[] | Set<string>; key: string } | { index: number };

/**
 * The first key that appears twice in one object of `text`, with where, or `undefined`. `text`
 * must be JSON that `JSON.parse` accepted: then a string is a key exactly when a `:` follows it,
 * and a key's value is its `JSON.parse` (escapes decoded) so `"a"` and `"\u0061"` are the same key.
 *
 * One pass: outside strings it looks at each character, and it jumps over each string with
 * `indexOf`, so long values (base64 payloads, signatures) cost little. Keys are kept per open
 * object, in a short array (most objects have a few keys) that becomes a `Set` past 16; arrays
 * keep only their index, for the path.
 */
export function findDuplicate(text: string): DuplicateKey | undefined {
  const stack: Frame[] = [];
  const n = text.length;
  for (let i = 0; i < n; i++) {
    const c = text.charCodeAt(i);
    if (c === QUOTE) {
      let q = i;
      for (;;) {
        q = text.indexOf('"', q + 1);
        if (q < 0) return undefined; // not JSON: the caller parsed it first
        let k = q - 1;
        while (text.charCodeAt(k) === BACKSLASH) k--;
        if ((q - 1 - k) % 2 === 0) break;
      }
      let j = q + 1;
      while (j < n && isSpace(text.charCodeAt(j))) j++;
      const top = stack[stack.length - 1];
      if (text.charCodeAt(j) === COLON && top !== undefined && 'keys' in top) {
        const raw = text.slice(i + 1, q);
        const key = raw.includes('\\') ? (JSON.parse(text.slice(i, q + 1)) as string) : raw;
        const keys = top.keys;
        if (Array.isArray(keys)) {
          if (keys.includes(key)) return found(stack, key);
          keys.push(key);
          if (keys.length > 16) top.keys = new Set(keys);
        } else {
          if (keys.has(key)) return found(stack, key);
          keys.add(key);
        }
        top.key = key;
      }
      i = q;
    } else if (c === OPEN) {
      stack.push({ keys: [], key: '' });
    } else if (c === OPEN_BRACKET) {
      stack.push({ index: 0 });
    } else if (c === CLOSE || c === CLOSE_BRACKET) {
      stack.pop();
    } else if (c === COMMA) {
      const top = stack[stack.length - 1];
      if (top !== undefined && 'index' in top) top.index++;
    }
  }
  return undefined;
}

/** The first key that appears twice in one object of `text` (see {@link findDuplicate}). */
export function findDuplicateKey(text: string): string | undefined {
  return findDuplicate(text)?.key;
}

/** `key` found twice in the innermost open object, with its path from the frames around it. */
function found(stack: readonly Frame[], key: string): DuplicateKey {
  const segments = [...stack.slice(0, -1).map((f) => ('index' in f ? f.index : f.key)), key];
  return { key, path: segments.join('.'), segments };
}
