/**
 * Request and response schemas of the HTTP API that are not intake bodies. The routes validate
 * with them and the OpenAPI document is emitted from them.
 */
import { ROSTER_ID } from '@aaps/agents';
import { MAX_PARTIES, MAX_UNSEAL_FIELDS, URGENCIES } from '@aaps/mpc-core';
import { MAX_ERROR_FIELDS } from '../schema/check.js';
import * as s from '../schema/define.js';
import { INCIDENT_STATES } from '../workflow/machine.js';

export const ErrorSchema = s.named(
  'Error',
  s.object({
    error: s.object({
      code: s.string({ description: 'A closed set of UPPER_SNAKE codes; branch on this.' }),
      message: s.string(),
      fields: s.optional(
        s.array(s.string(), {
          maxItems: MAX_ERROR_FIELDS,
          description: `Dot paths of the failing fields: the first ${MAX_ERROR_FIELDS}, each once (the message says how many failed when more did).`,
        }),
      ),
    }),
  }),
);

export const IncidentAcceptedSchema = s.named(
  'IncidentAccepted',
  s.object({
    incident_id: s.string(),
    trace_id: s.string(),
    state: s.enumOf(INCIDENT_STATES),
    duplicate: s.boolean(),
  }),
);

export const TimelineEntrySchema = s.named(
  'TimelineEntry',
  s.object({
    at: s.string({ format: 'date-time' }),
    state: s.enumOf(INCIDENT_STATES),
    event: s.string(),
    actor: s.string(),
    detail: s.optional(s.record(s.unknown())),
  }),
);

export const IncidentSchema = s.named(
  'Incident',
  s.object(
    {
      incident_id: s.string(),
      type: s.string(),
      state: s.enumOf(INCIDENT_STATES),
      timeline: s.array(TimelineEntrySchema),
      proposal: s.nullable(s.record(s.unknown())),
      decision: s.nullable(s.record(s.unknown())),
      execution: s.nullable(s.record(s.unknown())),
      verification: s.nullable(s.record(s.unknown())),
      evidence_id: s.nullable(s.string()),
    },
    { unknownKeys: 'passthrough' },
  ),
);

export const IncidentListSchema = s.named(
  'IncidentList',
  s.object({ incidents: s.array(IncidentSchema), next_cursor: s.nullable(s.string()) }),
);

export const ListQuerySchema = s.object({
  state: s.optional(s.enumOf(INCIDENT_STATES)),
  limit: s.optional(s.string({ pattern: /^(?:[1-9][0-9]?|100)$/, description: '1 to 100 (default 20).' })),
  cursor: s.optional(s.string({ minLength: 1, maxLength: 512 })),
});

const Token = s.string({ minLength: 1, maxLength: 256 });

export const HumanApprovalSchema = s.named(
  'HumanApproval',
  s.object(
    {
      approver_id: s.string({ minLength: 1, maxLength: 128 }),
      incident_id: s.string({ minLength: 1, maxLength: 128 }),
      action: s.string({ minLength: 1, maxLength: 64 }),
      proposal_digest: s.string({ pattern: /^[0-9a-f]{64}$/ }),
      decision: s.literal('approve'),
      approved_at: s.string({ format: 'date-time', maxLength: 64 }),
      expires_at: s.string({ format: 'date-time', maxLength: 64 }),
      signature: s.string({ pattern: /^ed25519:[A-Za-z0-9+/]+={0,2}$/, maxLength: 256 }),
    },
    { unknownKeys: 'reject' },
  ),
  'Signed by the approver over canonical JSON of {domain: "aaps.human-approval.v1", approval} without its signature.',
);

export const HumanRejectionSchema = s.named(
  'HumanRejection',
  s.object(
    {
      approver_id: s.string({ minLength: 1, maxLength: 128 }),
      incident_id: s.string({ minLength: 1, maxLength: 128 }),
      decision: s.literal('reject'),
      reason: s.string({ minLength: 1, maxLength: 500 }),
      rejected_at: s.string({ format: 'date-time', maxLength: 64 }),
      signature: s.string({ pattern: /^ed25519:[A-Za-z0-9+/]+={0,2}$/, maxLength: 256 }),
    },
    { unknownKeys: 'reject' },
  ),
  'Ends an incident in awaiting_human as rejected (it need not have a proposal). Signed by the approver over canonical JSON of {domain: "aaps.human-rejection.v1", rejection} without its signature.',
);

/** A human decision: an approval, or (`decision: "reject"`) a rejection. */
const HumanDecisionSchema = s.union(
  [HumanApprovalSchema, HumanRejectionSchema],
  (v) => ((v as { decision?: unknown } | null)?.decision === 'reject' ? 1 : 0),
  { expected: 'a human approval or rejection' },
);

export const HumanApprovalEnvelopeSchema = s.named(
  'HumanApprovalEnvelope',
  s.object(
    {
      meta: s.object(
        {
          trace_id: Token,
          span_id: Token,
          timestamp: s.string({ format: 'date-time', maxLength: 64 }),
          source_agent: s.string({ minLength: 1, maxLength: 128, description: 'The approver id.' }),
          target_agent: s.string({ minLength: 1, maxLength: 128 }),
          message_type: s.literal('ApprovalDecision'),
          schema_version: s.string({ pattern: /^v1\.\d+\.\d+$/, maxLength: 32 }),
          idempotency_key: Token,
          signature: s.string({ pattern: /^ed25519:[A-Za-z0-9+/]+={0,2}$/, maxLength: 256 }),
        },
        { unknownKeys: 'reject' },
      ),
      context: s.object(
        {
          namespace: s.string({ minLength: 1, maxLength: 253 }),
          cluster: s.string({ minLength: 1, maxLength: 253 }),
          urgency: s.enumOf(URGENCIES),
          constraints_ref: s.string({ minLength: 1, maxLength: 1024 }),
        },
        { unknownKeys: 'reject' },
      ),
      payload: HumanDecisionSchema,
    },
    { unknownKeys: 'reject' },
  ),
  'An ApprovalDecision envelope from a roster approver whose payload is a signed HumanApproval or HumanRejection.',
);

export const KeysSchema = s.named(
  'Keys',
  s.object({
    ciphersuite: s.string(),
    group_public_key: s.string({ pattern: /^[0-9a-f]+$/ }),
    threshold: s.object({ min: s.integer({ minimum: 1 }), max: s.integer({ minimum: 1 }) }),
    parties: s.array(
      s.object({
        id: s.string(),
        role: s.string(),
        url: s.string(),
        identity_key: s.string(),
        verifying_share: s.string(),
      }),
    ),
  }),
);

/** Why a key refresh or repair runs: one line, logged with each of its steps. */
const keyChangeReason = (description: string) =>
  s.string({
    minLength: 1,
    maxLength: 500,
    // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what it refuses
    pattern: /^[^\u0000-\u001f\u007f]+$/,
    description,
  });

export const KeyRefreshRequestSchema = s.named(
  'KeyRefreshRequest',
  s.object(
    {
      reason: keyChangeReason(
        "Why the shares are refreshed (a schedule, a host's exposure): logged with each step.",
      ),
    },
    { unknownKeys: 'reject' },
  ),
);

export const KeyRepairRequestSchema = s.named(
  'KeyRepairRequest',
  s.object(
    {
      reason: keyChangeReason(
        "Why the shares are repaired (a party's disk replaced, say): logged with each step.",
      ),
      parties: s.optional(
        s.array(s.string({ minLength: 1, maxLength: 63, pattern: ROSTER_ID }), {
          minItems: 1,
          maxItems: 64,
          description:
            "The parties to repair (roster ids); without it, every party that answers and does not hold the gateway's key package.",
        }),
      ),
    },
    { unknownKeys: 'reject' },
  ),
);

export const KeyRepairSchema = s.named(
  'KeyRepair',
  s.object({
    group_public_key: s.string({ pattern: /^[0-9a-f]+$/ }),
    repaired: s.array(s.string()),
    up_to_date: s.array(s.string()),
    steps: s.array(s.string()),
    took_ms: s.integer({ minimum: 0 }),
  }),
);

export const KeyRefreshSchema = s.named(
  'KeyRefresh',
  s.object({
    group_public_key: s.string({ pattern: /^[0-9a-f]+$/ }),
    parties: s.array(
      s.object({ id: s.string(), previous_verifying_share: s.string(), verifying_share: s.string() }),
    ),
    repaired: s.array(s.string()),
    steps: s.array(s.string()),
    took_ms: s.integer({ minimum: 0 }),
  }),
);

export const InclusionProofSchema = s.named(
  'InclusionProof',
  s.object({ leaf_index: s.integer(), tree_size: s.integer(), hashes: s.array(s.string()) }),
);

export const LogEntrySchema = s.named(
  'LogEntry',
  s.object({
    leaf_index: s.integer(),
    body: s.string({
      description: 'base64 of the leaf bytes: the canonical JSON of a Rekor-shaped dsse v0.0.1 entry',
    }),
    leaf_hash: s.string({ description: 'hex RFC 9162 leaf hash: SHA-256(0x00 || leaf)' }),
    evidence_id: s.string({
      description: 'hex SHA-256 of the leaf: the bundle it commits to is GET /v1/evidence/{evidence_id}',
    }),
  }),
);

export const ConsistencyProofSchema = s.named(
  'ConsistencyProof',
  s.object({ first: s.integer(), second: s.integer(), hashes: s.array(s.string()) }),
);

/** A tree size or leaf index as a path or query value: a decimal integer, no leading zeros, at most 16 digits. */
export const LOG_INDEX = /^(?:0|[1-9][0-9]{0,15})$/;

export const InclusionQuerySchema = s.object({
  tree_size: s.optional(s.string({ pattern: LOG_INDEX })),
});

export const ConsistencyQuerySchema = s.object({
  first: s.string({ pattern: LOG_INDEX }),
  second: s.optional(s.string({ pattern: LOG_INDEX })),
});

export const EntriesQuerySchema = s.object({
  start: s.string({ pattern: LOG_INDEX }),
  count: s.optional(s.string({ pattern: /^(?:[1-9][0-9]{0,3})$/ })),
});

export const LogEntriesSchema = s.named(
  'LogEntries',
  s.object({ start: s.integer(), log_size: s.integer(), entries: s.array(LogEntrySchema) }),
);

export const OpaqueJsonSchema = s.named('Json', s.record(s.unknown()), 'A JSON object (see the docs).');

export const UnsealRequestSchema = s.named(
  'UnsealRequest',
  s.object(
    {
      request_id: s.string({
        minLength: 1,
        maxLength: 128,
        description: 'Random; a request id seen before is 409.',
      }),
      incident_id: s.string({ minLength: 1, maxLength: 128 }),
      evidence_id: s.string({ pattern: /^[0-9a-f]{64}$/, maxLength: 64 }),
      fields: s.array(s.string({ minLength: 1, maxLength: 128 }), {
        minItems: 1,
        maxItems: MAX_UNSEAL_FIELDS,
        description: `Sealed field ids (the \`$sealed\` markers), 1 to ${MAX_UNSEAL_FIELDS}, no repeats.`,
      }),
      requester: s.string({ minLength: 1, maxLength: 128, description: 'A roster approver id.' }),
      reason: s.string({ minLength: 1, maxLength: 1024 }),
      issued_at: s.string({ format: 'date-time', maxLength: 64 }),
      expires_at: s.string({
        format: 'date-time',
        maxLength: 64,
        description: 'At most 1 h after issued_at.',
      }),
      signature: s.string({ pattern: /^ed25519:[A-Za-z0-9+/]+={0,2}$/, maxLength: 256 }),
    },
    { unknownKeys: 'reject' },
  ),
  'Signed by the approver over canonical JSON of {domain: "aaps.unseal-request.v1", request} without its signature.',
);

export const UnsealBodySchema = s.named(
  'UnsealBody',
  s.object({ request: UnsealRequestSchema }, { unknownKeys: 'reject' }),
);

/**
 * Most entries an unseal answer lists in `releases` or `refusals`: one per party asked and
 * requested field. The gateway asks every roster party, and a group has at most
 * {@link MAX_PARTIES} (the bound on a key's `threshold.max`); a request names at most
 * {@link MAX_UNSEAL_FIELDS}. (A field's shares go to at most 255 parties, but every party asked
 * answers for every field, so that is no bound on the answer.)
 */
export const MAX_UNSEAL_ANSWERS = MAX_PARTIES * MAX_UNSEAL_FIELDS;

export const UnsealAnswerSchema = s.named(
  'UnsealAnswer',
  s.object({
    request_id: s.string(),
    incident_id: s.string(),
    threshold: s.integer({ description: 'k: releases needed to open a field.' }),
    releases: s.array(
      s.object({
        field: s.string(),
        release: s.record(s.unknown(), {
          description:
            'A ReleasedShare (v 2, type, body {party, box, signature}) sealed to the requester’s X25519 key and signed by its party for this request.',
        }),
      }),
      { maxItems: MAX_UNSEAL_ANSWERS, description: 'At most one per party and requested field.' },
    ),
    refusals: s.array(
      s.object({
        field: s.string(),
        party: s.string(),
        decision: s.enumOf(['refused', 'unavailable'] as const),
        rule: s.nullable(s.string()),
      }),
      { maxItems: MAX_UNSEAL_ANSWERS, description: 'One per party and requested field not released.' },
    ),
    evidence: s.object({
      request: s.string({ description: 'Evidence id of the UnsealRequested record.' }),
      releases: s.string({ description: 'Evidence id of the UnsealRelease records.' }),
    }),
  }),
);
