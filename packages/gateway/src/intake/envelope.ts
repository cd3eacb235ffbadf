/**
 * The native intake: an `IncidentSignal` envelope (DESIGN.md "Message envelope") posted to
 * `POST /v1/incidents`. Checked field by field; unknown keys in `meta`, `context` or the envelope
 * are refused (extra payload keys pass through, as the payload type allows). A `meta.signature`,
 * if present, is kept for the caller to verify against the roster; this function does not.
 * The dedup key is the sender's `idempotency_key` under `envelope:`, so a sender cannot pick a key
 * another source uses (`github:<delivery>`, `alertmanager:…`) and have that source's next
 * incident answered with its own. DESIGN.md promises "the same idempotency_key again gives 200
 * with the first incident", and nothing more: an envelope does not join an open incident by
 * correlation (which merged unrelated envelopes that named the same or no resources).
 */
import { type Envelope, type IncidentSignalPayload, URGENCIES } from '@aaps/mpc-core';
import { parse } from '../schema/check.js';
import * as s from '../schema/define.js';
import { createResultBuilder } from './result.js';
import type { IntakeResult } from './types.js';

const Token = s.string({ minLength: 1, maxLength: 256 });
const Uri = s.string({ minLength: 1, maxLength: 1024 });

export const IncidentSignalPayloadSchema = s.named(
  'IncidentSignalPayload',
  s.object(
    {
      incident_type: s.enumOf([
        'config_validation_failed',
        'image_signature_failed',
        'resource_quota_exceeded',
        'unknown',
      ]),
      severity: s.enumOf(['high', 'medium', 'low']),
      affected_resources: s.array(Uri, { maxItems: 256 }),
      evidence_refs: s.array(Uri, { maxItems: 256 }),
      metadata: s.record(s.unknown(), { maxProperties: 256 }),
    },
    { unknownKeys: 'passthrough' },
  ),
);

export const EnvelopeMetaSchema = s.named(
  'EnvelopeMeta',
  s.object(
    {
      trace_id: Token,
      span_id: Token,
      timestamp: s.string({ format: 'date-time', maxLength: 64 }),
      source_agent: s.string({ minLength: 1, maxLength: 128 }),
      target_agent: s.string({ minLength: 1, maxLength: 128 }),
      message_type: s.literal('IncidentSignal'),
      schema_version: s.string({ pattern: /^v1\.\d+\.\d+$/, maxLength: 32 }),
      idempotency_key: Token,
      signature: s.optional(s.string({ pattern: /^ed25519:[A-Za-z0-9+/]+={0,2}$/, maxLength: 256 })),
    },
    { unknownKeys: 'reject' },
  ),
);

export const EnvelopeContextSchema = s.named(
  'EnvelopeContext',
  s.object(
    {
      namespace: s.string({ minLength: 1, maxLength: 253 }),
      cluster: s.string({ minLength: 1, maxLength: 253 }),
      urgency: s.enumOf(URGENCIES),
      constraints_ref: Uri,
    },
    { unknownKeys: 'reject' },
  ),
);

export const IncidentSignalEnvelopeSchema = s.named(
  'IncidentSignalEnvelope',
  s.object(
    { meta: EnvelopeMetaSchema, context: EnvelopeContextSchema, payload: IncidentSignalPayloadSchema },
    { unknownKeys: 'reject' },
  ),
  'An IncidentSignal envelope; meta.signature (ed25519 over the RFC 8785 form without it) is optional.',
);

/** Where an envelope's idempotency key lives among every source's dedup keys. */
export function envelopeDedupKey(idempotencyKey: string): string {
  return `envelope:${idempotencyKey}`;
}

export function intakeEnvelope(body: unknown): IntakeResult {
  const env: Envelope<IncidentSignalPayload> = parse(
    IncidentSignalEnvelopeSchema,
    body,
    'invalid IncidentSignal envelope',
  );
  const out = createResultBuilder('envelope');
  out.add({
    action: 'open',
    dedup_key: envelopeDedupKey(env.meta.idempotency_key),
    ref: '$',
    envelope: env,
  });
  return out.result();
}
