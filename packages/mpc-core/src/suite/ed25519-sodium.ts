/**
 * FROST(Ed25519, SHA-512) with libsodium's WebAssembly build carrying the scalar multiplications
 * and subgroup checks (~6x and ~9x faster than pure JS here). Elements are canonical 32-byte
 * encodings, so serialization is free; Horner evaluation with small public scalars goes through
 * noble, which is faster for those. The differential tests prove this backend byte-identical to
 * the noble one.
 */
import type { EdwardsPoint } from '@noble/curves/abstract/edwards.js';
import { ed25519 } from '@noble/curves/ed25519.js';
import { equalBytes } from '../bytes.js';
import { ValidationError } from '../errors.js';
import {
  ED25519_ID,
  ed25519Challenge,
  ed25519Field,
  ed25519Hashes,
  ed25519HashToGroupBytes,
  ed25519Noble,
  verifyEd25519,
} from './ed25519.js';
import { loadSodium, type Sodium } from './sodium-module.js';
import type { Ciphersuite, Group } from './types.js';

const IDENTITY: Uint8Array = Uint8Array.from([1, ...new Array<number>(31).fill(0)]);
const BASE: Uint8Array = ed25519.Point.BASE.toBytes();

function makeGroup(sodium: Sodium): Group<Uint8Array> {
  const F = ed25519Field;
  // libsodium's typings want ArrayBuffer-backed views; ours are.
  const sc = (k: bigint) => F.toBytes(k) as Uint8Array<ArrayBuffer>;
  const el = (b: Uint8Array) => b as Uint8Array<ArrayBuffer>;
  const isZero = (a: Uint8Array) => equalBytes(a, IDENTITY);
  const invalid = (field: string, cause?: unknown) =>
    new ValidationError(
      'INVALID_POINT',
      `${field}: not a canonical prime-order Ed25519 point (or the identity)`,
      [field],
      {
        cause,
      },
    );
  const checkLength = (bytes: Uint8Array, field: string) => {
    if (!(bytes instanceof Uint8Array) || bytes.length !== 32) {
      throw new ValidationError('INVALID_LENGTH', `${field}: expected a 32-byte group element`, [field]);
    }
  };
  // Commitment vectors are evaluated at many x (verifying shares for every party): decode once.
  const nobleCache = new WeakMap<object, EdwardsPoint[]>();
  const nobleGroup = ed25519Noble.group;

  const group: Group<Uint8Array> = {
    elementLength: 32,
    base: BASE,
    zero: IDENTITY,
    add: (a, b) => (isZero(a) ? b : isZero(b) ? a : sodium.crypto_core_ed25519_add(el(a), el(b))),
    sub: (a, b) => (isZero(b) ? a : sodium.crypto_core_ed25519_sub(el(a), el(b))),
    neg: (a) => (isZero(a) ? a : sodium.crypto_core_ed25519_sub(IDENTITY, el(a))),
    equals: (a, b) => equalBytes(a, b),
    isZero,
    mulBase: (k) => (k === 0n ? IDENTITY : sodium.crypto_scalarmult_ed25519_base_noclamp(sc(k))),
    mul: (p, k) =>
      k === 0n || isZero(p) ? IDENTITY : sodium.crypto_scalarmult_ed25519_noclamp(sc(k), el(p)),
    msm(points, scalars) {
      if (points.length !== scalars.length) {
        throw new ValidationError('INVALID_ARGUMENT', 'msm: points and scalars differ in length');
      }
      let acc: Uint8Array = IDENTITY;
      for (let i = 0; i < points.length; i++) acc = group.add(acc, group.mul(points[i]!, scalars[i]!));
      return acc;
    },
    evalCommitment(commitments, x) {
      let pts = nobleCache.get(commitments);
      if (!pts) {
        pts = commitments.map((c) => ed25519.Point.fromBytes(c as Uint8Array<ArrayBuffer>));
        nobleCache.set(commitments, pts);
      }
      return nobleGroup.evalCommitment(pts, x).toBytes();
    },
    serialize: (p) => p,
    deserialize(bytes, field = 'element') {
      checkLength(bytes, field);
      if (!sodium.crypto_core_ed25519_is_valid_point(el(bytes))) throw invalid(field);
      return Uint8Array.from(bytes);
    },
    deserializeMul(bytes, k, field = 'element') {
      checkLength(bytes, field);
      if (k === 0n) {
        if (!sodium.crypto_core_ed25519_is_valid_point(el(bytes))) throw invalid(field);
        return IDENTITY;
      }
      try {
        // crypto_scalarmult_ed25519_noclamp rejects non-canonical, small-order and
        // non-prime-order inputs itself: validation and multiplication in one call.
        return sodium.crypto_scalarmult_ed25519_noclamp(sc(k), el(bytes));
      } catch (cause) {
        throw invalid(field, cause);
      }
    },
    msmEncoded(encoded, scalars, fields) {
      // libsodium validates inside each multiplication: one call per element beats decode + MSM.
      let acc: Uint8Array = IDENTITY;
      for (let i = 0; i < encoded.length; i++)
        acc = group.add(acc, group.deserializeMul(encoded[i]!, scalars[i]!, fields[i]));
      return acc;
    },
    hasEvenY: () => true,
  };
  return Object.freeze(group);
}

let loaded: Promise<Ciphersuite<Uint8Array>> | undefined;

/**
 * Load the libsodium backend for FROST(Ed25519). Resolves to a ciphersuite with the same id and
 * byte-identical outputs as the noble one. Safe to call many times.
 */
export function loadEd25519Sodium(): Promise<Ciphersuite<Uint8Array>> {
  loaded ??= (async () => {
    const sodium = await loadSodium();
    const suite: Ciphersuite<Uint8Array> = Object.freeze({
      id: ED25519_ID,
      backend: 'libsodium' as const,
      group: makeGroup(sodium),
      field: ed25519Field,
      ...ed25519Hashes,
      hashToGroup: ed25519HashToGroupBytes,
      challenge: ed25519Challenge,
      verifySignature: verifyEd25519,
      signatureLength: 64,
    });
    return suite;
  })();
  return loaded;
}
