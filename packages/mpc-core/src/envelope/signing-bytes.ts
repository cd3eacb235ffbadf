/**
 * The bytes an envelope's identity signature covers (a module of its own: verifiers load it without
 * the signing half, its randomness and key handling).
 */
import { ValidationError } from '../errors.js';
import { canonicalBytes } from './canonical.js';
import type { Envelope } from './types.js';

/** The bytes an envelope signature covers: canonical JSON without `meta.signature`. */
export function envelopeSigningBytes(envelope: Envelope): Uint8Array {
  if (!envelope || typeof envelope !== 'object' || !envelope.meta || typeof envelope.meta !== 'object') {
    throw new ValidationError('INVALID_ARGUMENT', 'envelope.meta: expected object', ['meta']);
  }
  const { signature: _omit, ...meta } = envelope.meta;
  return canonicalBytes({ ...envelope, meta });
}
