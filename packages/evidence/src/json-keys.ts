/**
 * Duplicate object keys in JSON text. `JSON.parse` keeps the last of two equal keys and other
 * parsers the first, so a document with one could read differently elsewhere: aaps-verify refuses
 * such a bundle (`bundle.format`), a party refuses such a policy, roster, config or circuit file
 * and such a sealed input, the gateway and the parties refuse such a request body (400
 * `DECODE_FAILED`), and the CLIs such a trusted root, roster, checkpoint or backup file. The one
 * reader for all of them ({@link parseJsonRefusingRepeats}), naming the key escaped: agents and the
 * gateway depend on this package already.
 */

import { BACKSLASH, isSpace, OPEN_BRACE as OPEN, QUOTE } from './json-bytes.js';

const CLOSE = 0x7d;
const SPACE = 0x20;
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

/**
 * An open object (`object`: its keys so far, in `keys` or, past 16, in `set`, and `key`, the key
 * whose value is being read) or array (`index`, for the path). One shape for both (the scan's
 * property reads stay monomorphic), and each depth's frame is reused by the next object or array
 * at that depth (with a fresh `keys`: emptying an array in place costs more than a new one).
 */
interface Frame {
  object: boolean;
  keys: string[];
  set: Set<string> | undefined;
  key: string;
  index: number;
}

/**
 * The first key that appears twice in one object of `text`, with where, or `undefined`. `text`
 * must be JSON that `JSON.parse` accepted: then a string is a key exactly when a `:` follows it,
 * and a key's value is its `JSON.parse` (escapes decoded) so `"a"` and `"\u0061"` are the same key.
 *
 * One pass, no second scan: outside strings it looks at each character (whitespace first, the
 * bulk of pretty-printed text), and it jumps over each string with `indexOf`, so long values
 * (base64 payloads, signatures) cost little. Keys are kept per open object, in a short array
 * (most objects have a few keys) that becomes a `Set` past 16; arrays keep only their index.
 */
export function findDuplicate(text: string): DuplicateKey | undefined {
  const frames: Frame[] = [];
  let depth = 0;
  const open = (object: boolean): void => {
    const f = frames[depth];
    if (f === undefined) frames.push({ object, keys: [], set: undefined, key: '', index: 0 });
    else {
      f.object = object;
      f.keys = [];
      f.set = undefined;
      f.key = '';
      f.index = 0;
    }
    depth++;
  };
  const n = text.length;
  for (let i = 0; i < n; i++) {
    const c = text.charCodeAt(i);
    if (c <= SPACE) continue; // whitespace: outside strings, parsed JSON has no other control character
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
      const top = depth > 0 ? frames[depth - 1]! : undefined;
      if (top?.object === true && text.charCodeAt(j) === COLON) {
        const raw = text.slice(i + 1, q);
        const key = raw.includes('\\') ? (JSON.parse(text.slice(i, q + 1)) as string) : raw;
        if (top.set === undefined) {
          const keys = top.keys;
          if (keys.includes(key)) return found(frames, depth, key);
          keys.push(key);
          if (keys.length > 16) top.set = new Set(keys);
        } else {
          if (top.set.has(key)) return found(frames, depth, key);
          top.set.add(key);
        }
        top.key = key;
      }
      i = j - 1;
    } else if (c === OPEN) {
      open(true);
    } else if (c === OPEN_BRACKET) {
      open(false);
    } else if (c === CLOSE || c === CLOSE_BRACKET) {
      depth--;
    } else if (c === COMMA) {
      if (depth > 0 && !frames[depth - 1]!.object) frames[depth - 1]!.index++;
    }
  }
  return undefined;
}

/** A key given twice ({@link DuplicateKey}), with what a message about it may print. */
export interface RepeatedKey extends DuplicateKey {
  /** `path` with control and bidirectional characters written as `\uXXXX` ({@link printableKeyPath}). */
  shown: string;
  /**
   * The one line that says so: `aaps.groupKey.publicKeyHex is given twice in one object (JSON
   * parsers differ on which one counts)`, naming `shown`. Readers say it after what they read
   * (`trusted root FILE: ...`).
   */
  problem: string;
}

/**
 * JSON text as {@link parseJsonRefusingRepeats} reads it: its `value`, or `notJson` (the
 * `SyntaxError` of `JSON.parse`), or `repeated`, the first key one of its objects gives twice.
 */
export type JsonReading = { value: unknown } | { notJson: SyntaxError } | { repeated: RepeatedKey };

/**
 * JSON text read as every reader of a file, sealed input or body here must read it: `JSON.parse`,
 * then refused when one object gives a key twice (`JSON.parse` keeps the last and other parsers the
 * first, so the text could mean one thing here and another elsewhere). Nothing is thrown: text
 * that is no JSON is `{ notJson }` and a repeated key `{ repeated }` (its path, and that path
 * escaped for a terminal or a log, {@link RepeatedKey}); each caller maps either to its own error
 * (an exit code, `DECODE_FAILED`, `bundle.format`). One parse and one scan ({@link findDuplicate}),
 * so request bodies read through it cost what they did.
 */
export function parseJsonRefusingRepeats(text: string): JsonReading {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (e) {
    return { notJson: e as SyntaxError };
  }
  const duplicate = findDuplicate(text);
  if (duplicate === undefined) return { value };
  const shown = printableKeyPath(duplicate.path);
  return {
    repeated: {
      ...duplicate,
      shown,
      problem: `${shown} is given twice in one object (JSON parsers differ on which one counts)`,
    },
  };
}

/**
 * `text` (a key, or a path of keys written any way: `parties.0.id`, `tokens[0]["a b"]`) as a message
 * may print it ({@link printableText}). The keys are someone else's: the file, input or body is.
 */
export function printableKeyPath(text: string): string {
  return printableText(text);
}

/**
 * `text` someone else chose (a key, a proposal's target, a gateway's error message) with the
 * characters it must not carry raw onto a terminal or into a log written as `\uXXXX`: C0 and C1
 * controls, DEL, the line and paragraph separators and the bidirectional formatting marks. Raw,
 * they could retitle a terminal, erase the line above or reorder what a person reads. One safe line.
 */
export function printableText(text: string): string {
  return text.replace(UNSAFE, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

// biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what it escapes
const UNSAFE = /[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;

/** `key` found twice in the innermost of the `depth` open frames, with its path through them. */
function found(frames: readonly Frame[], depth: number, key: string): DuplicateKey {
  const segments: (string | number)[] = [];
  for (let d = 0; d < depth - 1; d++) {
    const f = frames[d]!;
    segments.push(f.object ? f.key : f.index);
  }
  segments.push(key);
  return { key, path: segments.join('.'), segments };
}
