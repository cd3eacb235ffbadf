/** A value in an error message (a module of its own: verifiers load it without the codec). */

/**
 * A decoded value for an error message, without calling anything a hostile object defines
 * (`String({"toString": false})` throws).
 */
export function displayValue(v: unknown): string {
  return typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean' ? String(v) : typeof v;
}
