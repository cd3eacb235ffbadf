/**
 * An incident handed to a person says why before any evidence is sealed: its `human_required`
 * timeline entry (what `GET /v1/incidents/:id` and the event stream show) carries the cause the
 * problem solver found and each escalation's detail, not only the escalation kinds. docs/api.md,
 * "Triage and fixes".
 */
import { describe, expect, it } from 'vitest';
import { fixture, gatewayPerTest, incident, json, request, TOKENS } from './test-helpers/gateway.js';

const gateway = gatewayPerTest();

describe('an escalated incident says what the person is to look at', () => {
  it('an image pull failure that does not say why: the entry names the cause found and what to read', async () => {
    const gw = await gateway();
    const res = await request(gw, 'POST', '/v1/webhooks/alertmanager', {
      token: TOKENS.submit,
      body: fixture('alertmanager/image-pull-backoff.json'),
    });
    expect(res.status).toBe(202);
    const id = ((await json(res))['incidents'] as { incident_id: string }[])[0]!.incident_id;
    await gw.runner.idle();
    const inc = await incident(gw, id);
    expect(inc['state']).toBe('awaiting_human');
    const entry = (inc['timeline'] as { event: string; detail: Record<string, unknown> }[]).find(
      (e) => e.event === 'human_required',
    );
    expect(entry?.detail['escalations']).toEqual(['pull_cause_unknown']);
    // The alert names a pod, not an image: the cause says whose image it is.
    expect(entry?.detail['root_cause']).toBe(
      'the image of deployment://payments/ledger could not be pulled; the signal does not say why',
    );
    expect(entry?.detail['details']).toEqual([
      { kind: 'pull_cause_unknown', detail: expect.stringContaining('kubectl describe pod') },
    ]);
  });
});
