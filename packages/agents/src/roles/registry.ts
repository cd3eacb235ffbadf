/**
 * Which workflow step each party role runs, the agent name it signs as, and the message types of
 * its output envelopes. `runRoleStep` dispatches a request to the role's pure step function; the
 * party node signs what it returns.
 */

import type { MessageType } from '@aaps/mpc-core';
import { isAapsError, ValidationError } from '@aaps/mpc-core';
import type { AgentRole, PartyRole } from '../policy/roles.js';
import type { EvaluationContext } from '../policy/rules.js';
import type { Policy } from '../policy/schema.js';
import { type AuditInput, type EvidenceSummary, runAuditStep } from '../steps/audit.js';
import { type MonitoringInput, runMonitoringStep, type TriagedSignal } from '../steps/monitoring.js';
import {
  type ProblemSolverInput,
  type ProblemSolverOutput,
  runProblemSolverStep,
} from '../steps/problem-solver.js';
import {
  type QualityAssuranceInput,
  runVerification,
  type VerificationReport,
} from '../steps/quality-assurance.js';
import { type ApprovalDecisionPayload, runStrategyStep, type StrategyInput } from '../steps/strategy.js';

/** The `source_agent` / `target_agent` name of each role, as in the seed (`monitoring-agent`). */
export const ROLE_AGENT_NAMES: Readonly<Record<AgentRole, string>> = Object.freeze({
  monitoring: 'monitoring-agent',
  'problem-solver': 'problem-solver-agent',
  strategy: 'strategy-agent',
  'quality-assurance': 'quality-assurance-agent',
  audit: 'audit-agent',
  maintenance: 'maintenance-agent',
});

/** The message types each party role's step emits, in order. */
export const ROLE_OUTPUT_TYPES: Readonly<Record<PartyRole, readonly MessageType[]>> = Object.freeze({
  monitoring: ['IncidentSignal'],
  'problem-solver': ['RCAReport', 'FixProposal'],
  strategy: ['ApprovalDecision'],
  'quality-assurance': ['VerificationReport'],
  audit: ['EvidenceBundleRef'],
});

export type RoleStepRequest =
  | { role: 'monitoring'; input: MonitoringInput }
  | { role: 'problem-solver'; input: ProblemSolverInput }
  | { role: 'strategy'; input: StrategyInput }
  | { role: 'quality-assurance'; input: QualityAssuranceInput }
  | { role: 'audit'; input: AuditInput };

export type RoleStepResult =
  | { role: 'monitoring'; outputs: [{ message_type: 'IncidentSignal'; payload: TriagedSignal }] }
  | {
      role: 'problem-solver';
      outputs: [
        { message_type: 'RCAReport'; payload: ProblemSolverOutput['rca'] },
        { message_type: 'FixProposal'; payload: ProblemSolverOutput['fix'] },
      ];
    }
  | { role: 'strategy'; outputs: [{ message_type: 'ApprovalDecision'; payload: ApprovalDecisionPayload }] }
  | {
      role: 'quality-assurance';
      outputs: [{ message_type: 'VerificationReport'; payload: VerificationReport }];
    }
  | { role: 'audit'; outputs: [{ message_type: 'EvidenceBundleRef'; payload: EvidenceSummary }] };

/**
 * Run `request` as `role` (the party's own role): a party runs only its own step. Inputs that
 * carry a policy (problem solver, strategy) are given the party's own `policy`, never the caller's.
 */
export function runRoleStep(
  role: PartyRole,
  policy: Policy,
  request: RoleStepRequest,
  ctx: EvaluationContext,
): RoleStepResult {
  try {
    return dispatch(role, policy, request, ctx);
  } catch (e) {
    // Input the step could not make sense of is the caller's error, never a crash of the party.
    if (isAapsError(e)) throw e;
    throw new ValidationError('INVALID_ARGUMENT', 'input: malformed for this step', ['input'], { cause: e });
  }
}

function dispatch(
  role: PartyRole,
  policy: Policy,
  request: RoleStepRequest,
  ctx: EvaluationContext,
): RoleStepResult {
  if (request === null || typeof request !== 'object' || request.role !== role) {
    throw new ValidationError('INVALID_ARGUMENT', `role: this party runs ${role}`, ['role']);
  }
  switch (request.role) {
    case 'monitoring':
      return {
        role: 'monitoring',
        outputs: [{ message_type: 'IncidentSignal', payload: runMonitoringStep(request.input) }],
      };
    case 'problem-solver': {
      const out = runProblemSolverStep({ ...request.input, policy });
      return {
        role: 'problem-solver',
        outputs: [
          { message_type: 'RCAReport', payload: out.rca },
          { message_type: 'FixProposal', payload: out.fix },
        ],
      };
    }
    case 'strategy':
      return {
        role: 'strategy',
        outputs: [
          { message_type: 'ApprovalDecision', payload: runStrategyStep({ ...request.input, policy }, ctx) },
        ],
      };
    case 'quality-assurance':
      return {
        role: 'quality-assurance',
        outputs: [
          { message_type: 'VerificationReport', payload: runVerification(policy, request.input, ctx) },
        ],
      };
    case 'audit':
      return {
        role: 'audit',
        outputs: [{ message_type: 'EvidenceBundleRef', payload: runAuditStep(request.input) }],
      };
    default:
      throw new ValidationError('INVALID_ARGUMENT', 'role: unknown step', ['role']);
  }
}
