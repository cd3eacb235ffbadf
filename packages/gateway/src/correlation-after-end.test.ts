/**
 * The correlation key of an open incident names it, so that another occurrence of the same problem
 * joins it instead of opening a second incident. An ended incident A is still written after a new
 * incident B of the same problem took the key (A's sealing writes, a late `source.resolved` note,
 * an unseal entry): such a write must leave B's key alone, else the next occurrence opens a third
 * incident beside the open B.
 */
import { afterEach, expect, it } from 'vitest';
import { fixture, json, makeGateway, request, type TestGateway, TOKENS } from './test-helpers/gateway.js';

const open: TestGateway[] = [];
afterEach(async () => {
  for (const gw of open.splice(0)) await gw.cleanup();
});

interface Answer {
  incidents: { incident_id: string; state: string; duplicate: boolean; joined: boolean }[];
}

async function scenario(writeEndedIncident: boolean) {
  const gw = await makeGateway();
  open.push(gw);
  const webhook = async (body: unknown) => {
    const res = await request(gw, 'POST', '/v1/webhooks/alertmanager', { token: TOKENS.submit, body });
    expect(res.status).toBe(202);
    return ((await json(res)) as unknown as Answer).incidents[0]!;
  };
  const firing = fixture('alertmanager/image-pull-backoff.json') as { alerts: Record<string, unknown>[] };
  // The workload named: one only read from the pod's name would not be rolled back automatically.
  (firing.alerts[0]!['labels'] as Record<string, string>)['deployment'] = 'ledger';
  // The pull's error quoted in an annotation: without it the pull failure is pull_unexplained and
  // waits for a person (docs/api.md, "Kubernetes"); A's fix must execute.
  (firing.alerts[0]!['annotations'] as Record<string, string>)['message'] =
    'rpc error: code = NotFound desc = failed to pull and unpack image: failed to resolve reference: not found';
  const at = (startsAt: string) => {
    const b = structuredClone(firing);
    b.alerts[0]!['startsAt'] = startsAt;
    return b;
  };

  // A: the first firing of the alert. Its fix is executed and verified: A has ended.
  const a = await webhook(at('2026-11-25T10:00:00Z'));
  await gw.runner.idle();
  expect((await gw.store.getIncidentSummary(a.incident_id))?.state).toBe('resolved');

  // B: the alert fires again (a new episode): a new incident, open (a recurrence: a person decides).
  const b = await webhook(at('2026-11-25T11:00:00Z'));
  expect(b).toMatchObject({ duplicate: false, joined: false });
  await gw.runner.idle();
  expect((await gw.store.getIncidentSummary(b.incident_id))?.state).toBe('awaiting_human');

  if (writeEndedIncident) {
    // Alertmanager reports A's episode resolved: a note on the ended A (A's record is written).
    const resolvedA = at('2026-11-25T10:00:00Z');
    resolvedA.alerts[0]!['status'] = 'resolved';
    resolvedA.alerts[0]!['endsAt'] = '2026-11-25T10:30:00Z';
    await webhook(resolvedA);
    await gw.runner.idle();
    const notes = (await gw.store.getIncidentSummary(a.incident_id))?.timeline.filter(
      (e) => e.event === 'source.resolved',
    );
    expect(notes).toHaveLength(1);
  }

  // Another occurrence while B is open: it joins B.
  const c = await webhook(at('2026-11-25T11:05:00Z'));
  expect(c).toMatchObject({ incident_id: b.incident_id, joined: true });
}

it('control: with no write of the ended incident, the next occurrence joins the open one', async () => {
  await scenario(false);
});

it('a write of an ended incident does not take the correlation key of the open incident that followed it', async () => {
  await scenario(true);
});
