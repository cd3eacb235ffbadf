/**
 * Byte encodings and SHA-256. The parsers here return `undefined` instead of throwing, so a
 * validator can gather every bad field; they are strict: hex is lower-case and even-length, base64
 * is the padded standard alphabet (RFC 4648 §4) and must re-encode to itself, so one value has
 * exactly one spelling in a bundle. Encoders come from `@aaps/mpc-core`.
 */
import { createHash } from 'node:crypto';

export {
  base64Encode as toBase64,
  bytesToHex as toHex,
  concatBytes as concat,
  equalBytes as bytesEqual,
  utf8 as utf8Encode,
} from '@aaps/mpc-core';

const HEX_RE = /^(?:[0-9a-f]{2})*$/;
const B64_RE = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/** Decode strict hex, or return `undefined` when `value` is not strict hex. */
export function parseHex(value: unknown): Uint8Array | undefined {
  if (typeof value !== 'string' || !HEX_RE.test(value)) return undefined;
  return new Uint8Array(Buffer.from(value, 'hex'));
}

/** Decode canonical padded base64, or return `undefined` when `value` is not that. */
export function parseBase64(value: unknown): Uint8Array | undefined {
  if (typeof value !== 'string' || value.length % 4 !== 0 || !B64_RE.test(value)) return undefined;
  const bytes = Buffer.from(value, 'base64');
  // Non-zero padding bits would give a second spelling of the same bytes.
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

export function sha256(...parts: Uint8Array[]): Uint8Array {
  const h = createHash('sha256');
  for (const p of parts) h.update(p);
  return new Uint8Array(h.digest());
}
