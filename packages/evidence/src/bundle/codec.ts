/**
 * The CBOR form of an evidence bundle (how the gateway stores it and serves it on
 * `Accept: application/cbor`): the same data model as the JSON form, as plain CBOR maps, arrays,
 * text strings and integers, with no cbor-x records or tags.
 */
import { decodePlainCbor, ValidationError } from '@aaps/mpc-core/verifier';
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

/**
 * Decode CBOR bytes to a value for `validateBundle`/`verify`; throws `DECODE_FAILED`, for bytes
 * that are not CBOR and for any CBOR tag (a bundle is plain CBOR: see mpc-core's `scanCbor`).
 */
export function decodeBundleCbor(bytes: Uint8Array): unknown {
  return decodePlainCbor(bytes, (b) => decoder.decode(b), 'bundle');
}

/**
 * Decode bytes `scanCbor` already found plain and well-formed (no tag), without scanning them
 * again: for `aaps-verify`, which scans first to tell a tag from damage. Not exported from the
 * package: anything else goes through {@link decodeBundleCbor}.
 */
export function decodeScannedBundleCbor(bytes: Uint8Array): unknown {
  try {
    return decoder.decode(bytes);
  } catch (cause) {
    throw new ValidationError('DECODE_FAILED', 'bundle: not valid CBOR', ['$'], { cause });
  }
}
