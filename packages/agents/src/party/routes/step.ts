/** The agent step: the party runs its own role's workflow step and signs each output envelope. */
import {
  type Envelope,
  type EnvelopeContext,
  SCHEMA_VERSION,
  type SignedEnvelope,
  signEnvelope,
  ValidationError,
} from '@aaps/mpc-core';
import type { AggregationRef, ApprovalProposal } from '../../policy/proposal.js';
import { isPartyRole } from '../../policy/roles.js';
import { type RoleStepRequest, runRoleStep } from '../../roles/registry.js';
import type { PartyDeps } from '../context.js';
import { humanApprovalVerifier } from './sign.js';

export function createStepHandler(
  deps: PartyDeps,
  verifyAggregationRef?: (ref: AggregationRef, proposal: ApprovalProposal) => boolean | 'stale',
) {
  const now = deps.now ?? (() => new Date());
  const verifyHumanApproval = humanApprovalVerifier(deps.roster);
  let seq = 0;
  return (
    session: string,
    body: Record<string, unknown>,
    request: Envelope,
  ): { envelopes: SignedEnvelope[] } => {
    const role = deps.self.role;
    if (!isPartyRole(role)) throw new ValidationError('FORBIDDEN', `role ${role} runs no workflow step`);
    const req = body.request as RoleStepRequest | undefined;
    if (!req || typeof req !== 'object' || req.role !== role) {
      throw new ValidationError('INVALID_ARGUMENT', `body.request.role must be this party's role (${role})`, [
        'body.request.role',
      ]);
    }
    const context = (body.context ?? request.context) as EnvelopeContext;
    const result = runRoleStep(role, deps.policy, req, {
      now: now().getTime(),
      verifyHumanApproval,
      ...(verifyAggregationRef ? { verifyAggregationRef } : {}),
    });
    const at = now();
    const target = typeof body.target_agent === 'string' ? body.target_agent : request.meta.source_agent;
    const envelopes = result.outputs.map((out) => {
      const env: Envelope = {
        meta: {
          trace_id: request.meta.trace_id,
          span_id: `${deps.self.id}-${at.getTime().toString(36)}-${(seq++).toString(36)}`,
          timestamp: at.toISOString(),
          source_agent: deps.self.id,
          target_agent: target,
          message_type: out.message_type,
          schema_version: SCHEMA_VERSION,
          idempotency_key: `${session}:${deps.self.id}:${out.message_type}`,
        },
        context,
        payload: out.payload as unknown as Record<string, unknown>,
      };
      return signEnvelope(env, deps.identity.secretKey);
    });
    return { envelopes };
  };
}
