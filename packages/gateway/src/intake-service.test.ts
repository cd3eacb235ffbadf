/**
 * Intake beyond creating incidents: an occurrence that joins an open incident is recorded on its
 * timeline, a resolve that names no incident is reported as ignored, and a failure that comes back
 * soon after its fix was executed goes to a person instead of being fixed again.
 */
import { ProtocolError } from '@aaps/mpc-core';
import { describe, expect, it } from 'vitest';
import {
  approvalEnvelope,
  delegating,
  fixture,
  gatewayPerTest,
  heldSteps,
  incident,
  json,
  LEDGER_HISTORY,
  request,
  type TestGateway,
  TOKENS,
} from './test-helpers/gateway.js';
import { JOINED_NOTE_LIMIT } from './workflow/runner.js';

// The history confirms the Deployment read from the ledger pod's name: its rollback is automatic.
const gateway = gatewayPerTest({ history: LEDGER_HISTORY });

/**
 * The pull back-off alert with a `deployment` label: a workload only read from its pod's name is
 * not rolled back without a person (the alert names no image the history could confirm it by).
 */
function namedLedgerAlert() {
  const body = fixture('alertmanager/image-pull-backoff.json') as { alerts: Record<string, unknown>[] };
  (body.alerts[0]!['labels'] as Record<string, string>)['deployment'] = 'ledger';
  // The pull's error quoted in an annotation: without it the pull failure is pull_unexplained and
  // waits for a person (docs/api.md, "Kubernetes"); these tests follow a fix that executed.
  (body.alerts[0]!['annotations'] as Record<string, string>)['message'] =
    'rpc error: code = NotFound desc = failed to pull and unpack image: failed to resolve reference: not found';
  return body;
}

interface Answer {
  incidents: {
    incident_id: string;
    state: string;
    duplicate: boolean;
    joined: boolean;
    recurrence_of?: string;
    ref: string;
  }[];
  ignored: { ref: string; reason: string }[];
}

async function webhook(gw: TestGateway, source: string, body: unknown): Promise<Answer> {
  const res = await request(gw, 'POST', `/v1/webhooks/${source}`, { token: TOKENS.submit, body });
  expect(res.status).toBe(202);
  return (await json(res)) as unknown as Answer;
}

type Entry = { state: string; event: string; actor: string; detail?: Record<string, unknown> };
/** The incident's timeline once the runner is idle (occurrence notes are written in the background). */
const timeline = async (gw: TestGateway, id: string) => {
  await gw.runner.idle();
  return (await incident(gw, id))['timeline'] as Entry[];
};
const notes = (entries: Entry[], event: string) => entries.filter((e) => e.event === event);

/** A copy of `path` (a core/v1 Event) with `count` set: the kubelet reporting the Event again. */
function again(path: string, count: number, over: Record<string, unknown> = {}) {
  const e = fixture(path) as Record<string, unknown>;
  return { ...e, count, lastTimestamp: '2026-11-25T09:20:00Z', ...over };
}

describe('an occurrence that joins an open incident', () => {
  it('Argo CD: a new failed operation is noted on the open incident and answered joined', async () => {
    const gw = await gateway();
    await gw.runner.close(); // keep the incident open
    const first = fixture('argocd/template-sync-failed-configmap.json');
    const [opened] = (await webhook(gw, 'argocd', first)).incidents;
    expect(opened).toMatchObject({ duplicate: false, joined: false });

    const next = structuredClone(first) as { operationState: Record<string, unknown> };
    next.operationState['startedAt'] = '2026-11-25T14:10:00Z';
    next.operationState['message'] = 'one or more synchronization tasks are not valid (retried 2 times).';
    const joined = await webhook(gw, 'argocd', next);
    expect(joined.incidents).toEqual([
      { incident_id: opened!.incident_id, state: 'received', duplicate: true, joined: true, ref: '$' },
    ]);
    const [note] = notes(await timeline(gw, opened!.incident_id), 'occurrence.joined');
    expect(note).toMatchObject({
      state: 'received',
      actor: 'source:argocd',
      detail: {
        source: 'argocd',
        ref: '$',
        occurrence: 1,
        occurrence_key: expect.stringContaining(':2026-11-25T14:10:00Z:'),
        incident_type: 'config_validation_failed',
        evidence_refs: ['argocd://argocd/shop-checkout/operation/2026-11-25T14:10:00Z'],
        message: 'one or more synchronization tasks are not valid (retried 2 times).',
        // The name of the token that delivered it (never the token).
        token_name: 'ci',
      },
    });

    // The same delivery again is a redelivery: a duplicate, not another occurrence.
    const redelivered = await webhook(gw, 'argocd', next);
    expect(redelivered.incidents[0]).toMatchObject({ duplicate: true, joined: false });
    expect(notes(await timeline(gw, opened!.incident_id), 'occurrence.joined')).toHaveLength(1);
    expect((await gw.store.listIncidents({ limit: 10 })).incidents).toHaveLength(1);
  });

  it('the answer does not wait for the run that holds the incident; the note follows', async () => {
    const { options, release } = heldSteps();
    const gw = await gateway(options);
    const first = fixture('argocd/template-sync-failed-configmap.json');
    const [opened] = (await webhook(gw, 'argocd', first)).incidents;
    const next = structuredClone(first) as { operationState: Record<string, unknown> };
    next.operationState['startedAt'] = '2026-11-25T14:10:00Z';
    // The run holds the incident's lock, stopped in its first step: the answer comes anyway.
    const joined = await webhook(gw, 'argocd', next);
    expect(joined.incidents[0]).toMatchObject({ incident_id: opened!.incident_id, joined: true });
    release();
    const notes_ = notes(await timeline(gw, opened!.incident_id), 'occurrence.joined');
    expect(notes_).toHaveLength(1);
  });

  it('Kubernetes and Alertmanager: a repeat of the Event, a new firing of the alert', async () => {
    const gw = await gateway();
    await gw.runner.close();
    const kube = 'kubernetes/core-v1-missing-configmap-key.json';
    const [k] = (await webhook(gw, 'kubernetes', fixture(kube))).incidents;
    const [k5] = (await webhook(gw, 'kubernetes', again(kube, 5))).incidents;
    expect(k5).toMatchObject({ incident_id: k!.incident_id, joined: true });
    expect(notes(await timeline(gw, k!.incident_id), 'occurrence.joined')[0]?.detail).toMatchObject({
      source: 'kubernetes',
      occurrence_key: 'kubernetes:5f0c2d1e-7a44-4b9e-9c61-2d8e3f7a1b90:5',
      message: "Error: couldn't find key DATABASE_URL in ConfigMap shop/checkout-config",
    });

    const am = fixture('alertmanager/image-pull-backoff.json') as { alerts: Record<string, unknown>[] };
    const [a] = (await webhook(gw, 'alertmanager', am)).incidents;
    am.alerts[0]!['startsAt'] = '2026-11-25T10:30:00Z';
    const [a2] = (await webhook(gw, 'alertmanager', am)).incidents;
    expect(a2).toMatchObject({ incident_id: a!.incident_id, joined: true, ref: 'alerts[0]' });
  });

  it('a noisy source adds at most JOINED_NOTE_LIMIT notes; later occurrences still join', async () => {
    const gw = await gateway();
    await gw.runner.close();
    const kube = 'kubernetes/core-v1-missing-configmap-key.json';
    const [k] = (await webhook(gw, 'kubernetes', fixture(kube))).incidents;
    for (let i = 0; i < JOINED_NOTE_LIMIT + 2; i++) {
      await gw.runner.noteOccurrence(k!.incident_id, { source: 'kubernetes' }, 'source:kubernetes');
    }
    const joined = notes(await timeline(gw, k!.incident_id), 'occurrence.joined');
    expect(joined).toHaveLength(JOINED_NOTE_LIMIT);
    expect(joined.at(-1)?.detail).toMatchObject({ occurrence: JOINED_NOTE_LIMIT });
    const [late] = (await webhook(gw, 'kubernetes', again(kube, 500))).incidents;
    expect(late).toMatchObject({ incident_id: k!.incident_id, joined: true });
  });

  it('a message the sealing policy would seal is left out of the note', async () => {
    const gw = await gateway({ config: { sealing: {} } });
    await gw.runner.close();
    const first = fixture('argocd/template-sync-failed-configmap.json');
    const [opened] = (await webhook(gw, 'argocd', first)).incidents;
    const next = structuredClone(first) as { operationState: Record<string, unknown> };
    next.operationState['startedAt'] = '2026-11-25T14:10:00Z';
    next.operationState['message'] =
      'rpc error: failed to fetch https://deploy:hunter2-s3cret@git.example.net/platform/shop-deploy.git';
    await webhook(gw, 'argocd', next);
    const [note] = notes(await timeline(gw, opened!.incident_id), 'occurrence.joined');
    expect(note?.detail).toMatchObject({ withheld: ['message'] });
    expect(JSON.stringify(note)).not.toContain('hunter2');
  });
});

describe('a resolve', () => {
  it('that names no incident is reported as ignored (no_incident)', async () => {
    const gw = await gateway();
    await gw.runner.close();
    const body = fixture('alertmanager/resolved-group.json') as { alerts: { status: string }[] };
    const answer = await webhook(gw, 'alertmanager', body);
    expect(answer.incidents).toEqual([]);
    expect(answer.ignored).toEqual(
      body.alerts.map((_, i) => ({ ref: `alerts[${i}]`, reason: 'no_incident' })),
    );
    expect((await gw.store.listIncidents({ limit: 10 })).incidents).toHaveLength(0);
  });

  it('after the incident changed something is noted on its timeline, once', async () => {
    const gw = await gateway();
    const body = namedLedgerAlert();
    const [fired] = (await webhook(gw, 'alertmanager', body)).incidents;
    await gw.runner.idle();
    const ended = await incident(gw, fired!.incident_id);
    expect(ended['execution']).toMatchObject({ status: 'succeeded' });
    const resolved = structuredClone(body);
    resolved.alerts[0]!['status'] = 'resolved';
    resolved.alerts[0]!['endsAt'] = '2026-11-25T10:02:00Z';
    for (let i = 0; i < 2; i++) {
      const answer = await webhook(gw, 'alertmanager', resolved);
      expect(answer.incidents[0]).toMatchObject({ incident_id: fired!.incident_id, state: 'resolved' });
    }
    const entries = await timeline(gw, fired!.incident_id);
    expect(notes(entries, 'source.resolved')).toEqual([
      {
        at: expect.any(String),
        state: 'resolved',
        event: 'source.resolved',
        actor: 'source:alertmanager',
        detail: { source_ended_at: '2026-11-25T10:02:00Z', token_name: 'ci' },
      },
    ]);
    expect(entries.map((e) => e.event)).not.toContain('resolved_by_source');
  });
});

describe('a failure that comes back after its fix was executed', () => {
  const PULL = 'kubernetes/core-v1-image-pull-failed.json';
  /** The same image pull failing on another pod of the same Deployment (another Event). */
  const otherPod = () =>
    again(PULL, 1, {
      metadata: {
        name: 'ledger-5d8c7b9f6-m8k2d.187b1f0a2c3d4e5f',
        namespace: 'payments',
        uid: '7c1d2e3f-4a5b-4c6d-8e7f-9a0b1c2d3e4f',
      },
      involvedObject: {
        kind: 'Pod',
        namespace: 'payments',
        name: 'ledger-5d8c7b9f6-m8k2d',
        fieldPath: 'spec.containers{ledger}',
      },
    });

  it('the same Event reported again goes to a person, saying after which fix', async () => {
    const gw = await gateway();
    const [a] = (await webhook(gw, 'kubernetes', again(PULL, 7))).incidents;
    await gw.runner.idle();
    const first = await incident(gw, a!.incident_id);
    expect(first).toMatchObject({
      state: 'resolved',
      proposal: { action: 'image_rollback' },
      execution: { status: 'succeeded' },
    });
    const rollouts = (await gw.store.deploymentHistory('deployment://payments/ledger')).length;

    // The kubelet re-reports the Event from the stale pod: same uid, count 8.
    const [b] = (await webhook(gw, 'kubernetes', again(PULL, 8))).incidents;
    expect(b).toMatchObject({ duplicate: false, joined: false, recurrence_of: a!.incident_id });
    await gw.runner.idle();
    const second = await incident(gw, b!.incident_id);
    expect(second).toMatchObject({ state: 'awaiting_human', proposal: { action: 'image_rollback' } });
    expect(second['execution']).toBeNull();
    const entries = second['timeline'] as Entry[];
    const recurrence = {
      incident_id: a!.incident_id,
      key: `kubernetes-event:0b6e7d3a-91c2-4f57-b8a0-4e2d9c6f1a83`,
    };
    expect(entries[0]?.detail?.['recurrence_of']).toMatchObject(recurrence);
    expect(entries.at(-1)).toMatchObject({
      event: 'human_required',
      actor: 'gateway',
      detail: {
        decision: 'auto',
        routed_to_human: 'recurrence',
        recurrence_of: recurrence,
        note: expect.stringContaining(`recurred after the fix of incident ${a!.incident_id}`),
      },
    });
    expect(await gw.store.deploymentHistory('deployment://payments/ledger')).toHaveLength(rollouts);

    // A person who decides to apply it again can: the parties sign it with the approval.
    const ok = await request(gw, 'POST', `/v1/approvals/${b!.incident_id}`, {
      token: TOKENS.approve,
      body: approvalEnvelope(second['proposal'] as Parameters<typeof approvalEnvelope>[0], gw.approverKey),
    });
    expect(ok.status).toBe(202);
    await gw.runner.idle();
    expect(await incident(gw, b!.incident_id)).toMatchObject({ state: 'resolved' });
  });

  it('the same failure on another pod of the same Deployment goes to a person too', async () => {
    const gw = await gateway();
    const [a] = (await webhook(gw, 'kubernetes', fixture(PULL))).incidents;
    await gw.runner.idle();
    const other = otherPod();
    const [b] = (await webhook(gw, 'kubernetes', other)).incidents;
    expect(b).toMatchObject({ duplicate: false, recurrence_of: a!.incident_id });
    await gw.runner.idle();
    const entries = (await incident(gw, b!.incident_id))['timeline'] as Entry[];
    expect(entries.at(-1)).toMatchObject({
      state: 'awaiting_human',
      detail: {
        recurrence_of: {
          incident_id: a!.incident_id,
          key: 'kubernetes:Deployment/payments/ledger:image_signature_failed',
        },
      },
    });
  });

  it('two pods of one Deployment failing together get one automatic fix; the other waits for a person', async () => {
    const gw = await gateway();
    const other = otherPod();
    // One delivery, both failures: neither incident has a fix executed when it arrives.
    const answer = await webhook(gw, 'kubernetes', {
      apiVersion: 'v1',
      kind: 'EventList',
      items: [fixture(PULL), other],
    });
    expect(answer.incidents).toHaveLength(2);
    expect(answer.incidents.every((i) => i.recurrence_of === undefined)).toBe(true);
    await gw.runner.idle();
    const ends = await Promise.all(answer.incidents.map((i) => incident(gw, i.incident_id)));
    const states = ends.map((e) => e['state']).sort();
    expect(states).toEqual(['awaiting_human', 'resolved']);
    const waiting = ends.find((e) => e['state'] === 'awaiting_human')!;
    const fixed = ends.find((e) => e['state'] === 'resolved')!;
    expect((waiting['timeline'] as Entry[]).at(-1)).toMatchObject({
      event: 'human_required',
      detail: { routed_to_human: 'recurrence', recurrence_of: { incident_id: fixed['incident_id'] } },
    });
    expect(ends.filter((e) => e['execution'] !== null)).toHaveLength(1);
  });

  it('a fix decided but never executed (the parties refused it) sends nothing to a person', async () => {
    let refuse = true;
    const gw = await gateway({
      wrap: (c) =>
        delegating(c, {
          signApproval: async (p, b) => {
            if (!refuse) return c.signApproval(p, b);
            throw new ProtocolError('QUORUM_UNREACHABLE', 'approval: fewer than 3 parties would sign', [], {
              // More than n - k refusals: a verdict, not an outage.
              details: {
                refusals: ['monitoring', 'strategy', 'audit'].map((party) => ({
                  party,
                  rule: 'test.refuse',
                  message: 'no',
                })),
              },
            });
          },
        }),
    });
    const [a] = (await webhook(gw, 'kubernetes', again(PULL, 7))).incidents;
    await gw.runner.idle();
    const first = await incident(gw, a!.incident_id);
    expect(first).toMatchObject({ execution: null });
    expect(['rejected', 'failed']).toContain(first['state']);
    refuse = false;
    const [b] = (await webhook(gw, 'kubernetes', again(PULL, 8))).incidents;
    expect(b).not.toHaveProperty('recurrence_of');
    await gw.runner.idle();
    expect(await incident(gw, b!.incident_id)).toMatchObject({
      state: 'resolved',
      execution: { status: 'succeeded' },
    });
  });

  it('outside the recurrence window, or with no fix executed, it is handled as usual', async () => {
    let offset = 0;
    const gw = await gateway({ now: () => new Date(Date.now() + offset) });
    const [a] = (await webhook(gw, 'kubernetes', again(PULL, 7))).incidents;
    await gw.runner.idle();
    expect(await incident(gw, a!.incident_id)).toMatchObject({ state: 'resolved' });
    // Two hours later, with the default one-hour window: a new incident, fixed automatically.
    offset = 2 * 3600_000;
    const answer = await webhook(gw, 'kubernetes', again(PULL, 8));
    expect(answer.incidents[0]).toMatchObject({ duplicate: false });
    expect(answer.incidents[0]).not.toHaveProperty('recurrence_of');
    await gw.runner.idle();
    expect(await incident(gw, answer.incidents[0]!.incident_id)).toMatchObject({ state: 'resolved' });

    // An incident that waits for a person executed nothing: its failure coming back is no recurrence.
    const c = await gateway();
    const rbac = fixture('kubernetes/event-list-mixed.json') as { items: unknown[] };
    const list = { ...rbac, items: [rbac.items[2]] };
    const [waiting] = (await webhook(c, 'kubernetes', list)).incidents;
    await c.runner.idle();
    expect(await incident(c, waiting!.incident_id)).toMatchObject({ state: 'awaiting_human' });
    const keys = (await c.store.getIncident(waiting!.incident_id))?.recurrence_keys ?? [];
    expect(keys.length).toBeGreaterThan(0);
    expect(await c.store.latestFix(keys)).toBeUndefined();
  });

  it('Alertmanager: the same alert firing again soon after its fix goes to a person', async () => {
    const gw = await gateway();
    const body = namedLedgerAlert();
    const [a] = (await webhook(gw, 'alertmanager', body)).incidents;
    await gw.runner.idle();
    expect(await incident(gw, a!.incident_id)).toMatchObject({ state: 'resolved' });
    body.alerts[0]!['startsAt'] = new Date().toISOString();
    const [b] = (await webhook(gw, 'alertmanager', body)).incidents;
    expect(b).toMatchObject({ duplicate: false, recurrence_of: a!.incident_id });
    await gw.runner.idle();
    expect(await incident(gw, b!.incident_id)).toMatchObject({ state: 'awaiting_human' });
  });
});
