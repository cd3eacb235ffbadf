/**
 * FROST(secp256k1, SHA-256) — RFC 9591 §6.5 — and its BIP-340/Taproot variant
 * `FROST-secp256k1-SHA256-TR-v1` (as frost-rs `frost-secp256k1-tr` and noble's `schnorr_FROST`),
 * over `@noble/curves`' secp256k1.
 */
import type { WeierstrassPoint } from '@noble/curves/abstract/weierstrass.js';
import { secp256k1, secp256k1_hasher } from '@noble/curves/secp256k1.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { concatBytes, utf8 } from '../bytes.js';
import { ValidationError } from '../errors.js';
import { verifyBip340 } from './bip340.js';
import { suiteHashes } from './hashing.js';
import { nobleGroup } from './noble-group.js';
import { scalarFieldFrom } from './scalar-field.js';
import type { Ciphersuite, Group, SuiteHooks } from './types.js';

type K1Point = WeierstrassPoint<bigint>;
const Point = secp256k1.Point;

export const SECP256K1_ID = 'FROST-secp256k1-SHA256-v1' as const;
export const SECP256K1_TR_ID = 'FROST-secp256k1-SHA256-TR-v1' as const;

const field = scalarFieldFrom(Point.Fn);
const h2s = (m: Uint8Array, dst: Uint8Array) => secp256k1_hasher.hashToScalar(m, { DST: dst });
const hasEven = (p: K1Point) => (p.is0() ? true : (p.toAffine().y & 1n) === 0n);

const group: Group<K1Point> = nobleGroup<K1Point>({
  Point,
  elementLength: 33,
  checkTorsion: false, // cofactor 1: every curve point is in the prime-order group
  hasEvenY: hasEven,
});

const hashToGroup = (m: Uint8Array, dst: Uint8Array) =>
  secp256k1_hasher.hashToCurve(m, { DST: dst }) as K1Point;

function decodeScalarZ(sig: Uint8Array, offset: number): bigint | null {
  try {
    return field.fromBytes(sig.subarray(offset), 'signature.z');
  } catch {
    return null;
  }
}

const plainHashes = suiteHashes(SECP256K1_ID, sha256, h2s, false);

export const secp256k1Suite: Ciphersuite<K1Point> = Object.freeze({
  id: SECP256K1_ID,
  backend: 'noble' as const,
  group,
  field,
  ...plainHashes,
  hashToGroup,
  challenge: (R: K1Point, PK: K1Point, msg: Uint8Array) =>
    plainHashes.H2(concatBytes(R.toBytes(), PK.toBytes(), msg)),
  verifySignature(publicKey: Uint8Array, msg: Uint8Array, sig: Uint8Array): boolean {
    if (sig.length !== 65) return false;
    try {
      const PK = group.deserialize(publicKey, 'publicKey');
      const R = group.deserialize(sig.subarray(0, 33), 'signature.R');
      const z = decodeScalarZ(sig, 33);
      if (z === null) return false;
      const c = plainHashes.H2(concatBytes(R.toBytes(), PK.toBytes(), msg));
      // RFC 9591 §6.5 verification: zG == R + cPK, over public values.
      return group.msm([group.base, PK], [z, field.neg(c)]).equals(R);
    } catch {
      return false;
    }
  },
  signatureLength: 65,
});

// ---- BIP-340 / Taproot variant ----

const tagPrefixes = new Map<string, Uint8Array>();
function taggedHash(tag: string, ...parts: Uint8Array[]): Uint8Array {
  let prefix = tagPrefixes.get(tag);
  if (!prefix) {
    const t = sha256(utf8(tag));
    prefix = concatBytes(t, t);
    tagPrefixes.set(tag, prefix);
  }
  return sha256(concatBytes(prefix, ...parts));
}
const xOnly = (p: K1Point) => p.toBytes(true).subarray(1);
const beToBigint = (b: Uint8Array) => BigInt(`0x${Buffer.from(b).toString('hex') || '0'}`);

const trHooks: SuiteHooks<K1Point> = Object.freeze({
  adjustScalar: (k: bigint) => (hasEven(Point.BASE.multiply(k)) ? k : field.neg(k)),
  evenPoint: (p: K1Point) => (hasEven(p) ? p : p.negate()),
  keyNeedsNegation: (gk: K1Point) => !hasEven(gk),
  commitmentNeedsNegation: (R: K1Point) => !hasEven(R),
  encodeSignature: (R: K1Point, z: bigint) => concatBytes(xOnly(R), field.toBytes(z)),
  decodeSignatureR: (bytes: Uint8Array) =>
    group.deserialize(concatBytes(Uint8Array.of(0x02), bytes), 'signature.R'),
  signatureRLength: 32,
  tapTweak(groupKey: K1Point, merkleRoot: Uint8Array): bigint {
    const t = beToBigint(taggedHash('TapTweak', xOnly(groupKey), merkleRoot));
    if (t >= field.ORDER)
      throw new ValidationError('INVALID_SCALAR', 'TapTweak hash overflows the group order');
    return t;
  },
  externalPublicKey: (gk: K1Point) => xOnly(gk),
});

const trHashes = suiteHashes(SECP256K1_TR_ID, sha256, h2s, false);

export const secp256k1TrSuite: Ciphersuite<K1Point> = Object.freeze({
  id: SECP256K1_TR_ID,
  backend: 'noble' as const,
  group,
  field,
  ...trHashes,
  hashToGroup,
  challenge: (R: K1Point, PK: K1Point, msg: Uint8Array) =>
    field.create(beToBigint(taggedHash('BIP0340/challenge', xOnly(R), xOnly(PK), msg))),
  /** BIP-340 verification; the key may be x-only (32 bytes) or compressed (33 bytes). */
  verifySignature: verifyBip340,
  signatureLength: 64,
  hooks: trHooks,
});
