/** The stored incident: its state, timeline, transcript and what each step produced. */
import type {
  ApprovalDecisionPayload,
  FixProposalSet,
  HumanApproval,
  RCAReport,
  TriagedSignal,
  VerificationReport,
} from '@aaps/agents';
import type { EnvelopeContext, SignedEnvelope } from '@aaps/mpc-core';
import type { PooledRisk } from '../coordinator.js';
import type { IntakeSource } from '../intake/types.js';
import type { IncidentState, TimelineEntry } from './machine.js';

export interface ApprovalRecord {
  /** Hex of the group signature over the approval proposal. */
  signature: string;
  signers: string[];
  refusals: { party: string; rule: string; message: string }[];
  misbehaved: { party: string; code: string; detail?: string }[];
  /** Parties that did not answer (unreachable, or an error not a refusal); absent in old records. */
  unavailable?: { party: string; code: string; detail?: string }[];
}

export interface ExecutionRecord {
  executor: string;
  status: 'succeeded' | 'failed' | 'rolled_back';
  /** The exact change, as the executor describes it. */
  change: Record<string, unknown>;
  post_checks: { name: string; passed: boolean; detail?: string }[];
  rollback?: { done: boolean; detail: string };
  error?: string;
  /** Set when the executor committed somewhere (e.g. a git commit id). */
  ref?: string;
}

/**
 * How long after a fix the same failure (a shared recurrence key) counts as coming back: one
 * hour, the API server's default `--event-ttl`, so every re-report of a Kubernetes Event that
 * still exists after a fix falls inside it.
 */
export const DEFAULT_RECURRENCE_WINDOW_MS = 60 * 60 * 1000;

/**
 * The earlier incident this failure came back after: one whose fix was executed, or (`pending`)
 * one still open that decided to fix the same failure automatically.
 */
export interface RecurrenceOf {
  incident_id: string;
  /** When that incident's fix was executed, or, when `pending`, decided (RFC 3339). */
  fixed_at: string;
  /** The recurrence key both share. */
  key: string;
  /** That incident's fix is decided but not executed (it is still open). */
  pending?: true;
}

/** The step a crash may have interrupted: written before the step's side effects. */
export type PendingStep = 'execute' | 'rollback' | 'evidence';

export interface IncidentRecord {
  id: string;
  source: IntakeSource;
  trace_id: string;
  /** Every dedup key that names this incident (idempotency key, delivery id...). */
  dedup_keys: string[];
  /** Joins later occurrences of the same problem while open; unset: nothing joins it. */
  correlation_key?: string;
  /** Further keys a later occurrence may join it by while open (`OpenIncident.joinable_by`). */
  joinable_by?: string[];
  /**
   * Name this failure also after the incident ends (see `OpenIncident.recurrence_keys`). Once a
   * fix is executed the store remembers them, with this incident and the time, for the recurrence
   * check at intake.
   */
  recurrence_keys?: string[];
  /**
   * Set at intake when a recurrence key named an incident whose fix was executed within the
   * recurrence window: this incident then waits for a person instead of being fixed automatically.
   */
  recurrence_of?: RecurrenceOf;
  type: string;
  state: IncidentState;
  created_at: string;
  updated_at: string;
  context: EnvelopeContext;
  timeline: TimelineEntry[];
  transcript: SignedEnvelope[];
  triage?: TriagedSignal;
  rca?: RCAReport;
  fixes?: FixProposalSet;
  decision?: ApprovalDecisionPayload;
  approval?: ApprovalRecord;
  human_approvals: HumanApproval[];
  execution?: ExecutionRecord;
  verification?: VerificationReport;
  evidence_id?: string;
  /**
   * The bundle is signed and stored under `evidence_id`; it may not be in the log yet (publishing
   * it again finds it there). `log_index` only in records from before bundles were stored ahead of
   * their log append: such a bundle is in the log under it.
   */
  sealing?: { evidence_id: string; log_index?: number };
  pending?: PendingStep;
  /**
   * Values sealed at intake (docs/sealing.md): each field in its `SealedFieldCodec` JSON form
   * (ciphertext, commitments, shares sealed to the parties) and the detector that found it.
   */
  sealed?: { fields: unknown[]; detectors: Record<string, string> };
  /** The departments' pooled risk score bound into the decision, and its aggregation record. */
  pooled_risk?: PooledRisk;
  /**
   * Unseal requests made for this incident's sealed fields, and the evidence recording them:
   * `release_evidence_id` (the record of the request's end: the parties' answers, or why there
   * are none) is `null` from the moment the request is stored until its end is in the log;
   * `end_evidence_id` names an end stored but not yet in the log (the next start appends that
   * very bundle). A gateway restarted with an entry still `null` records the request as
   * interrupted.
   */
  unseals?: {
    request_id: string;
    requester: string;
    request_evidence_id: string;
    release_evidence_id: string | null;
    end_evidence_id?: string;
  }[];
  /** Why the incident stopped (a refusal, an error code). */
  reason?: { code: string; message: string };
}

/** The public view `GET /v1/incidents/:id` returns. */
export function incidentView(r: Omit<IncidentRecord, 'transcript'>): Record<string, unknown> {
  return {
    incident_id: r.id,
    type: r.type,
    state: r.state,
    source: r.source,
    trace_id: r.trace_id,
    created_at: r.created_at,
    updated_at: r.updated_at,
    timeline: r.timeline,
    proposal: r.decision?.proposal ?? null,
    decision: r.decision
      ? {
          outcome: r.decision.decision,
          rule: r.decision.rule ?? null,
          reason: r.decision.reason,
          risk_score: r.decision.risk.score,
          approval: r.approval ?? null,
          human_approvals: r.human_approvals,
        }
      : null,
    execution: r.execution ?? null,
    verification: r.verification ?? null,
    evidence_id: r.evidence_id ?? null,
    reason: r.reason ?? null,
    sealed_fields: (r.sealed?.fields ?? []).map((f) => {
      const body = (f as { body?: { id?: string; path?: string } }).body ?? {};
      return {
        id: body.id ?? '',
        path: body.path ?? '',
        detector: r.sealed?.detectors[body.id ?? ''] ?? null,
      };
    }),
    unseals: r.unseals ?? [],
  };
}
