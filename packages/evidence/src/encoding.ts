/**
 * Byte encodings and SHA-256, strict in what they accept: hex is lower-case and even-length,
 * base64 is the padded standard alphabet (RFC 4648 §4) and must re-encode to itself, so one value
 * has exactly one spelling in a bundle.
 */
import { createHash } from 'node:crypto';

const HEX_RE = /^(?:[0-9a-f]{2})*$/;
const B64_RE = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

export function toHex(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex');
}

/** Decode strict hex, or return `undefined` when `value` is not strict hex. */
export function parseHex(value: unknown): Uint8Array | undefined {
  if (typeof value !== 'string' || !HEX_RE.test(value)) return undefined;
  return new Uint8Array(Buffer.from(value, 'hex'));
}

export function toBase64(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64');
}

/** Decode canonical padded base64, or return `undefined` when `value` is not that. */
export function parseBase64(value: unknown): Uint8Array | undefined {
  if (typeof value !== 'string' || value.length % 4 !== 0 || !B64_RE.test(value)) return undefined;
  const bytes = Buffer.from(value, 'base64');
  // Non-zero padding bits would give a second spelling of the same bytes.
  if (bytes.toString('base64') !== value) return undefined;
  return new Uint8Array(bytes);
}

const encoder = new TextEncoder();
const decoder = new TextDecoder('utf-8', { fatal: true });

export function utf8Encode(text: string): Uint8Array {
  return encoder.encode(text);
}

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

export function concat(...parts: Uint8Array[]): Uint8Array {
  let length = 0;
  for (const p of parts) length += p.length;
  const out = new Uint8Array(length);
  let offset = 0;
  for (const p of parts) {
    out.set(p, offset);
    offset += p.length;
  }
  return out;
}

export function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a[i]! ^ b[i]!;
  return diff === 0;
}
