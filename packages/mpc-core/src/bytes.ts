/** Byte helpers shared by every module. Bytes are `Uint8Array`; hex strings are lower-case. */
import { ValidationError } from './errors.js';

const HEX = /^(?:[0-9a-f]{2})*$/;

export function bytesToHex(b: Uint8Array): string {
  assertBytes(b, 'bytes');
  return Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('hex');
}

/** Strict lower-case, even-length hex. `field` names the argument in the error. */
export function hexToBytes(hex: string, field = 'hex', expectedLength?: number): Uint8Array {
  if (typeof hex !== 'string' || !HEX.test(hex)) {
    throw new ValidationError('DECODE_FAILED', `${field}: expected lower-case even-length hex`, [field]);
  }
  if (expectedLength !== undefined && hex.length !== expectedLength * 2) {
    throw new ValidationError(
      'INVALID_LENGTH',
      `${field}: expected ${expectedLength} bytes, got ${hex.length / 2}`,
      [field],
    );
  }
  return new Uint8Array(Buffer.from(hex, 'hex'));
}

export function concatBytes(...parts: Uint8Array[]): Uint8Array {
  let len = 0;
  for (let i = 0; i < parts.length; i++) len += assertBytes(parts[i], `parts[${i}]`).length;
  const out = new Uint8Array(len);
  let off = 0;
  for (const p of parts) {
    out.set(p, off);
    off += p.length;
  }
  return out;
}

export function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  assertBytes(a, 'a');
  assertBytes(b, 'b');
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a[i]! ^ b[i]!;
  return diff === 0;
}

export function utf8(s: string): Uint8Array {
  if (typeof s !== 'string')
    throw new ValidationError('INVALID_ARGUMENT', 'text: expected a string', ['text']);
  return new TextEncoder().encode(s);
}

export function assertBytes(value: unknown, field: string, length?: number): Uint8Array {
  if (!(value instanceof Uint8Array)) {
    throw new ValidationError('INVALID_ARGUMENT', `${field}: expected Uint8Array`, [field]);
  }
  if (length !== undefined && value.length !== length) {
    throw new ValidationError('INVALID_LENGTH', `${field}: expected ${length} bytes, got ${value.length}`, [
      field,
    ]);
  }
  return value;
}

export function base64Encode(b: Uint8Array): string {
  assertBytes(b, 'bytes');
  return Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('base64');
}

const B64 = /^[A-Za-z0-9+/]*={0,2}$/;
export function base64Decode(s: string, field = 'base64'): Uint8Array {
  if (typeof s !== 'string' || s.length % 4 !== 0 || !B64.test(s)) {
    throw new ValidationError('DECODE_FAILED', `${field}: expected padded base64`, [field]);
  }
  const out = Buffer.from(s, 'base64');
  // One spelling per value: bits set in the padding would give a second text for the same bytes
  // (a signature that verifies under two spellings).
  if (out.toString('base64') !== s) {
    throw new ValidationError('DECODE_FAILED', `${field}: non-canonical base64 (padding bits set)`, [field]);
  }
  return new Uint8Array(out);
}

/** Overwrite secret bytes in place (best effort; bigint copies cannot be erased in JS). */
export function wipe(b: Uint8Array): void {
  assertBytes(b, 'bytes').fill(0);
}
