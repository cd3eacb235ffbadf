/**
 * The CBOR form of an evidence bundle (how the gateway stores it and serves it on
 * `Accept: application/cbor`): the same data model as the JSON form, as plain CBOR maps, arrays,
 * text strings and integers, with no cbor-x records or tags.
 */
import { ValidationError } from '@aaps/mpc-core';
import { Decoder, Encoder } from 'cbor-x';
import type { EvidenceBundle } from './types.js';

const options = {
  useRecords: false,
  mapsAsObjects: true,
  tagUint8Array: false,
  variableMapSize: true,
} as const;
const encoder = new Encoder(options);
const decoder = new Decoder(options);

export function encodeBundleCbor(bundle: EvidenceBundle): Uint8Array {
  return new Uint8Array(encoder.encode(bundle));
}

/** Decode CBOR bytes to a value for `validateBundle`/`verify`; throws `DECODE_FAILED`. */
export function decodeBundleCbor(bytes: Uint8Array): unknown {
  try {
    return decoder.decode(bytes);
  } catch (cause) {
    throw new ValidationError('DECODE_FAILED', 'bundle is not CBOR', ['$'], { cause });
  }
}

/**
 * The first key that appears twice in one map of well-formed CBOR `bytes` (which
 * {@link decodeBundleCbor} accepted), or `undefined`. The decoder keeps the last of two equal keys,
 * so a bundle with one could read differently elsewhere; aaps-verify refuses it. Keys compare as
 * the decoder makes them property names: text by its characters (definite or chunked), integers by
 * their decimal form; any other key by its encoded bytes.
 */
export function findDuplicateCborKey(bytes: Uint8Array): string | undefined {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const text = new TextDecoder();
  let p = 0;
  let duplicate: string | undefined;
  /** The argument of the head at `p` (advancing `p`); -1 for an indefinite length. */
  const arg = (ai: number): number => {
    if (ai < 24) return ai;
    if (ai === 31) return -1;
    const at = p;
    if (ai === 24) p += 1;
    else if (ai === 25) p += 2;
    else if (ai === 26) p += 4;
    else if (ai === 27) p += 8;
    else throw new RangeError('malformed CBOR head');
    if (ai === 24) return view.getUint8(at);
    if (ai === 25) return view.getUint16(at);
    if (ai === 26) return view.getUint32(at);
    return Number(view.getBigUint64(at));
  };
  /** Skip one item; returns its property name if it is text or an integer. */
  const item = (): string | undefined => {
    const head = view.getUint8(p++);
    const major = head >> 5;
    const ai = head & 31;
    if (major === 7) {
      if (ai === 24) p += 1;
      else if (ai === 25) p += 2;
      else if (ai === 26) p += 4;
      else if (ai === 27) p += 8;
      return undefined;
    }
    const n = arg(ai);
    if (major === 0) return String(n);
    if (major === 1) return String(-1 - n);
    if (major === 2 || major === 3) {
      let chunks = '';
      if (n >= 0) {
        chunks = major === 3 ? text.decode(bytes.subarray(p, p + n)) : '';
        p += n;
      } else {
        while (view.getUint8(p) !== 0xff) chunks += item() ?? '';
        p++;
      }
      return major === 3 ? chunks : undefined;
    }
    if (major === 4) {
      for (let i = 0; n < 0 ? view.getUint8(p) !== 0xff : i < n; i++) item();
      if (n < 0) p++;
    } else if (major === 5) {
      const keys = new Set<string>();
      for (let i = 0; n < 0 ? view.getUint8(p) !== 0xff : i < n; i++) {
        const start = p;
        const key = item() ?? `\0${Buffer.from(bytes.subarray(start, p)).toString('hex')}`;
        if (keys.has(key)) duplicate ??= key;
        keys.add(key);
        item();
      }
      if (n < 0) p++;
    } else {
      item(); // a tag's content
    }
    return undefined;
  };
  item();
  return duplicate;
}
