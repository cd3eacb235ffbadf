/**
 * The signed-envelope protocol between the gateway (or `aaps dkg`) and the party nodes. Every
 * request is a `ProtocolRequest` envelope signed by its sender; every answer a `ProtocolResponse`
 * envelope signed by the party and bound to the request by its idempotency key.
 */
import {
  type Envelope,
  type IdentityKey,
  SCHEMA_VERSION,
  type SignedEnvelope,
  signEnvelope,
} from '@aaps/mpc-core';

/** The calls a party answers; `payload.kind` of a `ProtocolRequest`. */
export const RPC_KINDS = [
  'dkg.round1',
  'dkg.round2',
  'dkg.round3',
  'sign.commit',
  'sign.round2',
  'agent.step',
  'key.info',
  'key.pending',
  'key.commit',
  'refresh.round1',
  'refresh.round2',
  'refresh.round3',
  'repair.step1',
  'repair.step2',
  'repair.step3',
  'agg.deal',
  'agg.evaluate',
  'agg.confirm',
  'agg.reveal',
  'sealed.release',
  'checkpoint.witness',
  'batch',
] as const;
export type RpcKind = (typeof RPC_KINDS)[number];

/**
 * The calls a `batch` request may carry: the per-incident hot path (commitments, round-two
 * shares, agent steps). Key ceremonies, aggregation and unsealing always travel alone.
 */
export const BATCHABLE_KINDS = ['sign.commit', 'sign.round2', 'agent.step'] as const;
export type BatchableKind = (typeof BATCHABLE_KINDS)[number];
export const MAX_BATCH_CALLS = 16;

export function isBatchable(kind: string): kind is BatchableKind {
  return (BATCHABLE_KINDS as readonly string[]).includes(kind);
}

/**
 * One call inside a `batch` request: what a `ProtocolRequest`'s payload and trace carry. The
 * batch envelope's signature covers every call in it.
 */
export interface BatchCall {
  kind: BatchableKind;
  session_id: string;
  ctx: RpcContext;
  body: Record<string, unknown>;
}

/**
 * One answer of a `batch` response, in call order: the body a single call would have answered,
 * or the error it would have answered with its HTTP status (and, for a policy refusal, the
 * party-signed refusal).
 */
export type BatchResult =
  | { body: Record<string, unknown> }
  | {
      status: number;
      error: {
        code: string;
        message: string;
        rule?: string;
        culprits?: readonly string[];
        fields?: readonly string[];
      };
      refusal?: unknown;
    };

export interface RpcRequestPayload {
  kind: RpcKind;
  session_id: string;
  body: Record<string, unknown>;
  [key: string]: unknown;
}

export interface RpcResponsePayload {
  kind: RpcKind;
  session_id: string;
  /** The idempotency key of the request this answers. */
  in_reply_to: string;
  body: Record<string, unknown>;
  /**
   * What the answer says, when it is no success: `error`, the party's error answer
   * ({@link makeErrorAnswer}); `refused`, its policy refusal. Absent on a success. Signed with the
   * rest, so neither can pass for a success (nor one for the other): each answers the same request.
   */
  outcome?: ResponseOutcome;
  [key: string]: unknown;
}

/** `RpcResponsePayload.outcome`: an answer that is no success. */
export type ResponseOutcome = 'error' | 'refused';

export interface RpcContext {
  trace_id: string;
  namespace?: string;
  cluster?: string;
}

let counter = 0;
function uniqueKey(now: Date): string {
  counter = (counter + 1) % 1_000_000_000;
  return `${now.getTime().toString(36)}-${process.pid.toString(36)}-${counter.toString(36)}-${Math.random().toString(36).slice(2, 10)}`;
}

export function makeRequest(
  from: { id: string; key: IdentityKey },
  to: string,
  kind: RpcKind,
  sessionId: string,
  body: Record<string, unknown>,
  ctx: RpcContext,
  now: Date = new Date(),
): SignedEnvelope<RpcRequestPayload> {
  const env: Envelope<RpcRequestPayload> = {
    meta: {
      trace_id: ctx.trace_id,
      span_id: uniqueKey(now),
      timestamp: now.toISOString(),
      source_agent: from.id,
      target_agent: to,
      message_type: 'ProtocolRequest',
      schema_version: SCHEMA_VERSION,
      idempotency_key: uniqueKey(now),
    },
    context: {
      namespace: ctx.namespace ?? 'aaps',
      cluster: ctx.cluster ?? 'local',
      urgency: 'P2',
      constraints_ref: 'policy://party/v1',
    },
    payload: { kind, session_id: sessionId, body },
  };
  return signEnvelope(env, from.key.secretKey);
}

/**
 * The party's signed answer to `request`: a success, or with `outcome` an error answer's or a
 * refusal's signed part (`RpcResponsePayload.outcome`).
 */
export function makeResponse(
  from: { id: string; key: IdentityKey },
  request: Envelope<RpcRequestPayload>,
  body: Record<string, unknown>,
  now: Date = new Date(),
  outcome?: ResponseOutcome,
): SignedEnvelope<RpcResponsePayload> {
  const env: Envelope<RpcResponsePayload> = {
    meta: {
      trace_id: request.meta.trace_id,
      span_id: uniqueKey(now),
      timestamp: now.toISOString(),
      source_agent: from.id,
      target_agent: request.meta.source_agent,
      message_type: 'ProtocolResponse',
      schema_version: SCHEMA_VERSION,
      idempotency_key: uniqueKey(now),
    },
    context: request.context,
    payload: {
      kind: request.payload.kind,
      session_id: request.payload.session_id,
      in_reply_to: request.meta.idempotency_key,
      body,
      ...(outcome === undefined ? {} : { outcome }),
    },
  };
  return signEnvelope(env, from.key.secretKey);
}

/**
 * A party's error answer to `request`, as it signs it: `body` (`{error:{code,message,...}}`, and a
 * signed refusal for a refusal) as it was, readable as is, and beside it `response`: a
 * `ProtocolResponse` signed by the party as a success is, answering this very request
 * (`in_reply_to`), whose body is `{status, error}` (the HTTP status and the same `error`), marked
 * `outcome: 'error'` so that it cannot pass for a success. The client takes an error answer only
 * through it (`PartyClient`).
 */
export function makeErrorAnswer<B extends { error: object }>(
  from: { id: string; key: IdentityKey },
  request: Envelope<RpcRequestPayload>,
  status: number,
  body: B,
  now: Date = new Date(),
): B & { response: SignedEnvelope<RpcResponsePayload> } {
  return { ...body, response: makeResponse(from, request, { status, error: body.error }, now, 'error') };
}
