/**
 * Audit: the evidence summary for the evidence writer (the in-toto predicate's content): the
 * incident, the decision, the action, who signed, human approvals, the verification and the times,
 * plus the audit's own findings where the record does not add up (an execution without an approved
 * decision, a human-approval action without a human approval, a resolution despite a veto).
 */
import type { HumanApproval } from '../policy/proposal.js';
import type { TriagedSignal } from './monitoring.js';
import type { RCAReport } from './problem-solver.js';
import type { ExecutionResultSummary, VerificationReport } from './quality-assurance.js';
import type { ApprovalDecisionPayload } from './strategy.js';

export interface AuditInput {
  incident_id: string;
  /** The incident's final state. */
  state: string;
  signal: TriagedSignal;
  rca?: RCAReport;
  decision?: ApprovalDecisionPayload;
  /** The threshold signing over the decision. */
  approval?: {
    /** Party ids whose signature shares made the group signature. */
    signers: string[];
    /** Parties that refused, with the rule they named. */
    refusals: { party: string; rule: string }[];
    /** Hex of the group signature, when the signing completed. */
    signature?: string;
  };
  human_approvals?: HumanApproval[];
  execution?: ExecutionResultSummary;
  verification?: VerificationReport;
  /** RFC 3339 times of the workflow's steps (`received`, `approved`, `resolved`, …). */
  times: Record<string, string>;
}

export type AuditViolation =
  | 'executed_without_approval'
  | 'executed_without_signature'
  | 'missing_human_approval'
  | 'execution_mismatch'
  | 'resolved_despite_veto'
  | 'resolved_without_verification';

/** The evidence summary (`predicate` content) the evidence writer seals. */
export interface EvidenceSummary {
  incident: {
    id: string;
    type: string;
    subtype: string;
    severity: string;
    state: string;
    affected_resources: string[];
    evidence_refs: string[];
    dedup_key: string;
  };
  root_cause?: { statement: string; confidence: string; evidence_refs: string[] };
  decision?: {
    outcome: ApprovalDecisionPayload['decision'];
    rule?: string;
    risk_score: number;
    pooled?: boolean;
    proposal_digest: string;
  };
  /**
   * The action executed, absent when nothing executed: `result` is the last execution result's
   * status (`succeeded`, `rolled_back`, or `failed`, also when a vetoed change's undo failed),
   * `rollback` that result's undo, when one was tried, and `approved_by` the parties whose signature
   * shares made the k-of-n approval of what executed (sorted), when that signing completed.
   */
  action?: {
    name: string;
    target: string;
    executor: string;
    result: string;
    rollback?: { done: boolean; detail: string };
    approved_by?: string[];
  };
  signers: string[];
  refusals: { party: string; rule: string }[];
  approvals: { approver_id: string; approved_at: string; expires_at: string; proposal_digest: string }[];
  verification?: { verdict: string; vetoed_by: string[]; stages: { name: string; status: string }[] };
  times: Record<string, string>;
  compliance: { status: 'compliant' | 'violations'; violations: AuditViolation[] };
}

export function runAuditStep(input: AuditInput): EvidenceSummary {
  const { signal, decision, execution, verification } = input;
  const proposal = decision?.proposal;
  const approvals = [
    ...(input.human_approvals ?? []),
    ...(proposal?.human_approval ? [proposal.human_approval] : []),
  ].filter((a, i, all) => all.findIndex((b) => b.signature === a.signature) === i);

  const violations: AuditViolation[] = [];
  if (execution) {
    if (!decision || decision.decision === 'refuse') violations.push('executed_without_approval');
    if (!input.approval?.signature) violations.push('executed_without_signature');
    if (proposal && execution.proposal_digest !== proposal.proposal_digest)
      violations.push('execution_mismatch');
    const validApproval = approvals.some(
      (a) =>
        proposal &&
        a.incident_id === proposal.incident_id &&
        a.action === proposal.action &&
        a.proposal_digest === proposal.proposal_digest,
    );
    if (decision?.decision === 'needs_human' && !validApproval) violations.push('missing_human_approval');
  }
  if (input.state === 'resolved') {
    if (verification?.verdict === 'veto') violations.push('resolved_despite_veto');
    if (execution && !verification) violations.push('resolved_without_verification');
  }

  const summary: EvidenceSummary = {
    incident: {
      id: input.incident_id,
      type: signal.incident_type,
      subtype: signal.triage?.subtype ?? 'unclassified',
      severity: signal.severity,
      state: input.state,
      affected_resources: [...signal.affected_resources],
      evidence_refs: [...signal.evidence_refs],
      dedup_key: signal.triage?.dedup.key ?? '',
    },
    signers: [...(input.approval?.signers ?? [])].sort(),
    refusals: [...(input.approval?.refusals ?? [])],
    approvals: approvals.map((a) => ({
      approver_id: a.approver_id,
      approved_at: a.approved_at,
      expires_at: a.expires_at,
      proposal_digest: a.proposal_digest,
    })),
    times: { ...input.times },
    compliance: { status: violations.length === 0 ? 'compliant' : 'violations', violations },
  };
  if (input.rca) {
    summary.root_cause = {
      statement: input.rca.root_cause,
      confidence: input.rca.confidence,
      evidence_refs: [...input.rca.evidence_refs],
    };
  }
  if (decision) {
    summary.decision = {
      outcome: decision.decision,
      risk_score: decision.risk.score,
      proposal_digest: decision.proposal.proposal_digest,
    };
    if (decision.rule) summary.decision.rule = decision.rule;
    if (decision.proposal.risk.aggregation_ref) summary.decision.pooled = true;
  }
  // The action executed, or none (docs/evidence.md `action`): a proposal strategy, the parties or
  // a person turned down is in the decision (`proposal_digest`) and the transcript, never here.
  if (decision && execution) {
    summary.action = {
      name: decision.proposal.action,
      target: decision.proposal.target,
      executor: execution.executor,
      result: execution.status,
      ...(execution.rollback === undefined ? {} : { rollback: { ...execution.rollback } }),
      ...(input.approval?.signature ? { approved_by: [...input.approval.signers].sort() } : {}),
    };
  }
  if (verification) {
    summary.verification = {
      verdict: verification.verdict,
      vetoed_by: [...verification.vetoed_by],
      stages: verification.stages.map((s) => ({ name: s.name, status: s.status })),
    };
  }
  return summary;
}
