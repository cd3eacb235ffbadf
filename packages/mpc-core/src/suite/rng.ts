/**
 * The one place randomness is drawn. A caller-supplied {@link Rng} is untrusted: one that returns
 * fewer bytes than asked would make nonces repeat (RFC 9591 nonce_generate is
 * H3(random_bytes(32) || share): with zero random bytes, two commitments share their nonces and
 * the key share leaks), so every draw goes through {@link randomBytesOf}, which refuses anything
 * but a `Uint8Array` of exactly the requested length.
 */
import { randomBytes } from '@noble/hashes/utils.js';
import { ValidationError } from '../errors.js';
import type { Rng } from './types.js';

/** The platform CSPRNG, used where the caller gives no `rng`. */
export const defaultRng: Rng = randomBytes;

/**
 * `rng(n)`, checked: throws `ValidationError('INVALID_ARGUMENT')` naming `rng` unless `rng` is a
 * function that returned a `Uint8Array` of exactly `n` bytes.
 */
export function randomBytesOf(rng: Rng, n: number): Uint8Array {
  if (typeof rng !== 'function') {
    throw new ValidationError('INVALID_ARGUMENT', 'rng: expected a function', ['rng']);
  }
  const out: unknown = rng(n);
  if (!(out instanceof Uint8Array)) {
    throw new ValidationError(
      'INVALID_ARGUMENT',
      `rng: returned ${out === null ? 'null' : typeof out}, expected ${n} bytes`,
      ['rng'],
    );
  }
  if (out.length !== n) {
    throw new ValidationError('INVALID_ARGUMENT', `rng: returned ${out.length} bytes, expected ${n}`, [
      'rng',
    ]);
  }
  return out;
}

/**
 * The `rng` a public entry was given, or {@link defaultRng} when it was left out. Anything else
 * than a function or `undefined` is refused naming `field`.
 */
export function rngOrDefault(rng: unknown, field = 'rng'): Rng {
  if (rng === undefined) return defaultRng;
  if (typeof rng !== 'function') {
    throw new ValidationError('INVALID_ARGUMENT', `${field}: expected a function`, [field]);
  }
  return rng as Rng;
}
