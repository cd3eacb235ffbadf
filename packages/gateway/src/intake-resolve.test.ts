/**
 * A `resolved` alert whose incident is in the middle of a run (party calls, signing, execution)
 * is queued behind that run on the incident's lock, not waited for: Alertmanager gets its answer,
 * and the other, new firing alerts of the same notification are recorded at once. An approval that
 * arrives after the resolve still finds it applied first (it takes the same lock, later).
 */
import { cpSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, expect, it } from 'vitest';
import {
  fixture,
  heldSteps,
  makeGateway,
  request,
  type TestGateway,
  TOKENS,
} from './test-helpers/gateway.js';

const open: TestGateway[] = [];
afterEach(async () => {
  for (const gw of open.splice(0)) await gw.cleanup();
});

it('a resolved alert holds neither the answer nor its group’s new firing alerts behind a run in flight', async () => {
  // Every agent step waits until the test lets it go: the first incident's run holds its lock.
  const { options, release } = heldSteps();
  const gw = await makeGateway(options);
  open.push(gw);
  const firing = fixture('alertmanager/image-pull-backoff.json') as { alerts: Record<string, unknown>[] };
  const first = await request(gw, 'POST', '/v1/webhooks/alertmanager', {
    token: TOKENS.submit,
    body: firing,
  });
  expect(first.status).toBe(202);
  const [opened] = ((await first.json()) as { incidents: { incident_id: string }[] }).incidents;

  // The group's next notification: that alert resolved, and another alert of the group fires.
  const next = structuredClone(firing);
  next.alerts[0]!['status'] = 'resolved';
  next.alerts[0]!['endsAt'] = '2026-11-25T10:02:00Z';
  next.alerts.push({
    ...structuredClone(firing.alerts[0]!),
    fingerprint: '0123456789abcdef',
    startsAt: '2026-11-25T10:01:00Z',
  });
  // Answered while the run is still held (were the answer waiting for it, this would never end).
  const answer = await request(gw, 'POST', '/v1/webhooks/alertmanager', { token: TOKENS.submit, body: next });
  expect(answer.status).toBe(202);
  const incidents = ((await answer.json()) as { incidents: { incident_id: string; state: string }[] })
    .incidents;
  expect(incidents).toHaveLength(2);
  expect(incidents[0]).toMatchObject({ incident_id: opened!.incident_id, state: 'received' });
  expect((await gw.store.listIncidents({ limit: 10 })).incidents).toHaveLength(2);

  release();
  await gw.runner.idle();
  // The resolve was applied once the run let go of the incident: one note, however it ended.
  const record = await gw.store.getIncident(opened!.incident_id);
  const resolves = record!.timeline.filter(
    (e) => e.event === 'resolved_by_source' || e.event === 'source.resolved',
  );
  expect(resolves).toHaveLength(1);
});

/**
 * The queued resolve is written before the intake answers: a gateway that stops (crashes) while
 * the run still holds the incident applies it on its next start, before it resumes the run, so
 * the incident ends as resolved by its source instead of going on to change something.
 */
it('a resolve queued behind a run survives a crash and is applied on the next start', async () => {
  const { options, release } = heldSteps();
  const gw = await makeGateway(options);
  open.push(gw);
  const firing = fixture('alertmanager/image-pull-backoff.json') as { alerts: Record<string, unknown>[] };
  const first = await request(gw, 'POST', '/v1/webhooks/alertmanager', {
    token: TOKENS.submit,
    body: firing,
  });
  const [opened] = ((await first.json()) as { incidents: { incident_id: string }[] }).incidents;
  const id = opened!.incident_id;
  const resolved = structuredClone(firing);
  resolved.alerts[0]!['status'] = 'resolved';
  resolved.alerts[0]!['endsAt'] = '2026-11-25T10:02:00Z';
  const answer = await request(gw, 'POST', '/v1/webhooks/alertmanager', {
    token: TOKENS.submit,
    body: resolved,
  });
  expect(answer.status).toBe(202);
  expect((await gw.store.pendingResolves()).map((p) => p.id)).toEqual([id]);
  // The process dies here, its run still holding the incident: what it left on disk is a copy.
  const after = mkdtempSync(join(tmpdir(), 'aaps-gw-crashed-'));
  cpSync(gw.dir, after, { recursive: true });
  release();
  await gw.runner.idle();

  const next = await makeGateway({
    dir: after,
    material: gw.coordinator.exportMaterial(),
    gatewayKey: gw.gatewayKey,
    approverKey: gw.approverKey,
  });
  open.push(next);
  expect((await next.store.getIncident(id))?.state).toBe('received');
  await next.runner.resumeIncidents();
  await next.runner.idle();
  const record = (await next.store.getIncident(id))!;
  expect(record.timeline.map((e) => e.event)).toContain('resolved_by_source');
  expect(record.timeline.map((e) => e.event)).not.toContain('executed');
  expect(record.state).toBe('resolved');
  expect(await next.store.pendingResolves()).toEqual([]);
});
