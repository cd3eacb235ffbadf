/** Builders for the RFC 9591 hash functions H1..H5 plus frost-rs' HDKG and HID. */
import { concatBytes, utf8 } from '../bytes.js';
import type { ScalarField } from './types.js';

export interface SuiteHashes {
  H1(m: Uint8Array): bigint;
  H2(m: Uint8Array): bigint;
  H3(m: Uint8Array): bigint;
  H4(m: Uint8Array): Uint8Array;
  H5(m: Uint8Array): Uint8Array;
  HDKG(m: Uint8Array): bigint;
  HID(m: Uint8Array): bigint;
  hashToScalar(m: Uint8Array, dst: Uint8Array): bigint;
}

/**
 * @param contextString the suite's RFC 9591 context string.
 * @param hash the suite's hash function.
 * @param hashToScalar hash to a scalar under a DST (prefix-and-reduce for Ed25519, RFC 9380
 *   hash_to_field for secp256k1).
 * @param undecoratedH2 Ed25519 keeps H2 undecorated for RFC 8032 compatibility.
 */
export function suiteHashes(
  contextString: string,
  hash: (m: Uint8Array) => Uint8Array,
  hashToScalar: (m: Uint8Array, dst: Uint8Array) => bigint,
  undecoratedH2: boolean,
): SuiteHashes {
  const tag = (s: string) => utf8(contextString + s);
  const rho = tag('rho');
  const chal = undecoratedH2 ? new Uint8Array(0) : tag('chal');
  const nonce = tag('nonce');
  const msg = tag('msg');
  const com = tag('com');
  const dkg = tag('dkg');
  const id = tag('id');
  return {
    H1: (m) => hashToScalar(m, rho),
    H2: (m) => hashToScalar(m, chal),
    H3: (m) => hashToScalar(m, nonce),
    H4: (m) => hash(concatBytes(msg, m)),
    H5: (m) => hash(concatBytes(com, m)),
    HDKG: (m) => hashToScalar(m, dkg),
    HID: (m) => hashToScalar(m, id),
    hashToScalar,
  };
}

/** Prefix-and-reduce hash to scalar: H(dst || m) read in the field's byte order, mod q. */
export function prefixHashToScalar(hash: (m: Uint8Array) => Uint8Array, field: ScalarField) {
  return (m: Uint8Array, dst: Uint8Array): bigint => {
    const h = hash(dst.length ? concatBytes(dst, m) : m);
    let n = 0n;
    if (field.isLE) for (let i = h.length - 1; i >= 0; i--) n = (n << 8n) | BigInt(h[i]!);
    else for (let i = 0; i < h.length; i++) n = (n << 8n) | BigInt(h[i]!);
    return field.create(n);
  };
}
