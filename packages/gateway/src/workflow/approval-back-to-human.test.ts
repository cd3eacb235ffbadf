/**
 * An approval the parties will not sign because of its human approval alone (it ran out while
 * quality assurance was down, or it lasts longer than the parties' own policy accepts) goes back
 * to a person (`awaiting_approval -> awaiting_human`) instead of ending the incident `rejected`:
 * nobody said no to the change. The stale approval leaves the proposal (it stays in the history),
 * and a fresh one is taken and carried out; the stale one posted again is a replay (409): a signed
 * approval counts once.
 */
import { defaultPolicy, PARTY_ROLES } from '@aaps/agents';
import { afterEach, describe, expect, it } from 'vitest';
import { signedApprovalEnvelope } from '../approval-envelope.js';
import { LocalCoordinator } from '../coordinator-local.js';
import {
  incident,
  json,
  makeGateway,
  request,
  SIGNALS,
  type TestGateway,
  TOKENS,
} from '../test-helpers/gateway.js';

const open: TestGateway[] = [];
afterEach(async () => {
  for (const gw of open.splice(0)) await gw.cleanup();
});

type Proposal = Parameters<typeof signedApprovalEnvelope>[0]['proposal'];
type Entry = { event: string; state: string; actor: string; detail?: Record<string, unknown> };

async function awaitingHuman(gw: TestGateway): Promise<{ id: string; proposal: Proposal }> {
  const res = await request(gw, 'POST', '/v1/incidents', { token: TOKENS.submit, body: SIGNALS.rbac() });
  const id = String((await json(res))['incident_id']);
  await gw.runner.idle();
  const inc = await incident(gw, id);
  expect(inc['state']).toBe('awaiting_human');
  return { id, proposal: inc['proposal'] as Proposal };
}

/** Alice's signed approval of `proposal`, valid for `validForMs` from a second ago. */
function approval(gw: TestGateway, proposal: Proposal, validForMs: number) {
  const t = Date.now();
  return signedApprovalEnvelope({
    proposal,
    approver: 'alice',
    key: gw.approverKey,
    approvedAt: new Date(t - 1000),
    expiresAt: new Date(t + validForMs),
    context: { namespace: 'shop', cluster: 'test', urgency: 'P2', constraints_ref: 'policy://x/v1' },
  });
}

function post(gw: TestGateway, id: string, body: ReturnType<typeof approval>) {
  return request(gw, 'POST', `/v1/approvals/${id}`, { token: TOKENS.approve, body });
}

function approve(gw: TestGateway, id: string, proposal: Proposal, validForMs: number) {
  return post(gw, id, approval(gw, proposal, validForMs));
}

/** Checks the incident went back to a person, and that a fresh approval then carries it out. */
async function backToHumanThenApproved(gw: TestGateway, id: string, proposal: Proposal): Promise<Entry> {
  const back = await incident(gw, id);
  const entry = (back['timeline'] as Entry[]).at(-1) as Entry;
  expect({ state: back['state'], event: entry.event }).toEqual({
    state: 'awaiting_human',
    event: 'human_required',
  });
  expect((back['proposal'] as Record<string, unknown>)['human_approval']).toBeUndefined();
  const again = await approve(gw, id, proposal, 600_000);
  expect(again.status).toBe(202);
  await gw.runner.idle();
  const done = await incident(gw, id);
  expect(done['state']).toBe('resolved');
  expect(done['evidence_id']).toEqual(expect.any(String));
  const stored = await gw.store.getIncident(id);
  expect(stored?.human_approvals).toHaveLength(2);
  return entry;
}

describe('an approval the parties refuse for its human approval alone', () => {
  it('one that ran out while quality assurance was unreachable goes back to a person', async () => {
    let qaDown = false;
    const gw = await makeGateway({
      wrap: (c) => {
        const trusted = c.trustedKeys();
        return new LocalCoordinator({
          gateway: trusted.gateway,
          approvers: trusted.approvers,
          material: c.exportMaterial(),
          down: (party) => party === 'quality-assurance' && qaDown,
        });
      },
    });
    open.push(gw);
    const { id, proposal } = await awaitingHuman(gw);
    qaDown = true;
    expect((await approve(gw, id, proposal, 1500)).status).toBe(202);
    await new Promise((r) => setTimeout(r, 2500));
    qaDown = false;
    await gw.runner.idle();
    // Checked again before each signing try: it ran out before quality assurance was back.
    const entry = await backToHumanThenApproved(gw, id, proposal);
    expect(entry).toMatchObject({ actor: 'gateway', detail: { approval_window: ['expires_at has passed'] } });
  });

  it('one longer than the parties policy accepts goes back to a person, with their refusals', async () => {
    const policies = Object.fromEntries(
      PARTY_ROLES.map((role) => {
        const p = defaultPolicy(role);
        p.human_approval.max_validity_seconds = 3600;
        return [role, p];
      }),
    );
    const gw = await makeGateway({ policies });
    open.push(gw);
    const { id, proposal } = await awaitingHuman(gw);
    // Within the default policy the gateway checks against (86400 s), over this one's 3600 s.
    const tooLong = approval(gw, proposal, 2 * 3600_000);
    expect((await post(gw, id, tooLong)).status).toBe(202);
    await gw.runner.idle();
    // The same signed approval again is a replay, not a second approval by alice.
    const replay = await post(gw, id, tooLong);
    expect(replay.status).toBe(409);
    expect((await json(replay))['error']).toMatchObject({ code: 'CONFLICT', fields: ['signature'] });
    const requested = (await gw.store.getIncident(id))!.timeline.filter(
      (e) => e.event === 'approval_requested',
    );
    expect(requested).toHaveLength(1);
    const entry = await backToHumanThenApproved(gw, id, proposal);
    expect(entry.actor).toBe('parties');
    const refusals = entry.detail?.['refusals'] as string[];
    expect(refusals).toContain('quality-assurance:human_approval.expired');
    expect(refusals.every((r) => r.endsWith(':human_approval.expired'))).toBe(true);
  });
});
