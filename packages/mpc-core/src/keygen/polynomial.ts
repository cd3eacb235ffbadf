/** Secret polynomials over the scalar field and their VSS commitments (RFC 9591 Appendix C). */
import { ValidationError } from '../errors.js';
import type { Ciphersuite, Rng } from '../suite/types.js';

/** f(x) = sum_j coefficients[j] * x^j, by Horner's rule. */
export function evaluatePolynomial<E>(
  suite: Ciphersuite<E>,
  coefficients: readonly bigint[],
  x: bigint,
): bigint {
  if (coefficients.length === 0) throw new ValidationError('INVALID_ARGUMENT', 'empty polynomial');
  const F = suite.field;
  let acc = coefficients[coefficients.length - 1]!;
  for (let j = coefficients.length - 2; j >= 0; j--) acc = F.add(F.mul(acc, x), coefficients[j]!);
  return acc;
}

/**
 * A random polynomial of degree `min - 1` with constant term `secret` (random if omitted). Draws
 * from `rng` in the same order as noble's `generateSecretPolynomial`.
 */
export function randomPolynomial<E>(suite: Ciphersuite<E>, min: number, rng: Rng, secret?: bigint): bigint[] {
  const coefficients = [secret ?? suite.field.random(rng)];
  for (let i = 1; i < min; i++) coefficients.push(suite.field.random(rng));
  return coefficients;
}

/** [a_j * G] for each coefficient. */
export function commitPolynomial<E>(suite: Ciphersuite<E>, coefficients: readonly bigint[]): E[] {
  return coefficients.map((a) => suite.group.mulBase(a));
}
