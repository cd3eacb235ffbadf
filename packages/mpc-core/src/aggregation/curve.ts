/**
 * Curve points for the aggregation's bulk paths: both `@noble/curves` point classes behind one
 * small interface, the suite's generators in that form, and byte helpers. Internal to
 * `aggregation/`.
 */
import { ed25519 } from '@noble/curves/ed25519.js';
import { secp256k1 } from '@noble/curves/secp256k1.js';
import type { Ciphersuite } from '../suite/types.js';
import { pedersenGenerator } from './pedersen.js';

/** A curve point as the batch check uses it (both noble point classes fit). */
export interface CurvePoint {
  add(o: CurvePoint): CurvePoint;
  subtract(o: CurvePoint): CurvePoint;
  negate(): CurvePoint;
  double(): CurvePoint;
  multiply(k: bigint): CurvePoint;
  multiplyUnsafe(k: bigint): CurvePoint;
  clearCofactor(): CurvePoint;
  toAffine(): { x: bigint; y: bigint };
  toBytes(): Uint8Array;
  assertValidity(): void;
  is0(): boolean;
}

/** What the aggregation reads of a curve's base field: its order (for range checks on coordinates). */
export interface Field {
  ORDER: bigint;
}

export interface PCons {
  BASE: CurvePoint;
  ZERO: CurvePoint;
  Fp: Field;
  fromBytes(b: Uint8Array): CurvePoint;
  fromAffine(p: { x: bigint; y: bigint }): CurvePoint;
}

export const ED = ed25519.Point as unknown as PCons;
export const K1 = secp256k1.Point as unknown as PCons;

export function pointClass(suiteId: string): PCons {
  return suiteId === 'FROST-ED25519-SHA512-v1' ? ED : K1;
}

export function readBE(b: Uint8Array): bigint {
  return b.length === 0
    ? 0n
    : BigInt(`0x${Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('hex')}`);
}
export function readLE(b: Uint8Array): bigint {
  return readBE(Uint8Array.from(b).reverse());
}
/** The low `len` bytes of a non-negative `n`, little-endian. */
export function writeLE(n: bigint, len: number): Uint8Array {
  return writeBE(n, len).reverse();
}
/** The low `len` bytes of a non-negative `n`, big-endian (one hex conversion, not a byte loop). */
export function writeBE(n: bigint, len: number): Uint8Array {
  const hex = n.toString(16).padStart(2 * len, '0');
  return Uint8Array.from(Buffer.from(hex.length > 2 * len ? hex.slice(-2 * len) : hex, 'hex'));
}

/** The generator points in curve-point form. */
export function generators<E>(suite: Ciphersuite<E>): { G: CurvePoint; H: CurvePoint; ZERO: CurvePoint } {
  const Pc = pointClass(suite.id);
  let H = hCache.get(suite);
  if (!H) {
    H = Pc.fromBytes(suite.group.serialize(pedersenGenerator(suite)));
    hCache.set(suite, H);
  }
  return { G: Pc.BASE, H, ZERO: Pc.ZERO };
}
const hCache = new WeakMap<object, CurvePoint>();
