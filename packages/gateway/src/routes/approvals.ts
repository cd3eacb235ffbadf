/** `POST /v1/approvals/:incident_id`: a human approval envelope signed by a roster approver. */
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
    summary: 'A signed human approval of the proposal of an incident in awaiting_human.',
    auth: 'approve',
    body: HumanApprovalEnvelopeSchema,
    responses: {
      '202': { description: 'accepted; the parties sign next', schema: IncidentAcceptedSchema },
      '404': { description: 'unknown incident' },
      '409': { description: 'the incident is not awaiting a human approval' },
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
    const r = await d.runner.approve(c.req.param('incident_id'), env as unknown as SignedEnvelope);
    return c.json({ incident_id: r.id, trace_id: r.trace_id, state: r.state, duplicate: false }, 202);
  });
}
