/**
 * The AAPS message envelope (DESIGN.md "Message envelope"; the user's seed document's
 * `Message Envelope Schema`). Every message between agents, parties and the gateway is one.
 */

export const MESSAGE_TYPES = [
  'IncidentSignal',
  'RCAReport',
  'FixProposal',
  'VerificationReport',
  'ApprovalDecision',
  'ExecutionOrder',
  'ExecutionResult',
  'EvidenceBundleRef',
  'KnowledgeArtifactPublished',
] as const;
/**
 * Envelope types for the protocol calls between the gateway (coordinator) and the party nodes:
 * DKG rounds, signing rounds, agent steps, aggregation. Not part of the agent workflow
 * transcript; `payload.kind` names the call.
 */
export const PROTOCOL_MESSAGE_TYPES = ['ProtocolRequest', 'ProtocolResponse'] as const;
export type ProtocolMessageType = (typeof PROTOCOL_MESSAGE_TYPES)[number];
export type MessageType = (typeof MESSAGE_TYPES)[number] | ProtocolMessageType;

export const URGENCIES = ['P1', 'P2', 'P3'] as const;
export type Urgency = (typeof URGENCIES)[number];

export interface EnvelopeMeta {
  trace_id: string;
  span_id: string;
  /** RFC 3339 timestamp with offset. */
  timestamp: string;
  source_agent: string;
  target_agent: string;
  message_type: MessageType;
  schema_version: string;
  idempotency_key: string;
  /** `ed25519:<base64>` over the RFC 8785 canonical JSON of the envelope without this field. */
  signature?: string;
}

export interface EnvelopeContext {
  namespace: string;
  cluster: string;
  urgency: Urgency;
  constraints_ref: string;
}

export interface Envelope<P = Record<string, unknown>> {
  meta: EnvelopeMeta;
  context: EnvelopeContext;
  payload: P;
}

export type SignedEnvelope<P = Record<string, unknown>> = Envelope<P> & {
  meta: EnvelopeMeta & { signature: string };
};

/** The `IncidentSignal` payload of the seed document. */
export interface IncidentSignalPayload {
  incident_type:
    | 'config_validation_failed'
    | 'image_signature_failed'
    | 'resource_quota_exceeded'
    | 'unknown';
  severity: 'high' | 'medium' | 'low';
  affected_resources: string[];
  evidence_refs: string[];
  metadata: Record<string, unknown>;
  [key: string]: unknown;
}

export const SCHEMA_VERSION = 'v1.0.0';
