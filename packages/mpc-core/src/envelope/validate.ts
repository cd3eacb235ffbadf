/** Structural validation of an envelope, gathering every bad field as a dot path. */
import { ValidationError } from '../errors.js';
import { type Envelope, MESSAGE_TYPES, PROTOCOL_MESSAGE_TYPES, URGENCIES } from './types.js';

const ALL_TYPES: readonly string[] = [...MESSAGE_TYPES, ...PROTOCOL_MESSAGE_TYPES];

const META_STRINGS = [
  'trace_id',
  'span_id',
  'timestamp',
  'source_agent',
  'target_agent',
  'schema_version',
  'idempotency_key',
] as const;
const CONTEXT_STRINGS = ['namespace', 'cluster', 'constraints_ref'] as const;
const RFC3339 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|[+-]\d{2}:\d{2})$/;
const MAX_STRING = 1024;

const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

/** Returns the envelope typed, or throws one `ValidationError` listing every problem in `fields`. */
export function validateEnvelope(value: unknown): Envelope {
  const problems: [string, string][] = [];
  const bad = (path: string, why: string) => problems.push([path, why]);
  if (!isObject(value))
    throw new ValidationError('INVALID_ARGUMENT', 'envelope: expected a JSON object', ['$']);
  const { meta, context, payload } = value;
  for (const k of Object.keys(value))
    if (!['meta', 'context', 'payload'].includes(k)) bad(k, 'unknown field');
  if (!isObject(meta)) bad('meta', 'expected object');
  else {
    for (const k of META_STRINGS) {
      const v = meta[k];
      if (typeof v !== 'string' || v.length === 0 || v.length > MAX_STRING)
        bad(`meta.${k}`, 'expected a non-empty string');
    }
    if (typeof meta.timestamp === 'string' && !RFC3339.test(meta.timestamp))
      bad('meta.timestamp', 'expected RFC 3339');
    if (!ALL_TYPES.includes(meta.message_type as string)) {
      bad('meta.message_type', `expected one of ${ALL_TYPES.join(', ')}`);
    }
    if (
      meta.signature !== undefined &&
      (typeof meta.signature !== 'string' || !meta.signature.startsWith('ed25519:'))
    ) {
      bad('meta.signature', 'expected "ed25519:<base64>"');
    }
    const known = new Set<string>([...META_STRINGS, 'message_type', 'signature']);
    for (const k of Object.keys(meta)) if (!known.has(k)) bad(`meta.${k}`, 'unknown field');
  }
  if (!isObject(context)) bad('context', 'expected object');
  else {
    for (const k of CONTEXT_STRINGS) {
      const v = context[k];
      if (typeof v !== 'string' || v.length > MAX_STRING) bad(`context.${k}`, 'expected a string');
    }
    if (!(URGENCIES as readonly unknown[]).includes(context.urgency))
      bad('context.urgency', 'expected P1, P2 or P3');
    const known = new Set<string>([...CONTEXT_STRINGS, 'urgency']);
    for (const k of Object.keys(context)) if (!known.has(k)) bad(`context.${k}`, 'unknown field');
  }
  if (!isObject(payload)) bad('payload', 'expected object');
  if (problems.length) {
    throw new ValidationError(
      'INVALID_ARGUMENT',
      `invalid envelope: ${problems.map(([p, w]) => `${p}: ${w}`).join('; ')}`,
      problems.map(([p]) => p),
    );
  }
  return value as unknown as Envelope;
}
