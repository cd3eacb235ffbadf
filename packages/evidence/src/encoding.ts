/**
 * Byte encodings and SHA-256. The parsers here return `undefined` instead of throwing, so a
 * validator can gather every bad field; they are strict: hex is lower-case and even-length, base64
 * is the padded standard alphabet (RFC 4648 §4) and must re-encode to itself, so one value has
 * exactly one spelling in a bundle. Encoders come from `@aaps/mpc-core`.
 */
import { hash } from 'node:crypto';
import { concatBytes } from '@aaps/mpc-core/verifier';

export {
  base64Encode as toBase64,
  bytesToHex as toHex,
  concatBytes as concat,
  equalBytes as bytesEqual,
  utf8 as utf8Encode,
} from '@aaps/mpc-core/verifier';

const HEX_RE = /^[0-9a-f]*$/;

/** Whether `value` is strict hex (lower-case, even length) of `bytes` bytes; decodes nothing. */
export function isHexOf(value: unknown, bytes: number): boolean {
  return typeof value === 'string' && value.length === 2 * bytes && HEX_RE.test(value);
}

/** Decode strict hex, or return `undefined` when `value` is not strict hex. */
export function parseHex(value: unknown): Uint8Array | undefined {
  if (typeof value !== 'string' || value.length % 2 !== 0 || !HEX_RE.test(value)) return undefined;
  return new Uint8Array(Buffer.from(value, 'hex'));
}

/**
 * Decode canonical padded base64, or return `undefined` when `value` is not that. Node's decoder
 * skips characters outside the alphabet and also takes the URL-safe one, but its encoder writes
 * only the padded standard alphabet, so a value that re-encodes to itself is exactly canonical
 * base64: no stray, URL-safe or missing padding character, and no non-zero padding bits (which
 * would give a second spelling of the same bytes).
 */
export function parseBase64(value: unknown): Uint8Array | undefined {
  if (typeof value !== 'string' || value.length % 4 !== 0) return undefined;
  const bytes = Buffer.from(value, 'base64');
  if (bytes.toString('base64') !== value) return undefined;
  return new Uint8Array(bytes);
}

const decoder = new TextDecoder('utf-8', { fatal: true });

/** Decode UTF-8, or return `undefined` for ill-formed input. */
export function utf8Decode(bytes: Uint8Array): string | undefined {
  try {
    return decoder.decode(bytes);
  } catch {
    return undefined;
  }
}

/** Lower-case hex SHA-256 of bytes, or of a string's UTF-8 (hashed without a separate encoding). */
export function sha256Hex(data: Uint8Array | string): string {
  return hash('sha256', data, 'hex');
}

/** SHA-256 of a string's UTF-8 bytes, encoded by the hash itself (no intermediate array). */
export function sha256Text(text: string): Uint8Array {
  return new Uint8Array(hash('sha256', text, 'buffer'));
}

/** SHA-256 of the concatenated parts (one-shot: cheaper than a Hash object for short inputs). */
export function sha256(...parts: Uint8Array[]): Uint8Array {
  const data = parts.length === 1 ? parts[0]! : concatBytes(...parts);
  return new Uint8Array(hash('sha256', data, 'buffer'));
}
