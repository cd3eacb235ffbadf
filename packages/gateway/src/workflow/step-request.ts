/**
 * What each agent's step is given, derived from the incident's transcript plus the few facts the
 * transcript does not hold (`extra`). Pure. Both coordinators use it, so a party runs the same step
 * on the same input whether it sits in this process or behind HTTP.
 */
import {
  type AgentRole,
  type ApprovalDecisionPayload,
  type AuditInput,
  defaultPolicy,
  type FixProposalSet,
  ROLE_AGENT_NAMES,
  type RoleStepRequest,
  type TriagedSignal,
} from '@aaps/agents';
import {
  type Envelope,
  type IncidentSignalPayload,
  type MessageType,
  SCHEMA_VERSION,
  type SignedEnvelope,
  ValidationError,
} from '@aaps/mpc-core';
import type { AgentStepInput } from '../coordinator.js';

/** Who each role's output is addressed to. */
export const NEXT_AGENT: Readonly<Record<AgentRole, string>> = Object.freeze({
  monitoring: ROLE_AGENT_NAMES['problem-solver'],
  'problem-solver': ROLE_AGENT_NAMES.strategy,
  strategy: ROLE_AGENT_NAMES.maintenance,
  maintenance: ROLE_AGENT_NAMES['quality-assurance'],
  'quality-assurance': ROLE_AGENT_NAMES.audit,
  audit: 'gateway',
});

/** The payload of the last envelope of `type` (optionally from `source`), or `undefined`. */
export function lastPayload<P>(
  transcript: readonly Envelope[],
  type: MessageType,
  source?: string,
): P | undefined {
  for (let i = transcript.length - 1; i >= 0; i--) {
    const env = transcript[i];
    if (env === undefined) continue;
    if (env.meta.message_type !== type) continue;
    if (source !== undefined && env.meta.source_agent !== source) continue;
    return env.payload as P;
  }
  return undefined;
}

function need<T>(value: T | undefined, what: string): T {
  if (value === undefined) {
    throw new ValidationError('INVALID_ARGUMENT', `transcript: no ${what} yet`, ['transcript']);
  }
  return value;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** The monitoring agent's output: the last `IncidentSignal` that carries a triage. */
export function triaged(transcript: readonly Envelope[]): TriagedSignal | undefined {
  for (let i = transcript.length - 1; i >= 0; i--) {
    const env = transcript[i];
    if (
      env?.meta.message_type === 'IncidentSignal' &&
      isObject(env.payload) &&
      isObject(env.payload['triage'])
    ) {
      return env.payload as unknown as TriagedSignal;
    }
  }
  return undefined;
}

/** The request `role`'s step runs on. Throws `ValidationError` when the transcript lacks an input. */
export function roleStepRequest(role: AgentRole, input: AgentStepInput): RoleStepRequest {
  const { transcript, incidentId } = input;
  const extra = input.extra ?? {};
  switch (role) {
    case 'monitoring': {
      const first = need(transcript[0], 'IncidentSignal');
      return {
        role,
        input: {
          incident_id: incidentId,
          context: input.context,
          signal: first.payload as unknown as IncidentSignalPayload,
        },
      };
    }
    case 'problem-solver': {
      const signal = need(triaged(transcript), 'triage');
      return {
        role,
        input: {
          incident_id: incidentId,
          signal,
          policy: defaultPolicy('problem-solver'),
          ...(Array.isArray(extra['deployment_history'])
            ? { deployment_history: extra['deployment_history'] as never }
            : {}),
          ...(isObject(extra['sources']) ? { sources: extra['sources'] as never } : {}),
        },
      };
    }
    case 'strategy': {
      const fixes = need(lastPayload<FixProposalSet>(transcript, 'FixProposal'), 'FixProposal');
      const fix = need(fixes.proposals[0], 'fix proposal');
      return {
        role,
        input: {
          incident_id: incidentId,
          urgency: input.context.urgency,
          fix,
          policy: defaultPolicy('strategy'),
          ...(typeof extra['environment'] === 'string' ? { environment: extra['environment'] as never } : {}),
          ...(isObject(extra['pooled']) ? { pooled: extra['pooled'] as never } : {}),
        },
      };
    }
    case 'quality-assurance': {
      const orderEnv = transcript.findLast((e) => e.meta.message_type === 'ExecutionOrder');
      const order = orderEnv?.payload as { proposal?: unknown } | undefined;
      const decision = lastPayload<ApprovalDecisionPayload>(transcript, 'ApprovalDecision');
      const proposal = need(order?.proposal ?? decision?.proposal, 'proposal');
      const execution = lastPayload<Record<string, unknown>>(transcript, 'ExecutionResult');
      return {
        role,
        input: {
          proposal,
          ...(execution === undefined ? {} : { execution: execution as never }),
          // When the order was issued: the human approval's window is judged then (quality-assurance.ts).
          ...(orderEnv === undefined ? {} : { ordered_at: orderEnv.meta.timestamp }),
          ...(isObject(extra['artifacts']) ? { artifacts: extra['artifacts'] as never } : {}),
        },
      };
    }
    case 'audit': {
      const audit = extra['audit'];
      if (!isObject(audit)) {
        throw new ValidationError('INVALID_ARGUMENT', 'extra.audit: expected the audit record', [
          'extra.audit',
        ]);
      }
      return { role, input: audit as unknown as AuditInput };
    }
    default:
      throw new ValidationError('INVALID_ARGUMENT', `role: ${role} runs no agent step in a party`, ['role']);
  }
}

/** Plain JSON (drops `undefined`), so canonical JSON and signatures see exactly what is sent. */
export function toJson<T>(value: T): T {
  return JSON.parse(JSON.stringify(value)) as T;
}

/** The unsigned output envelope of a step, addressed to the next agent. */
export function stepEnvelope(
  role: AgentRole,
  partyId: string,
  input: AgentStepInput,
  output: { message_type: MessageType; payload: unknown },
  index: number,
  at: Date,
  spanId: string,
): Envelope<Record<string, unknown>> {
  return {
    meta: {
      trace_id: input.traceId,
      span_id: spanId,
      timestamp: at.toISOString(),
      source_agent: partyId,
      target_agent: NEXT_AGENT[role],
      message_type: output.message_type,
      schema_version: SCHEMA_VERSION,
      idempotency_key: `${input.incidentId}:${role}:${partyId}:${output.message_type}:${input.transcript.length + index}`,
    },
    context: input.context,
    payload: toJson(output.payload) as Record<string, unknown>,
  };
}

export type { SignedEnvelope };
