/**
 * Plain CBOR (RFC 8949 without tags): the subset every AAPS CBOR form is written in: maps, arrays,
 * byte and text strings, integers, floats and simple values. Decoders here scan the bytes before
 * they decode them and refuse any tag. cbor-x gives meaning to many tags by default, and two of them
 * are dangerous on hostile input: tag 28 marks a value shareable and tag 29 refers back to it, so
 * a few hundred bytes decode to a graph whose every walk (validating, canonicalising, re-encoding)
 * takes 2^n steps, or to a cycle; other tags build class instances (`Date`, `Map`, `Set`, `Error`,
 * typed arrays, cbor-x records) that no AAPS form holds. The scan is one pass over the bytes, linear
 * in their length, and never builds a value.
 */
import { ValidationError } from './errors.js';

const text = new TextDecoder();

/** UTF-8 text of `bytes[from, to)`: short ASCII (every key AAPS writes) without a TextDecoder call. */
function textOf(bytes: Uint8Array, from: number, to: number): string {
  if (to - from <= 32) {
    let out = '';
    for (let i = from; i < to; i++) {
      const c = bytes[i]!;
      if (c >= 0x80) return text.decode(bytes.subarray(from, to));
      out += String.fromCharCode(c);
    }
    return out;
  }
  return text.decode(bytes.subarray(from, to));
}

/** Returned through the walk once a tag is found: nothing after it is read. */
const STOP: unique symbol = Symbol('stop');

/** What {@link scanCbor} found in well-formed CBOR. */
export interface CborScan {
  /** The first tag, by its number and the byte offset of its head, if there is one. */
  readonly tag?: { readonly number: number; readonly offset: number };
  /**
   * The first key that appears twice in one map (a decoder keeps one of the two, so the bytes could
   * read differently elsewhere). Keys compare as cbor-x makes them property names: text by its
   * characters (definite or chunked; "__proto__" is "__proto_"), integers by their decimal form.
   * (A key of any other kind is refused as not well-formed AAPS CBOR.)
   */
  readonly duplicateKey?: string;
}

/**
 * Scan one CBOR data item that spans all of `bytes`. Stops at the first tag. Throws a
 * `ValidationError` (`DECODE_FAILED`) if the bytes are not one well-formed item (cut short,
 * trailing bytes, a reserved head, a stray break, a chunk of the wrong kind in a chunked string)
 * or hold a map key that is not text or an integer. Each byte is read once: linear time.
 */
export function scanCbor(bytes: Uint8Array): CborScan {
  if (!(bytes instanceof Uint8Array)) throw malformed('expected bytes (a Uint8Array)');
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let p = 0;
  let tag: CborScan['tag'];
  let duplicateKey: string | undefined;

  const need = (n: number): void => {
    if (n > bytes.length - p) throw malformed(`cut short at byte ${bytes.length} (needs ${n} more at ${p})`);
  };
  /** The argument of a head with additional information `ai` (advancing `p`); -1 if indefinite. */
  /** The exact value of the last 8-byte argument read (a key past 2^53 is named by it, as cbor-x does). */
  let wide = 0n;
  const argument = (ai: number, at: number): number => {
    if (ai < 24) return ai;
    if (ai === 31) return -1;
    if (ai > 27) throw malformed(`reserved additional information ${ai} at byte ${at}`);
    const size = 1 << (ai - 24);
    need(size);
    const q = p;
    p += size;
    if (size === 1) return view.getUint8(q);
    if (size === 2) return view.getUint16(q);
    if (size === 4) return view.getUint32(q);
    wide = view.getBigUint64(q);
    return Number(wide);
  };
  const atBreak = (): boolean => {
    need(1);
    if (view.getUint8(p) !== 0xff) return false;
    p++;
    return true;
  };
  /**
   * One item at `p` (advancing past it). For a map key (`key`), its property name if it is text or
   * an integer; otherwise nothing is built.
   */
  const item = (key: boolean): string | undefined | typeof STOP => {
    need(1);
    const at = p;
    const head = view.getUint8(p++);
    const major = head >> 5;
    const ai = head & 31;
    if (major === 7) {
      if (ai === 31) throw malformed(`break outside an indefinite-length item at byte ${at}`);
      if (ai >= 24) argument(ai, at);
      return undefined;
    }
    const n = argument(ai, at);
    if (n < 0 && (major === 0 || major === 1 || major === 6))
      throw malformed(`indefinite length on major type ${major} at byte ${at}`);
    switch (major) {
      case 0:
        return key ? String(ai === 27 ? wide : n) : undefined;
      case 1:
        return key ? String(ai === 27 ? -1n - wide : -1 - n) : undefined;
      case 2:
      case 3: {
        if (n >= 0) {
          need(n);
          p += n;
          return key && major === 3 ? textOf(bytes, p - n, p) : undefined;
        }
        let chunks = '';
        while (!atBreak()) {
          const chunkAt = p;
          if (view.getUint8(p) >> 5 !== major || (view.getUint8(p) & 31) === 31)
            throw malformed(`a chunk of another kind in a chunked string at byte ${chunkAt}`);
          const chunk = item(key);
          if (typeof chunk === 'string') chunks += chunk;
        }
        return key && major === 3 ? chunks : undefined;
      }
      case 4:
        for (let i = 0; n < 0 ? !atBreak() : i < n; i++) if (item(false) === STOP) return STOP;
        return undefined;
      case 5: {
        const keys = new Set<string>();
        for (let i = 0; n < 0 ? !atBreak() : i < n; i++) {
          // A key is text or an integer (a tag is reported as a tag): cbor-x would make a float,
          // true or null the same property as its text ("1", "true"), and refuses a map or an
          // array as a key only once it has read it, so one is refused here before it is walked.
          need(1);
          const keyMajor = view.getUint8(p) >> 5;
          if (keyMajor !== 0 && keyMajor !== 1 && keyMajor !== 3 && keyMajor !== 6)
            throw malformed(`the map key at byte ${p} is not text or an integer`);
          const named = item(true);
          if (named === STOP) return STOP;
          // cbor-x renames "__proto__" (prototype pollution): it is "__proto_" for it.
          const key = named === '__proto__' ? '__proto_' : (named as string);
          if (keys.has(key)) duplicateKey ??= key;
          keys.add(key);
          if (item(false) === STOP) return STOP;
        }
        return undefined;
      }
      default:
        tag = { number: n, offset: at };
        return STOP;
    }
  };
  let stopped: boolean;
  try {
    stopped = item(false) === STOP;
  } catch (e) {
    if (e instanceof RangeError) throw malformed('nested too deep to scan', e);
    throw e;
  }
  if (!stopped && p !== bytes.length) throw malformed(`${bytes.length - p} bytes after the item`);
  return { ...(tag ? { tag } : {}), ...(duplicateKey !== undefined ? { duplicateKey } : {}) };
}

function malformed(what: string, cause?: unknown): ValidationError {
  return new ValidationError('DECODE_FAILED', `not well-formed CBOR: ${what}`, ['$'], cause ? { cause } : {});
}

/**
 * Decode plain CBOR with `decode` (a cbor-x decoder's), refusing any tag before anything is
 * decoded. Bytes that are not well-formed go to the decoder, so its error (a cut-short item says
 * `incomplete`) is the one thrown, as the `cause` of a `DECODE_FAILED` `ValidationError` whose
 * message begins with `subject` and whose path is `path`; if the decoder reads bytes the scan
 * refused, the scan's error is thrown.
 */
export function decodePlainCbor(
  bytes: Uint8Array,
  decode: (bytes: Uint8Array) => unknown,
  subject: string,
  path = '$',
): unknown {
  if (typeof decode !== 'function')
    throw new ValidationError('INVALID_ARGUMENT', 'decode: expected a function', ['decode']);
  if (typeof subject !== 'string' || typeof path !== 'string')
    throw new ValidationError('INVALID_ARGUMENT', 'subject and path: expected strings', ['subject', 'path']);
  const what = subject === '' ? '' : `${subject}: `;
  let scan: CborScan | undefined;
  let refused: unknown;
  try {
    scan = scanCbor(bytes);
  } catch (e) {
    refused = e;
  }
  if (scan?.tag)
    throw new ValidationError(
      'DECODE_FAILED',
      `${what}CBOR tag ${scan.tag.number} at byte ${scan.tag.offset} (AAPS CBOR has no tags)`,
      [path],
    );
  let value: unknown;
  try {
    value = decode(bytes);
  } catch (cause) {
    throw new ValidationError('DECODE_FAILED', `${what}not valid CBOR`, [path], { cause });
  }
  if (refused !== undefined) throw refused;
  return value;
}
