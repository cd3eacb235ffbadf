/**
 * Pedersen commitments `aG + bH` over a ciphersuite's prime-order group.
 *
 * The second generator `H` is derived by RFC 9380 hash-to-curve from the ciphersuite id under the
 * domain tag {@link PEDERSEN_H_DST}, so nobody knows `log_G(H)`: a commitment binds its value
 * (computationally) and hides it perfectly, even for a 0/1 vote that Feldman's `aG` would give away
 * to a two-guess brute force.
 */
import { utf8 } from '../bytes.js';
import { assertBigint, assertSuite } from '../guards.js';
import type { Ciphersuite } from '../suite/types.js';

/** Domain-separation tag for the second generator: `H = hash_to_curve(suite.id, DST)`. */
export const PEDERSEN_H_DST = 'AAPS-QUORUM-v1-pedersen-H';

const generators = new WeakMap<object, unknown>();

/** The suite's second generator `H` (computed once per suite object). */
export function pedersenGenerator<E>(suite: Ciphersuite<E>): E {
  assertSuite(suite);
  const hit = generators.get(suite);
  if (hit !== undefined) return hit as E;
  const H = suite.hashToGroup(utf8(suite.id), utf8(PEDERSEN_H_DST));
  generators.set(suite, H);
  return H;
}

/** `value*G + blinding*H`. */
export function pedersenCommit<E>(suite: Ciphersuite<E>, value: bigint, blinding: bigint): E {
  assertSuite(suite);
  assertBigint(value, 'value');
  assertBigint(blinding, 'blinding');
  const { group } = suite;
  return group.add(group.mulBase(value), group.mul(pedersenGenerator(suite), blinding));
}
