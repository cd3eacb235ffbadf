/**
 * Quality assurance judges a human approval's validity window when the parties signed the order,
 * not when it verifies the executed change: an approval that was valid then and ran out while the
 * change executed (a slow executor, a short `aaps approve --valid-for`) does not veto it.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { signedApprovalEnvelope } from '../approval-envelope.js';
import { createDryRunExecutor } from '../executor/dry-run.js';
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

describe('a human approval that runs out between execution and verification', () => {
  it('leaves the approved, executed change in place', async () => {
    const dry = createDryRunExecutor({ now: () => new Date() });
    // An execution that takes a while (a GitOps push and its post-change checks).
    const slow = {
      ...dry,
      name: dry.name,
      apply: async (o: Parameters<typeof dry.apply>[0]) => {
        await new Promise((r) => setTimeout(r, 2500));
        return dry.apply(o);
      },
    };
    const gw = await makeGateway({ executor: slow });
    open.push(gw);
    const res = await request(gw, 'POST', '/v1/incidents', { token: TOKENS.submit, body: SIGNALS.rbac() });
    const id = String((await json(res))['incident_id']);
    await gw.runner.idle();
    const inc = await incident(gw, id);
    expect(inc['state']).toBe('awaiting_human');
    const t = Date.now();
    // Valid when posted, when the parties sign and when the order goes out; not at verification.
    const env = signedApprovalEnvelope({
      proposal: inc['proposal'] as Parameters<typeof signedApprovalEnvelope>[0]['proposal'],
      approver: 'alice',
      key: gw.approverKey,
      approvedAt: new Date(t - 1000),
      expiresAt: new Date(t + 2000),
      context: { namespace: 'shop', cluster: 'test', urgency: 'P2', constraints_ref: 'policy://x/v1' },
    });
    const ok = await request(gw, 'POST', `/v1/approvals/${id}`, { token: TOKENS.approve, body: env });
    expect(ok.status).toBe(202);
    await gw.runner.idle();
    const done = await incident(gw, id);
    const timeline = done['timeline'] as { event: string; at: string }[];
    const verified = timeline.find((e) => e.event === 'verification_passed');
    expect(Date.parse(verified?.at ?? '')).toBeGreaterThan(t + 2000);
    const verification = done['verification'] as {
      vetoed_by: string[];
      stages: { name: string; status: string }[];
    };
    expect({ state: done['state'], vetoed_by: verification.vetoed_by }).toEqual({
      state: 'resolved',
      vetoed_by: [],
    });
    expect(verification.stages.find((s) => s.name === 'policy_compliance')?.status).toBe('pass');
  }, 20_000);
});
