/**
 * A signed human approval counts once. After the parties refused it for its approval alone (here:
 * a longer validity than their policy accepts) the incident goes back to `awaiting_human`; the same
 * approval posted again (same signature, any `approve` token) is `409`, not a second approval.
 */
import { defaultPolicy, PARTY_ROLES } from '@aaps/agents';
import { afterAll, describe, expect, it } from 'vitest';
import { signedApprovalEnvelope } from '../approval-envelope.js';
import {
  incident,
  json,
  makeGateway,
  request,
  SIGNALS,
  type TestGateway,
  TOKENS,
} from '../test-helpers/gateway.js';

type Proposal = Parameters<typeof signedApprovalEnvelope>[0]['proposal'];
const open: TestGateway[] = [];
afterAll(async () => {
  for (const gw of open) await gw.cleanup();
});

describe('a replayed human approval', () => {
  it('the same signed envelope a second time is refused, not taken as a new approval', async () => {
    const policies = Object.fromEntries(
      PARTY_ROLES.map((role) => {
        const p = defaultPolicy(role);
        p.human_approval.max_validity_seconds = 3600;
        return [role, p];
      }),
    );
    const gw = await makeGateway({ policies });
    open.push(gw);
    const res = await request(gw, 'POST', '/v1/incidents', { token: TOKENS.submit, body: SIGNALS.rbac() });
    const id = String((await json(res))['incident_id']);
    await gw.runner.idle();
    const inc = await incident(gw, id);
    expect(inc['state']).toBe('awaiting_human');
    const t = Date.now();
    const envelope = signedApprovalEnvelope({
      proposal: inc['proposal'] as Proposal,
      approver: 'alice',
      key: gw.approverKey,
      approvedAt: new Date(t - 1000),
      expiresAt: new Date(t + 2 * 3600_000),
      context: { namespace: 'shop', cluster: 'test', urgency: 'P2', constraints_ref: 'policy://x/v1' },
    });
    const post = () => request(gw, 'POST', `/v1/approvals/${id}`, { token: TOKENS.approve, body: envelope });
    expect((await post()).status).toBe(202);
    await gw.runner.idle();
    expect((await incident(gw, id))['state']).toBe('awaiting_human'); // refused by the parties' policy

    const replay = await post();
    await gw.runner.idle();
    const record = await gw.store.getIncident(id);
    const requested = record!.timeline.filter((e) => e.event === 'approval_requested').length;
    expect({
      status: replay.status,
      approval_requested: requested,
      human_approvals: record!.human_approvals.length,
    }).toEqual({
      status: 409,
      approval_requested: 1,
      human_approvals: 1,
    });
  }, 30_000);
});
