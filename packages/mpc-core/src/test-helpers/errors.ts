/** The error a call throws, typed for assertions on `code`, `culprits` and `fields`. */
import type { ProtocolError, ValidationError } from '../errors.js';

export function errorOf(f: () => unknown): ProtocolError & ValidationError {
  try {
    f();
  } catch (e) {
    return e as ProtocolError & ValidationError;
  }
  throw new Error('expected an error');
}
