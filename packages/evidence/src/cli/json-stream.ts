/**
 * Splitting a byte stream of concatenated JSON objects (NDJSON or pretty-printed, UTF-8) into its
 * objects as the bytes arrive, without parsing them, in bounded memory: an object is held only
 * until it is complete, and one larger than the limit is counted and dropped, not held.
 *
 * It tracks nesting and skips strings (bytes of multi-byte UTF-8 characters are all >= 0x80, so
 * they never look like brackets or quotes). Text between objects other than whitespace is
 * reported once per run and skipped to the next line or `{`. An object left unfinished (a
 * truncated line, a string with a raw newline, which JSON forbids) is reported as such and the
 * split resumes at the next line that starts with `{`: a line starting with `{` always starts a
 * new object, so one bad item never swallows the bundles after it. (Pretty printers indent nested
 * objects, so this costs nothing for their output.) A UTF-8 byte-order mark at the start of the
 * stream is skipped.
 */

import { BACKSLASH, BOM, isSpace, NEWLINE, OPEN_BRACE, QUOTE } from '../json-bytes.js';

/**
 * One item of the stream: an object's bytes and where it lies (`[start, end)`, offsets in the
 * whole stream), or what is wrong there.
 */
export type StreamItem = { start: number; end: number; bytes: Uint8Array } | { error: string };

/**
 * Where the split is: between objects; skipping stray text (to the next line or `{`); inside an
 * object (and maybe inside one of its strings); or skipping an unfinished object's rest to the
 * next line that starts with `{`.
 */
type Mode = 'between' | 'stray' | 'object' | 'resync';

/**
 * An incremental splitter: {@link push} each chunk as it arrives, then {@link end}; each returns
 * the items completed by then, in stream order. An object of more than `maxObjectBytes` is
 * reported as an error naming its size once it ends (its bytes are not kept). Items and held
 * bytes are views of the pushed chunks: a chunk's memory must not be reused after it is pushed
 * (Node's streams never do).
 */
export class JsonStreamSplitter {
  readonly #maxObjectBytes: number;
  readonly #tooLarge: (size: number) => string;
  /** Offset in the stream of the next chunk's first byte. */
  #offset = 0;
  #mode: Mode = 'between';
  /** Bytes of the byte-order mark matched so far at the stream's start (-1: past the start). */
  #bom = 0;
  /** The object being split: where it starts, its nesting depth, and its bytes from earlier chunks. */
  #start = 0;
  #depth = 0;
  #pieces: Uint8Array[] = [];
  #held = 0;
  /** Its bytes are over the limit: it is counted, not kept. */
  #dropping = false;
  #inString = false;
  /** Inside a string, the next byte is escaped (the last chunk ended in an odd run of backslashes). */
  #escaped = false;
  /** The last byte seen was a newline (a `{` after it starts a new object, across chunks too). */
  #afterNewline = false;
  /** In `resync`: the unfinished object's start. */
  #unfinishedAt = 0;

  constructor(maxObjectBytes: number, tooLarge: (size: number) => string) {
    this.#maxObjectBytes = maxObjectBytes;
    this.#tooLarge = tooLarge;
  }

  /** Split `chunk`, the stream's next bytes; returns the items it completes. */
  push(chunk: Uint8Array): StreamItem[] {
    const out: StreamItem[] = [];
    const buf = Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    const n = buf.length;
    let i = 0;
    /** Where the current object's bytes start in this chunk (0 when it began in an earlier one). */
    let from = 0;
    while (i < n) {
      if (this.#mode === 'between') {
        const c = buf[i]!;
        if (this.#bom === this.#offset + i && this.#bom < BOM.length && c === BOM[this.#bom]) {
          this.#bom++;
          i++;
          continue;
        }
        if (this.#bom > 0 && this.#bom < BOM.length) {
          // A byte-order mark's start, not followed by the rest of it: stray text at offset 0.
          this.#bom = -1;
          out.push({ error: 'stray text at offset 0' });
          this.#mode = c === OPEN_BRACE || c === NEWLINE ? 'between' : 'stray';
          if (this.#mode === 'stray') i++;
          continue;
        }
        this.#bom = -1;
        if (c === OPEN_BRACE) {
          this.#begin(this.#offset + i);
          from = i;
          continue; // the object mode counts this brace
        }
        if (!isSpace(c)) {
          out.push({ error: `stray text at offset ${this.#offset + i}` });
          this.#mode = 'stray';
        }
        this.#afterNewline = c === NEWLINE;
        i++;
      } else if (this.#mode === 'stray') {
        const c = buf[i]!;
        if (c === NEWLINE || c === OPEN_BRACE) this.#mode = 'between';
        else i++;
      } else if (this.#mode === 'resync') {
        const at = this.#afterNewline && buf[i] === OPEN_BRACE ? i : nextObjectLine(buf, i);
        if (at < 0) {
          this.#afterNewline = buf[n - 1] === NEWLINE;
          i = n;
          break;
        }
        out.push({
          error: `unfinished bundle at offset ${this.#unfinishedAt} (resumed at the next line that starts with {)`,
        });
        this.#begin(this.#offset + at);
        i = at;
        from = at;
      } else {
        const r = this.#scanObject(buf, i);
        if (r.kind === 'more') {
          i = n;
          break;
        }
        if (r.kind === 'unfinished') {
          this.#unfinished();
          i = r.at;
          continue;
        }
        // Complete at r.at (exclusive).
        out.push(this.#complete(buf, from, r.at));
        this.#mode = 'between';
        this.#afterNewline = false;
        i = r.at;
      }
    }
    if (this.#mode === 'object') this.#hold(buf, from, n);
    this.#offset += n;
    return out;
  }

  /** The stream has ended: an object still open is reported truncated. */
  end(): StreamItem[] {
    const open = this.#mode === 'object' || this.#mode === 'resync';
    const bomOnly = this.#bom > 0 && this.#bom < BOM.length;
    this.#mode = 'between';
    this.#pieces = [];
    this.#held = 0;
    if (bomOnly) return [{ error: 'stray text at offset 0' }];
    return open ? [{ error: 'truncated bundle at end of input' }] : [];
  }

  #begin(start: number): void {
    this.#mode = 'object';
    this.#start = start;
    this.#depth = 0;
    this.#pieces = [];
    this.#held = 0;
    this.#dropping = false;
    this.#inString = false;
    this.#escaped = false;
    this.#afterNewline = false;
  }

  /**
   * The object cannot finish: skip to the next line that starts with `{`. The scan stopped at a
   * newline, or at a `{` right after one (`#afterNewline` is then still set, so that `{` is it).
   */
  #unfinished(): void {
    this.#unfinishedAt = this.#start;
    this.#mode = 'resync';
    this.#pieces = [];
    this.#held = 0;
  }

  /** Keep `buf[from, to)` of the open object, unless that takes it over the limit. */
  #hold(buf: Buffer, from: number, to: number): void {
    if (to <= from) return;
    this.#held += to - from;
    if (this.#dropping) return;
    if (this.#held > this.#maxObjectBytes) {
      this.#dropping = true;
      this.#pieces = [];
      return;
    }
    this.#pieces.push(buf.subarray(from, to));
  }

  #complete(buf: Buffer, from: number, to: number): StreamItem {
    const start = this.#start;
    const end = this.#offset + to;
    const size = end - start;
    const pieces = this.#pieces;
    this.#pieces = [];
    this.#held = 0;
    if (this.#dropping || size > this.#maxObjectBytes) return { error: this.#tooLarge(size) };
    if (pieces.length === 0) return { start, end, bytes: buf.subarray(from, to) };
    pieces.push(buf.subarray(from, to));
    return { start, end, bytes: Buffer.concat(pieces, size) };
  }

  /**
   * Scan the open object from `i`: `complete` with the offset after its last byte, `unfinished`
   * with where to look for the next object, or `more` when the chunk ends inside it.
   */
  #scanObject(
    buf: Buffer,
    i: number,
  ): { kind: 'complete'; at: number } | { kind: 'unfinished'; at: number } | { kind: 'more' } {
    const n = buf.length;
    // The next newline at or after i (n if none): a string may not reach past it.
    let newline = buf.indexOf(NEWLINE, i);
    if (newline < 0) newline = n;
    while (i < n) {
      if (this.#inString) {
        if (this.#escaped) {
          if (buf[i] === NEWLINE) return { kind: 'unfinished', at: i };
          this.#escaped = false;
          i++;
          continue;
        }
        // The closing quote is the next one not escaped by an odd run of backslashes.
        let q = i - 1;
        for (;;) {
          q = buf.indexOf(QUOTE, q + 1);
          if (q < 0 || q > newline) break;
          let k = q - 1;
          while (k >= i && buf[k] === BACKSLASH) k--;
          if ((q - 1 - k) % 2 === 0) break;
        }
        if (q >= 0 && q <= newline) {
          this.#inString = false;
          this.#afterNewline = false;
          i = q + 1;
          continue;
        }
        // No closing quote on this line: a raw newline ends the object unfinished, or the chunk
        // ends inside the string (escaping its next byte after an odd run of backslashes).
        if (newline < n) return { kind: 'unfinished', at: newline };
        let k = n - 1;
        while (k >= i && buf[k] === BACKSLASH) k--;
        this.#escaped = (n - 1 - k) % 2 === 1;
        return { kind: 'more' };
      }
      const b = buf[i]!;
      if (b === QUOTE) {
        this.#inString = true;
        this.#afterNewline = false;
        i++;
        continue;
      }
      if (b === OPEN_BRACE && this.#afterNewline && this.#depth > 0) {
        // A new object starts at a line's start: this one is unfinished.
        return { kind: 'unfinished', at: i };
      }
      this.#afterNewline = b === NEWLINE;
      if (b === OPEN_BRACE || b === 0x5b) {
        this.#depth++;
      } else if (b === 0x7d || b === 0x5d) {
        if (--this.#depth === 0) return { kind: 'complete', at: i + 1 };
      } else if (b === NEWLINE) {
        newline = buf.indexOf(NEWLINE, i + 1);
        if (newline < 0) newline = n;
      }
      i++;
    }
    return { kind: 'more' };
  }
}

/** The next `{` that starts a line, from `from` (a newline at `from` counts), or -1. */
function nextObjectLine(buf: Buffer, from: number): number {
  const at = buf.indexOf('\n{', from);
  return at < 0 ? -1 : at + 1;
}

/** Split a whole stream at once (see {@link JsonStreamSplitter}). */
export function splitJsonValues(
  bytes: Uint8Array,
  maxObjectBytes = Number.MAX_SAFE_INTEGER,
  tooLarge: (size: number) => string = (size) => `${size} bytes: too large`,
): StreamItem[] {
  const splitter = new JsonStreamSplitter(maxObjectBytes, tooLarge);
  return [...splitter.push(bytes), ...splitter.end()];
}
