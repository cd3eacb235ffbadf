/** Reading bundles for aaps-verify: JSON or CBOR bytes, files, and streams of concatenated JSON. */
import { readFileSync } from 'node:fs';
import { decodeBundleCbor } from '../bundle/codec.js';

/** A usage error or unreadable input: exit 2. */
export class InputError extends Error {}

/**
 * One bundle to verify, as named in the output: bytes (JSON or CBOR), a JSON text, a file to read
 * (read where it is verified, so worker threads share the reading), or why it is unreadable.
 */
export type BundleSource = { name: string } & (
  | { bytes: Uint8Array }
  | { text: string }
  | { path: string }
  | { error: string }
);

function isSpace(b: number | undefined): boolean {
  return b === 0x20 || b === 0x0a || b === 0x0d || b === 0x09;
}

export function parseBundleBytes(bytes: Uint8Array, name: string): unknown {
  let i = 0;
  while (i < bytes.length && isSpace(bytes[i])) i++;
  if (bytes[i] === 0x7b) {
    try {
      return JSON.parse(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('utf8'));
    } catch {
      throw new InputError(`${name}: not JSON`);
    }
  }
  try {
    return decodeBundleCbor(bytes);
  } catch {
    throw new InputError(`${name}: neither JSON nor CBOR`);
  }
}

function readPath(path: string): Uint8Array {
  try {
    return readFileSync(path);
  } catch (e) {
    throw new InputError(`cannot read: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
}

/** The parsed value of a source; throws `InputError` when it cannot be read. */
export function loadSource(source: BundleSource): unknown {
  if ('error' in source) throw new InputError(source.error);
  if ('bytes' in source) return parseBundleBytes(source.bytes, source.name);
  if ('path' in source) return parseBundleBytes(readPath(source.path), source.name);
  try {
    return JSON.parse(source.text);
  } catch {
    throw new InputError('not JSON');
  }
}

/** Where one JSON object of a stream lies (`[start, end)` in bytes), or what is wrong there. */
export type StreamItem = { start: number; end: number } | { error: string };

const QUOTE = 0x22;
const BACKSLASH = 0x5c;

/**
 * Split a stream of concatenated JSON objects (NDJSON or pretty-printed, UTF-8) into their byte
 * ranges, without parsing them: it tracks nesting and skips strings (bytes of multi-byte UTF-8
 * characters are all >= 0x80, so they never look like brackets or quotes). Text between objects
 * other than whitespace is reported once per run and skipped to the next line or `{`.
 */
export function* splitJsonValues(bytes: Uint8Array): Generator<StreamItem> {
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const n = buf.length;
  let i = buf[0] === 0xef && buf[1] === 0xbb && buf[2] === 0xbf ? 3 : 0;
  while (i < n) {
    const c = buf[i]!;
    if (c !== 0x7b) {
      if (!isSpace(c)) {
        yield { error: `stray text at offset ${i}` };
        while (i + 1 < n && buf[i + 1] !== 0x0a && buf[i + 1] !== 0x7b) i++;
      }
      i++;
      continue;
    }
    const start = i;
    let depth = 0;
    let end = -1;
    for (; i < n; i++) {
      const b = buf[i]!;
      if (b === QUOTE) {
        // The closing quote is the next one not escaped by an odd run of backslashes.
        let q = i;
        for (;;) {
          q = buf.indexOf(QUOTE, q + 1);
          if (q < 0) break;
          let k = q - 1;
          while (buf[k] === BACKSLASH) k--;
          if ((q - 1 - k) % 2 === 0) break;
        }
        if (q < 0) break;
        i = q;
      } else if (b === 0x7b || b === 0x5b) {
        depth++;
      } else if (b === 0x7d || b === 0x5d) {
        if (--depth === 0) {
          end = i + 1;
          break;
        }
      }
    }
    if (end < 0) {
      yield { error: 'truncated bundle at end of input' };
      return;
    }
    yield { start, end };
    i = end;
  }
}
