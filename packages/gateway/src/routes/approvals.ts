/**
 * `POST /v1/approvals/:incident_id`: a human decision envelope signed by a roster approver: an
 * approval of the incident's proposal, or a rejection that ends the incident.
 */
import { type Envelope, type SignedEnvelope, VerificationError } from '@aaps/mpc-core';
import { requireScope } from '../middleware/auth.js';
import { jsonBody } from '../middleware/body-limit.js';
import type { RouteDoc } from '../openapi.js';
import { parse } from '../schema/check.js';
import { verifyRosterEnvelope } from '../trust.js';
import type { GatewayApp, RouteDeps } from './deps.js';
import { HumanApprovalEnvelopeSchema, IncidentAcceptedSchema } from './schemas.js';

export const approvalRouteDocs: RouteDoc[] = [
  {
    method: 'post',
    path: '/v1/approvals/{incident_id}',
    summary:
      'A signed human approval of the proposal of an incident in awaiting_human, or a signed rejection that ends it.',
    auth: 'approve',
    body: HumanApprovalEnvelopeSchema,
    responses: {
      '202': {
        description:
          'accepted: the parties sign next (an approval), or the incident ends rejected (a rejection)',
        schema: IncidentAcceptedSchema,
      },
      '400': {
        description:
          "INVALID_ARGUMENT: the decision is not for this incident's proposal, or its times are out of range",
      },
      '401': {
        description:
          'the envelope or the decision is not signed by the roster approver it names (UNAUTHENTICATED, INVALID_SIGNATURE)',
      },
      '404': { description: 'NOT_FOUND: unknown incident' },
      '409': { description: 'CONFLICT: the incident is not awaiting a human approval' },
    },
  },
];

export function registerApprovalRoutes(app: GatewayApp, d: RouteDeps): void {
  app.post('/v1/approvals/:incident_id', requireScope(d.authenticate, 'approve'), d.readBody, async (c) => {
    const env = parse(HumanApprovalEnvelopeSchema, jsonBody(c), 'invalid approval envelope');
    const trust = await d.trust();
    if (!trust.approvers.some((a) => a.id === env.meta.source_agent)) {
      throw new VerificationError('envelope.signature', 'the approval is not from a roster approver', {
        code: 'UNAUTHENTICATED',
      });
    }
    verifyRosterEnvelope(trust, env as unknown as Envelope);
    const id = c.req.param('incident_id');
    const signed = env as unknown as SignedEnvelope;
    const r =
      env.payload.decision === 'reject'
        ? await d.runner.reject(id, signed)
        : await d.runner.approve(id, signed);
    return c.json({ incident_id: r.id, trace_id: r.trace_id, state: r.state, duplicate: false }, 202);
  });
}
