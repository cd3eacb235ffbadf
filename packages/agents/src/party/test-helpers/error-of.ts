/** Test-only: the `AapsError` `f` throws (or rejects with); anything else is rethrown. */
import { AapsError } from '@aaps/mpc-core';

export async function errorOf(f: () => unknown): Promise<AapsError> {
  try {
    await f();
  } catch (e) {
    if (e instanceof AapsError) return e;
    throw e;
  }
  throw new Error('expected an error');
}
