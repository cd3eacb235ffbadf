/** Reading bundles for aaps-verify: JSON or CBOR bytes, and streams of concatenated JSON. */
import { decodeBundleCbor } from '../bundle/codec.js';

/** A usage error or unreadable input: exit 2. */
export class InputError extends Error {}

/** One bundle to verify, as read: bytes of a file (JSON or CBOR), a JSON text, or why it is unreadable. */
export type BundleSource = { name: string } & ({ bytes: Uint8Array } | { text: string } | { error: string });

export function parseBundleBytes(bytes: Uint8Array, name: string): unknown {
  let i = 0;
  while (
    i < bytes.length &&
    (bytes[i] === 0x20 || bytes[i] === 0x0a || bytes[i] === 0x0d || bytes[i] === 0x09)
  )
    i++;
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

/** The parsed value of a source; throws `InputError` when it cannot be read. */
export function loadSource(source: BundleSource): unknown {
  if ('error' in source) throw new InputError(source.error);
  if ('bytes' in source) return parseBundleBytes(source.bytes, source.name);
  try {
    return JSON.parse(source.text);
  } catch {
    throw new InputError('not JSON');
  }
}

/** Split a stream of concatenated JSON objects (NDJSON or pretty-printed) into their texts. */
export function* splitJsonValues(text: string): Generator<{ text: string } | { error: string }> {
  let depth = 0;
  let start = 0;
  let inString = false;
  let escaped = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (depth === 0) {
      if (c === '{') {
        start = i;
        depth = 1;
      } else if (!/\s/.test(c)) {
        yield { error: `stray text at offset ${i}` };
        while (i + 1 < text.length && text[i + 1] !== '\n' && text[i + 1] !== '{') i++;
      }
    } else if (inString) {
      if (escaped) escaped = false;
      else if (c === '\\') escaped = true;
      else if (c === '"') inString = false;
    } else if (c === '"') {
      inString = true;
    } else if (c === '{' || c === '[') {
      depth++;
    } else if (c === '}' || c === ']') {
      depth--;
      if (depth === 0) yield { text: text.slice(start, i + 1) };
    }
  }
  if (depth > 0) yield { error: 'truncated bundle at end of input' };
}
