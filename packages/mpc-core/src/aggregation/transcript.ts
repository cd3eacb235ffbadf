/**
 * Unambiguous byte strings for Fiat-Shamir challenges and digests: every part is prefixed with its
 * 4-byte big-endian length, so no two different part lists encode to the same bytes.
 */
import { concatBytes, utf8 } from '../bytes.js';
import type { Group } from '../suite/types.js';

export type TranscriptPart = Uint8Array | string | bigint | number;

function partBytes(p: TranscriptPart): Uint8Array {
  if (p instanceof Uint8Array) return p;
  if (typeof p === 'string') return utf8(p);
  return utf8(p.toString(10));
}

export function transcript(...parts: readonly TranscriptPart[]): Uint8Array {
  const out: Uint8Array[] = [];
  for (const p of parts) {
    const b = partBytes(p);
    const len = new Uint8Array(4);
    new DataView(len.buffer).setUint32(0, b.length, false);
    out.push(len, b);
  }
  return concatBytes(...out);
}

/** A group element's encoding for hashing; the identity (which some suites cannot encode) as zeros. */
export function elementBytes<E>(group: Group<E>, p: E): Uint8Array {
  return group.isZero(p) ? new Uint8Array(group.elementLength) : group.serialize(p);
}
