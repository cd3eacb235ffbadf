/** Adapts a noble scalar field (`IField<bigint>`) to {@link ScalarField} with validating decoders. */
import { getMinHashLength, type IField, mapHashToField } from '@noble/curves/abstract/modular.js';
import { ValidationError } from '../errors.js';
import { randomBytesOf } from './rng.js';
import type { Rng, ScalarField } from './types.js';

export function scalarFieldFrom(Fn: IField<bigint>): ScalarField {
  const { ORDER, BYTES, isLE } = Fn;
  const hashLen = getMinHashLength(ORDER);
  const field: ScalarField = {
    ORDER,
    BYTES,
    isLE,
    create: (n) => Fn.create(n),
    add: (a, b) => Fn.add(a, b),
    sub: (a, b) => Fn.sub(a, b),
    mul: (a, b) => Fn.mul(a, b),
    neg: (a) => Fn.neg(a),
    inv: (a) => {
      if (a === 0n) throw new ValidationError('INVALID_SCALAR', 'cannot invert zero');
      return Fn.inv(a);
    },
    isZero: (a) => a === 0n,
    fromBytes(bytes, name = 'scalar') {
      if (!(bytes instanceof Uint8Array) || bytes.length !== BYTES) {
        throw new ValidationError(
          'INVALID_LENGTH',
          `${name}: expected a ${BYTES}-byte scalar, got ${bytes instanceof Uint8Array ? bytes.length : typeof bytes}`,
          [name],
        );
      }
      let n = 0n;
      if (isLE) for (let i = BYTES - 1; i >= 0; i--) n = (n << 8n) | BigInt(bytes[i]!);
      else for (let i = 0; i < BYTES; i++) n = (n << 8n) | BigInt(bytes[i]!);
      if (n >= ORDER)
        throw new ValidationError('INVALID_SCALAR', `${name}: not a canonical scalar (>= group order)`, [
          name,
        ]);
      return n;
    },
    toBytes: (a) => Fn.toBytes(a),
    random(rng: Rng) {
      const bytes = mapHashToField(randomBytesOf(rng, hashLen), ORDER, isLE);
      // mapHashToField returns a non-zero element in [1, ORDER) encoded in the field's byte order.
      let n = 0n;
      if (isLE) for (let i = bytes.length - 1; i >= 0; i--) n = (n << 8n) | BigInt(bytes[i]!);
      else for (let i = 0; i < bytes.length; i++) n = (n << 8n) | BigInt(bytes[i]!);
      return n;
    },
  };
  return Object.freeze(field);
}
