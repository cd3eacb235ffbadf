/**
 * Duplicate object keys in JSON text. `JSON.parse` keeps the last of two equal keys and other
 * parsers the first, so a bundle with one could read differently elsewhere; aaps-verify refuses it
 * (`bundle.format`).
 */

import { BACKSLASH, isSpace, OPEN_BRACE as OPEN, QUOTE } from './json-bytes.js';

const CLOSE = 0x7d;
const COLON = 0x3a;

/**
 * The first key that appears twice in one object of `text`, or `undefined`. `text` must be JSON
 * that `JSON.parse` accepted: then a string is a key exactly when a `:` follows it, and a key's
 * value is its `JSON.parse` (escapes decoded) so `"a"` and `"\u0061"` are the same key.
 *
 * One pass: outside strings it looks at each character, and it jumps over each string with
 * `indexOf`, so long values (base64 payloads, signatures) cost little. Keys are kept per open
 * object, in a short array (most objects have a few keys) that becomes a `Set` past 16.
 */
export function findDuplicateKey(text: string): string | undefined {
  // Open objects' keys; arrays need no entry (their elements' objects push their own).
  const stack: Array<string[] | Set<string>> = [];
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
      if (text.charCodeAt(j) === COLON && stack.length > 0) {
        const raw = text.slice(i + 1, q);
        const key = raw.includes('\\') ? (JSON.parse(text.slice(i, q + 1)) as string) : raw;
        const keys = stack[stack.length - 1]!;
        if (Array.isArray(keys)) {
          if (keys.includes(key)) return key;
          keys.push(key);
          if (keys.length > 16) stack[stack.length - 1] = new Set(keys);
        } else {
          if (keys.has(key)) return key;
          keys.add(key);
        }
      }
      i = q;
    } else if (c === OPEN) {
      stack.push([]);
    } else if (c === CLOSE) {
      stack.pop();
    }
  }
  return undefined;
}
