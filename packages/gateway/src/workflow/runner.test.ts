/**
 * The workflow end to end through the in-process coordinator: the three incident types, the
 * human-approval path, the QA veto, dedup across sources, and restart after a crash. Every ended
 * incident's evidence must pass `@aaps/evidence`'s verifier.
 */
import { defaultPolicy, type HumanApproval, PARTY_ROLES, ROLE_AGENT_NAMES } from '@aaps/agents';
import { bundleLogLeaf, hashLeaf } from '@aaps/evidence';
import { AapsError, bytesToHex, ProtocolError } from '@aaps/mpc-core';
import { describe, expect, it, vi } from 'vitest';
import { follow } from '../cli/submit.js';
import type { Coordinator } from '../coordinator.js';
import type { LocalCoordinator } from '../coordinator-local.js';
import { createDryRunExecutor } from '../executor/dry-run.js';
import type { Executor } from '../executor/types.js';
import { type GatewayStore, StoreWriteError } from '../store.js';
import {
  approvalEnvelope,
  delegating,
  fixture,
  fixtureText,
  githubDelivery,
  incident,
  json,
  makeGateway,
  rejectionEnvelope,
  request,
  SIGNALS,
  signalEnvelope,
  type TestGateway,
  TOKENS,
  verifyServedBundle,
} from '../test-helpers/gateway.js';
import { isTerminal, isTimelineNote, replayTimeline, type TimelineEntry } from './machine.js';
import type { IncidentRecord } from './record.js';
import { CRASH_RETRIES, type WorkflowRunner } from './runner.js';
import { type Note, notes, qaDownWhile, retryHarness, submit } from './test-helpers/retrying-runner.js';

const { gateway, ownRunner, retrying } = retryHarness();

/** The local coordinator, with `role`'s agent step failing while `down()` says so. */
function roleDown(role: string, down: (role: string) => boolean, code = 'UNAVAILABLE') {
  return (c: LocalCoordinator): Coordinator =>
    delegating(c, {
      agentStep: async (r, input) => {
        if (r === role && down(r)) throw new AapsError(code as never, `${r} is unreachable (agent.step)`);
        return c.agentStep(r, input);
      },
    });
}

/** Resolves with `p`'s value, or `'still waiting'` if it takes longer than `ms`. */
function within<T>(p: Promise<T>, ms = 5_000): Promise<T | 'still waiting'> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<'still waiting'>((r) => {
    timer = setTimeout(() => r('still waiting'), ms);
  });
  return Promise.race([p, late]).finally(() => clearTimeout(timer));
}

async function webhook(gw: TestGateway, source: string, body: unknown) {
  const res = await request(gw, 'POST', `/v1/webhooks/${source}`, { token: TOKENS.submit, body });
  expect(res.status).toBe(202);
  return (await json(res))['incidents'] as { incident_id: string; state: string; duplicate: boolean }[];
}

async function sealed(gw: TestGateway, id: string) {
  const inc = await incident(gw, id);
  expect(inc['evidence_id']).toMatch(/^[0-9a-f]{64}$/);
  const bundle = await (
    await request(gw, 'GET', `/v1/evidence/${inc['evidence_id']}`, { token: TOKENS.read })
  ).json();
  const verified = await verifyServedBundle(gw, bundle);
  expect(verified.incidentId).toBe(id);
  // The stored timeline replays through the state machine to the state it reports; a wait noted
  // on it (`step.retrying`, `evidence.retrying`) keeps the state of the entry before it.
  const timeline = inc['timeline'] as TimelineEntry[];
  timeline.forEach((e, i) => {
    if (isTimelineNote(e.event)) expect(e.state).toBe(timeline[i - 1]?.state);
  });
  expect(replayTimeline(timeline)).toBe(inc['state']);
  return {
    inc,
    bundle: bundle as { transcript: { meta: { source_agent: string; message_type: string } }[] },
    verified,
  };
}

/** An RBAC incident driven to `awaiting_human`: its id and the proposal a human approves. */
async function awaitingHuman(gw: TestGateway) {
  const id = await submit(gw, SIGNALS.rbac());
  await gw.runner.idle();
  const proposal = (await incident(gw, id))['proposal'] as Parameters<typeof approvalEnvelope>[0];
  return { id, proposal };
}

const events = (inc: Record<string, unknown>) => (inc['timeline'] as { event: string }[]).map((e) => e.event);

describe('the three incident types, end to end', () => {
  it('ConfigMap missing key (Kubernetes Event): re-rendered from GitOps and reloaded', async () => {
    const gw = await gateway();
    const [out] = await webhook(gw, 'kubernetes', fixture('kubernetes/core-v1-missing-configmap-key.json'));
    await gw.runner.idle();
    const { inc, bundle } = await sealed(gw, out!.incident_id);
    expect(inc).toMatchObject({
      type: 'config_validation_failed',
      state: 'resolved',
      proposal: { action: 'configmap_reload' },
    });
    expect(events(inc)).toEqual([
      'received',
      'triaged',
      'proposed',
      'approval_requested',
      'approved',
      'execution_started',
      'executed',
      'verification_passed',
    ]);
    // Each agent's output is signed by that agent's own party.
    const sources = bundle.transcript.map((e) => `${e.meta.source_agent}:${e.meta.message_type}`);
    expect(sources).toEqual([
      'gateway:IncidentSignal',
      'monitoring:IncidentSignal',
      'problem-solver:RCAReport',
      'problem-solver:FixProposal',
      'strategy:ApprovalDecision',
      'gateway:ExecutionOrder',
      `${ROLE_AGENT_NAMES.maintenance}:ExecutionResult`,
      'quality-assurance:VerificationReport',
      'audit:EvidenceBundleRef',
    ]);
  });

  it('image signature failure: rolled back to the last digest known good', async () => {
    const gw = await gateway();
    const id = await submit(gw, SIGNALS.imageSignature());
    await gw.runner.idle();
    const { inc } = await sealed(gw, id);
    expect(inc).toMatchObject({
      type: 'image_signature_failed',
      state: 'resolved',
      proposal: { action: 'image_rollback', target: 'deployment://shop/web' },
      execution: { status: 'succeeded', executor: 'dry-run' },
    });
    // The gateway records the rollout in the workload's deployment history.
    const history = await gw.store.deploymentHistory('deployment://shop/web');
    expect(history.at(-1)?.image).toMatch(/@sha256:(ab)+$/);
  });

  it('a signal carrying deployment history, for a workload with stored history: its envelope stays as signed', async () => {
    const gw = await gateway();
    await gw.store.recordDeployment({
      workload: 'deployment://shop/web',
      container: 'web',
      image: `registry.example/shop/web@sha256:${'cd'.repeat(32)}`,
      revision: 3,
      deployed_at: '2026-11-01T00:00:00Z',
      outcome: 'healthy',
    });
    const id = await submit(gw, SIGNALS.imageSignature());
    await gw.runner.idle();
    // Sealed at the first try: the parties verified the intake envelope's signature as signed.
    const { inc, bundle } = await sealed(gw, id);
    expect(notes(inc, 'evidence.retrying')).toHaveLength(0);
    type Signal = { payload: { metadata: { deployment_history: unknown[] } } };
    const sent = SIGNALS.imageSignature() as unknown as Signal;
    expect((bundle.transcript[0] as unknown as Signal).payload.metadata.deployment_history).toEqual(
      sent.payload.metadata.deployment_history,
    );
  });

  it('resource quota exceeded (events.k8s.io Event): quota raised within bounds', async () => {
    const gw = await gateway();
    const [out] = await webhook(gw, 'kubernetes', fixture('kubernetes/events-v1-quota-exceeded.json'));
    await gw.runner.idle();
    const { inc } = await sealed(gw, out!.incident_id);
    expect(inc).toMatchObject({
      type: 'resource_quota_exceeded',
      state: 'resolved',
      proposal: { action: 'resource_quota_adjust' },
    });
    expect(inc['decision']).toMatchObject({ outcome: 'auto', approval: { signers: expect.any(Array) } });
  });

  it('Argo CD and Alertmanager payloads end with verified evidence too', async () => {
    const gw = await gateway();
    const ids = [
      ...(await webhook(gw, 'argocd', fixture('argocd/template-sync-failed-configmap.json'))),
      ...(await webhook(gw, 'alertmanager', fixture('alertmanager/image-pull-backoff.json'))),
    ].map((o) => o.incident_id);
    await gw.runner.idle();
    for (const id of ids) {
      const inc = await incident(gw, id);
      if (inc['state'] === 'awaiting_human') continue;
      await sealed(gw, id);
    }
  });
});

describe('human approval', () => {
  it('RBAC waits in awaiting_human until a roster approver signs; bad approvals change nothing', async () => {
    const gw = await gateway();
    const id = await submit(gw, SIGNALS.rbac());
    await gw.runner.idle();
    let inc = await incident(gw, id);
    expect(inc).toMatchObject({
      state: 'awaiting_human',
      proposal: { action: 'rbac_changes' },
      decision: { outcome: 'needs_human' },
    });
    const proposal = inc['proposal'] as Parameters<typeof approvalEnvelope>[0];
    const post = (body: unknown, token: string = TOKENS.approve) =>
      request(gw, 'POST', `/v1/approvals/${id}`, { token, body });

    const stranger = (await import('@aaps/mpc-core')).generateIdentityKey();
    expect((await post(approvalEnvelope(proposal, stranger))).status).toBe(401);
    expect((await post(approvalEnvelope(proposal, stranger, {}, 'mallory'))).status).toBe(401);
    expect((await post(approvalEnvelope(proposal, gw.approverKey), TOKENS.submit)).status).toBe(403);
    const wrongAction = await post(approvalEnvelope(proposal, gw.approverKey, { action: 'pod_restart' }));
    expect(wrongAction.status).toBe(400);
    expect((await json(wrongAction))['error']).toMatchObject({
      code: 'INVALID_ARGUMENT',
      fields: ['action'],
    });
    expect(
      (await post(approvalEnvelope(proposal, gw.approverKey, { incident_id: 'inc-other' }))).status,
    ).toBe(400);
    const expired = approvalEnvelope(proposal, gw.approverKey, {
      approved_at: '2026-01-01T00:00:00Z',
      expires_at: '2026-01-01T01:00:00Z',
    });
    expect((await post(expired)).status).toBe(400);
    inc = await incident(gw, id);
    expect(inc['state']).toBe('awaiting_human');

    const ok = await post(approvalEnvelope(proposal, gw.approverKey));
    expect(ok.status).toBe(202);
    await gw.runner.idle();
    expect((await post(approvalEnvelope(proposal, gw.approverKey))).status).toBe(409);
    const { inc: done, bundle } = await sealed(gw, id);
    expect(done).toMatchObject({
      state: 'resolved',
      decision: { human_approvals: [{ approver_id: 'alice' }] },
    });
    expect(events(done)).toContain('human_required');
    expect(bundle.transcript.map((e) => e.meta.source_agent)).toContain('alice');
  });
});

/** An RBAC denial as Alertmanager sends it: waits in awaiting_human; `resolved` ends it. */
function rbacAlert(status: 'firing' | 'resolved', fingerprint: string) {
  return {
    version: '4',
    groupKey: 'g',
    status,
    receiver: 'aaps-gateway',
    groupLabels: {},
    commonLabels: {},
    commonAnnotations: {},
    externalURL: 'http://alertmanager.example',
    alerts: [
      {
        status,
        labels: { alertname: 'RBAC', namespace: 'shop', reason: 'FailedCreate', serviceaccount: fingerprint },
        annotations: {
          message:
            'Error creating: deployments.apps is forbidden: User "system:serviceaccount:shop:deployer" cannot create resource "deployments" in API group "apps" in the namespace "shop"',
        },
        startsAt: '2026-11-25T14:00:00Z',
        ...(status === 'resolved' ? { endsAt: '2026-11-25T15:00:00Z' } : {}),
        fingerprint,
      },
    ],
  };
}

describe('concurrent approvals and resolves', () => {
  it('two concurrent approvals of one incident: one is recorded (202), the other is 409', async () => {
    const gw = await gateway();
    const { id, proposal } = await awaitingHuman(gw);
    const post = () =>
      request(gw, 'POST', `/v1/approvals/${id}`, {
        token: TOKENS.approve,
        body: approvalEnvelope(proposal, gw.approverKey),
      });
    const answers = await Promise.all([post(), post()]);
    expect(answers.map((r) => r.status).sort()).toEqual([202, 409]);
    const refused = answers.find((r) => r.status === 409)!;
    expect((await json(refused))['error']).toMatchObject({ code: 'CONFLICT' });
    await gw.runner.idle();
    const record = await gw.store.getIncident(id);
    expect(record?.human_approvals).toHaveLength(1);
    expect(record?.transcript.filter((e) => e.meta.source_agent === 'alice')).toHaveLength(1);
    expect(events(await incident(gw, id)).filter((e) => e === 'approval_requested')).toHaveLength(1);
  });

  it('an approval racing a resolved alert: no write is lost and nothing executes once resolved', async () => {
    const gw = await gateway();
    for (let i = 0; i < 6; i++) {
      const fingerprint = `ace0${i}`; // hex, as Alertmanager's are
      const [fired] = await webhook(gw, 'alertmanager', rbacAlert('firing', fingerprint));
      const id = fired!.incident_id;
      await gw.runner.idle();
      const inc = await incident(gw, id);
      expect(inc['state']).toBe('awaiting_human');
      // Each state change as it is written, copied then (a record object lives on and changes).
      const written: unknown[] = [];
      const put = gw.store.putIncident.bind(gw.store);
      const spy = vi.spyOn(gw.store, 'putIncident').mockImplementation((r, extra) => {
        if (r.id === id) written.push(structuredClone(r.timeline.at(-1)));
        return put(r, extra);
      });
      const approve = () =>
        request(gw, 'POST', `/v1/approvals/${id}`, {
          token: TOKENS.approve,
          body: approvalEnvelope(inc['proposal'] as Parameters<typeof approvalEnvelope>[0], gw.approverKey),
        });
      const resolve = () =>
        request(gw, 'POST', '/v1/webhooks/alertmanager', {
          token: TOKENS.submit,
          body: rbacAlert('resolved', fingerprint),
        });
      const [approved, resolved] =
        i % 2 === 0
          ? await Promise.all([approve(), resolve()])
          : (await Promise.all([resolve(), approve()])).reverse();
      expect(resolved!.status).toBe(202);
      await gw.runner.idle();
      spy.mockRestore();
      const timeline = (await gw.store.getIncident(id))!.timeline;
      // Every state change anyone wrote is in the stored record: none was overwritten.
      for (const entry of written) expect(timeline).toContainEqual(entry);
      const seen = timeline.map((e) => e.event);
      if (seen.includes('resolved_by_source')) expect(seen).not.toContain('execution_started');
      else expect(seen).toContain('execution_started');
      if (approved!.status === 409) expect(seen).not.toContain('approval_requested');
      else expect(approved!.status).toBe(202);
    }
  });
});

describe('writers outside the workflow', () => {
  it('a record written under withIncident while a run is in flight is not overwritten by the run', async () => {
    const gw = await gateway();
    const put = gw.store.putIncident.bind(gw.store);
    let midRun!: () => void;
    const running = new Promise<void>((resolve) => {
      midRun = resolve;
    });
    // The run's first state change after intake: from here on it carries its own copy.
    const spy = vi.spyOn(gw.store, 'putIncident').mockImplementation((r, extra) => {
      if (r.timeline.length >= 2) midRun();
      return put(r, extra);
    });
    const id = await submit(gw, SIGNALS.quota());
    await running;
    const unseal = {
      request_id: 'ur-mid-run',
      requester: 'alice',
      request_evidence_id: 'a'.repeat(64),
      release_evidence_id: 'b'.repeat(64),
    };
    await gw.runner.withIncident(id, async () => {
      const latest = (await gw.store.getIncident(id))!;
      await put({ ...latest, unseals: [...(latest.unseals ?? []), unseal] });
    });
    await gw.runner.idle();
    spy.mockRestore();
    const after = (await gw.store.getIncident(id))!;
    expect(after.unseals).toEqual([unseal]);
    expect(isTerminal(after.state)).toBe(true);
  });
});

describe('approval validity window', () => {
  it('an approval every party would refuse is 400 naming the field; the incident keeps waiting', async () => {
    const gw = await gateway();
    const { id, proposal } = await awaitingHuman(gw);
    const now = Date.now();
    const refused: [Partial<Omit<HumanApproval, 'signature'>>, string[]][] = [
      // valid for 48 hours: over the parties' max_validity_seconds (86400)
      [{ expires_at: new Date(now + 172_800_000).toISOString() }, ['expires_at']],
      // RFC 3339 in form, but no such date: refused by the body's schema, naming its path
      [{ expires_at: '2026-13-45T23:59:59Z' }, ['payload.expires_at']],
      [{ approved_at: '2026-01-32T10:00:00Z' }, ['payload.approved_at']],
      // an old approval with a far expiry: inside "not yet expired", outside the window
      [{ approved_at: '2000-01-01T00:00:00Z', expires_at: '9999-12-31T23:59:59Z' }, ['expires_at']],
      [{ expires_at: new Date(now - 2000).toISOString() }, ['expires_at']],
      [{ approved_at: new Date(now + 3_600_000).toISOString() }, ['approved_at']],
    ];
    for (const [over, fields] of refused) {
      const res = await request(gw, 'POST', `/v1/approvals/${id}`, {
        token: TOKENS.approve,
        body: approvalEnvelope(proposal, gw.approverKey, over),
      });
      expect(res.status, JSON.stringify(over)).toBe(400);
      expect((await json(res))['error'], JSON.stringify(over)).toMatchObject({
        code: 'INVALID_ARGUMENT',
        fields,
      });
      await gw.runner.idle();
      expect((await incident(gw, id))['state']).toBe('awaiting_human');
    }
    const ok = await request(gw, 'POST', `/v1/approvals/${id}`, {
      token: TOKENS.approve,
      body: approvalEnvelope(proposal, gw.approverKey, {
        approved_at: new Date(now - 1000).toISOString(),
        expires_at: new Date(now - 1000 + 86_400_000).toISOString(),
      }),
    });
    expect(ok.status).toBe(202);
    await gw.runner.idle();
    expect((await incident(gw, id))['state']).toBe('resolved');
  });
});

describe('a longer approval window the departments allow', () => {
  it('--approval-max-validity-seconds lets an approval their policies accept through; the default refuses it', async () => {
    const twoDays = 172_800;
    const policies = Object.fromEntries(
      PARTY_ROLES.map((role) => {
        const p = defaultPolicy(role);
        p.human_approval.max_validity_seconds = twoDays;
        return [role, p];
      }),
    );
    const now = Date.now();
    const fortyHours = (proposal: Parameters<typeof approvalEnvelope>[0], key: TestGateway['approverKey']) =>
      approvalEnvelope(proposal, key, {
        approved_at: new Date(now - 1000).toISOString(),
        expires_at: new Date(now - 1000 + 40 * 3_600_000).toISOString(),
      });
    // The gateway's default (86400 s) refuses what these parties would sign.
    const strict = await gateway({ policies });
    const a = await awaitingHuman(strict);
    const refused = await request(strict, 'POST', `/v1/approvals/${a.id}`, {
      token: TOKENS.approve,
      body: fortyHours(a.proposal, strict.approverKey),
    });
    expect(refused.status).toBe(400);
    // Configured to the departments' window, it takes it, and the parties sign.
    const matched = await gateway({ policies, config: { approvalMaxValiditySeconds: twoDays } });
    const b = await awaitingHuman(matched);
    const ok = await request(matched, 'POST', `/v1/approvals/${b.id}`, {
      token: TOKENS.approve,
      body: fortyHours(b.proposal, matched.approverKey),
    });
    expect(ok.status).toBe(202);
    await matched.runner.idle();
    expect((await incident(matched, b.id))['state']).toBe('resolved');
  });
});

describe('refusals', () => {
  it('an unknown signal goes to a person and is never fixed automatically', async () => {
    const gw = await gateway();
    const id = await submit(
      gw,
      signalEnvelope({
        affected_resources: ['pod://shop/web-1'],
        metadata: {
          reason: 'Unhealthy',
          messages: ['Readiness probe failed: HTTP probe failed with statuscode: 503'],
        },
      }),
    );
    await gw.runner.idle();
    const inc = await incident(gw, id);
    expect(inc).toMatchObject({ type: 'unknown', state: 'awaiting_human', proposal: null, execution: null });
    const res = await request(gw, 'POST', `/v1/approvals/${id}`, {
      token: TOKENS.approve,
      body: approvalEnvelope(
        { incident_id: id, action: 'pod_restart', proposal_digest: 'ab'.repeat(32) } as never,
        gw.approverKey,
      ),
    });
    expect(res.status).toBe(409);
    const error = (await json(res))['error'] as { code: string; message: string };
    expect(error.code).toBe('CONFLICT');
    expect(error.message).toBe(
      `incident ${id} has no proposal to approve: no agent proposed a fix, so a person can only reject it (a HumanRejection) or fix it by hand`,
    );
    expect(await incident(gw, id)).toMatchObject({ state: 'awaiting_human' });
  });

  it('fewer than k willing parties: rejected, each refusal recorded, evidence sealed', async () => {
    const deny = (role: Parameters<typeof defaultPolicy>[0]) => {
      const p = defaultPolicy(role);
      return { ...p, bounds: { ...p.bounds, namespaces: { allow: ['*'], deny: ['shop'] } } };
    };
    const gw = await gateway({
      policies: {
        monitoring: deny('monitoring'),
        'problem-solver': deny('problem-solver'),
        audit: deny('audit'),
      },
    });
    const id = await submit(gw, SIGNALS.quota());
    await gw.runner.idle();
    const { inc } = await sealed(gw, id);
    expect(inc).toMatchObject({
      state: 'rejected',
      decision: { outcome: 'auto', approval: { signers: [] } },
    });
    const refusals = (inc['decision'] as { approval: { refusals: { party: string; rule: string }[] } })
      .approval.refusals;
    expect(refusals.map((r) => [r.party, r.rule])).toEqual([
      ['monitoring', 'target.namespace'],
      ['problem-solver', 'target.namespace'],
      ['audit', 'target.namespace'],
    ]);
    expect(inc['execution']).toBeNull();
  });
});

describe('quality assurance veto', () => {
  it('a blocking finding after execution vetoes the change, which is rolled back', async () => {
    const gw = await gateway();
    const id = await submit(
      gw,
      SIGNALS.quota({
        verification_artifacts: {
          security_scan: { tool: 'trivy', findings: [{ id: 'CVE-2026-0001', severity: 'critical' }] },
        },
      }),
    );
    await gw.runner.idle();
    const { inc } = await sealed(gw, id);
    expect(inc).toMatchObject({
      state: 'rolled_back',
      verification: { verdict: 'veto', vetoed_by: ['security_scan'] },
      execution: { status: 'rolled_back', rollback: { done: true } },
    });
    expect(events(inc).slice(-2)).toEqual(['executed', 'rolled_back']);
  });
});

/** `store` with some of its methods replaced (the others bound to it). */
function storeWith(
  store: GatewayStore,
  replaced: Partial<Pick<GatewayStore, 'putIncident' | 'getIncident'>>,
): GatewayStore {
  return new Proxy(store, {
    get(target, prop) {
      const own = (replaced as Record<PropertyKey, unknown>)[prop];
      if (own !== undefined) return own;
      const value = Reflect.get(target, prop, target);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
}

/** A write LevelDB refused, as the store reports it (a full disk). */
const fullDisk = () =>
  new StoreWriteError(
    Object.assign(new Error('IO error: No space left on device'), { code: 'LEVEL_IO_ERROR' }),
  );

describe('a store that fails a write', () => {
  it('leaves the incident as last saved and tries it again later, as a restart would', async () => {
    const { gw } = await retrying({});
    let failures = 1;
    const store = storeWith(gw.store, {
      // As the store reports a write LevelDB refused (a full disk).
      putIncident: async (...args) => {
        if (failures-- > 0) throw fullDisk();
        return gw.store.putIncident(...args);
      },
    });
    const runner = ownRunner(gw, { retryDelayMs: 1, sealRetryMaxDelayMs: 4 }, undefined, store);
    const id = await submit(gw, SIGNALS.quota());
    runner.start(id);
    await runner.idle();
    const { inc } = await sealed(gw, id);
    expect(inc['state']).toBe('resolved');
    expect(inc['reason']).toBeNull();
    const storeFailed = gw.logger.lines
      .map((l) => JSON.parse(l) as { event: string; incident_id?: string })
      .filter((l) => l.event === 'workflow.store_failed' && l.incident_id === id);
    expect(storeFailed).toHaveLength(1);
  });

  it('a drive that keeps failing otherwise (a record that cannot be read) is tried a few times, then left for the next start', async () => {
    const { gw } = await retrying({});
    const store = storeWith(gw.store, {
      getIncident: async () => Promise.reject(new Error('corrupt record')),
    });
    const runner = ownRunner(gw, { retryDelayMs: 1, sealRetryMaxDelayMs: 2 }, undefined, store);
    const id = await submit(gw, SIGNALS.quota());
    runner.start(id);
    await runner.idle();
    const events = gw.logger.lines
      .map((l) => JSON.parse(l) as { event: string; incident_id?: string; attempts?: number })
      .filter((l) => l.incident_id === id && l.event.startsWith('workflow.'));
    expect(events.filter((l) => l.event === 'workflow.crashed')).toHaveLength(CRASH_RETRIES);
    expect(events.at(-1)).toMatchObject({ event: 'workflow.gave_up', attempts: CRASH_RETRIES });
    // Left as it was saved: the next start (resumeIncidents) takes it up again.
    expect((await gw.store.getIncident(id))?.state).toBe('received');
  });

  it('/healthz answers 503 once a write failed, and ok again after one succeeds', async () => {
    const gw = await gateway();
    expect((await request(gw, 'GET', '/healthz')).status).toBe(200);
    const record = (await gw.store.getIncident(await submit(gw, SIGNALS.quota())))!;
    await gw.runner.close();
    await gw.store.close();
    await expect(gw.store.putIncident(record)).rejects.toThrow();
    const res = await request(gw, 'GET', '/healthz');
    expect(res.status).toBe(503);
    expect(((await json(res)) as { error: { code: string } }).error.code).toBe('UNAVAILABLE');
  });
});

describe('quality assurance veto at approval', () => {
  it('a refusal by quality assurance rejects the change, though three other parties would sign', async () => {
    const qa = defaultPolicy('quality-assurance');
    const gw = await gateway({
      policies: {
        'quality-assurance': {
          ...qa,
          allowed_auto_actions: qa.allowed_auto_actions.filter((a) => a !== 'resource_quota_adjust'),
        },
      },
    });
    const id = await submit(gw, SIGNALS.quota());
    await gw.runner.idle();
    const { inc } = await sealed(gw, id);
    expect(inc['state']).toBe('rejected');
    const rejected = (inc['timeline'] as TimelineEntry[]).find((e) => e.event === 'rejected')!;
    expect(rejected.actor).toBe('parties');
    expect((rejected.detail as { refusals: string[] }).refusals).toEqual([
      expect.stringMatching(/^quality-assurance:/),
    ]);
  });
});

describe('dedup', () => {
  it('redelivered payloads from each source create nothing new', async () => {
    const gw = await gateway();
    const am = fixture('alertmanager/firing-group.json');
    const first = await webhook(gw, 'alertmanager', am);
    const again = await webhook(gw, 'alertmanager', am);
    expect(again.map((o) => o.incident_id)).toEqual(first.map((o) => o.incident_id));
    expect(again.every((o) => o.duplicate)).toBe(true);

    const kube = fixture('kubernetes/core-v1-missing-configmap-key.json');
    const [k1] = await webhook(gw, 'kubernetes', kube);
    const [k2] = await webhook(gw, 'kubernetes', kube);
    expect(k2).toMatchObject({ incident_id: k1!.incident_id, duplicate: true });

    const raw = fixtureText('github/workflow-run-failure.json');
    const deliver = () => githubDelivery(gw, raw, 'workflow_run', '72d3162e-cc78-11e3-81ab-4c9367dc0958');
    const g1 = (await json(await deliver()))['incidents'] as { incident_id: string }[];
    const g2res = await deliver();
    expect(g2res.status).toBe(202);
    const g2 = (await json(g2res))['incidents'] as { incident_id: string; duplicate: boolean }[];
    expect(g2).toEqual([expect.objectContaining({ incident_id: g1[0]!.incident_id, duplicate: true })]);

    const env = SIGNALS.quota();
    const e1 = await submit(gw, env);
    const dup = await request(gw, 'POST', '/v1/incidents', { token: TOKENS.submit, body: env });
    expect(dup.status).toBe(200);
    expect((await json(dup))['incident_id']).toBe(e1);

    await gw.runner.idle();
    const all = (await gw.store.listIncidents({ limit: 100 })).incidents;
    expect(all).toHaveLength(first.length + 3);
  });

  it('a signed GitHub body re-sent under a fresh delivery id is a duplicate, also after its incident ended', async () => {
    const gw = await gateway();
    // A check run whose output names a quota denial. A run names no namespace, so the quota fix
    // waits for a person, who rejects it here: the incident ends.
    const body = fixture('github/check-run-failure.json') as { check_run: Record<string, unknown> };
    body.check_run['output'] = {
      title: 'deploy failed',
      summary:
        'Error creating: pods "web-7d9f8b6c5-4lqpz" is forbidden: exceeded quota: compute, requested: limits.cpu=2, used: limits.cpu=3, limited: limits.cpu=4',
      text: null,
    };
    const raw = JSON.stringify(body);
    const send = async (delivery: string) => {
      const res = await githubDelivery(gw, raw, 'check_run', delivery);
      expect(res.status).toBe(202);
      return ((await json(res))['incidents'] as { incident_id: string; duplicate: boolean }[])[0];
    };
    const first = await send('original-delivery');
    expect(first).toMatchObject({ duplicate: false });
    const whileOpen = await send('replayed-delivery-1');
    expect(whileOpen).toMatchObject({ incident_id: first!.incident_id, duplicate: true });
    await gw.runner.idle();
    expect(await incident(gw, first!.incident_id)).toMatchObject({ state: 'awaiting_human' });
    const rejected = await request(gw, 'POST', `/v1/approvals/${first!.incident_id}`, {
      token: TOKENS.approve,
      body: rejectionEnvelope(first!.incident_id, gw.approverKey, 'fixed in the manifest by hand'),
    });
    expect(rejected.status).toBe(202);
    await gw.runner.idle();
    const ended = await incident(gw, first!.incident_id);
    expect(ended['evidence_id']).toMatch(/^[0-9a-f]{64}$/);
    const afterEnd = await send('replayed-delivery-2');
    expect(afterEnd).toMatchObject({ incident_id: first!.incident_id, duplicate: true });
    expect((await gw.store.listIncidents({ limit: 100 })).incidents).toHaveLength(1);
  });

  it('envelopes are the same incident only under the same idempotency key', async () => {
    const gw = await gateway();
    await gw.runner.close(); // keep every incident open, where correlation would join them
    const post = async (body: unknown) => {
      const res = await request(gw, 'POST', '/v1/incidents', { token: TOKENS.submit, body });
      return { status: res.status, ...(await json(res)) } as { status: number; incident_id: string };
    };
    // The same resources in two clusters, and two envelopes that name no resources at all.
    const eu = SIGNALS.quota();
    const us = SIGNALS.quota();
    us.context.cluster = 'prod-us-2';
    const bare = [SIGNALS.quota(), SIGNALS.quota()];
    for (const b of bare) b.payload['affected_resources'] = [];
    const answers = await Promise.all([eu, us, ...bare].map(post));
    expect(answers.map((a) => a.status)).toEqual([202, 202, 202, 202]);
    expect(new Set(answers.map((a) => a.incident_id)).size).toBe(4);
    const again = await post(eu);
    expect(again).toMatchObject({ status: 200, incident_id: answers[0]!.incident_id });
  });

  it("an envelope's idempotency key cannot take another source's dedup key", async () => {
    const gw = await gateway();
    await gw.runner.close();
    const delivery = '72d3162e-cc78-11e3-81ab-4c9367dc0958';
    const squat = signalEnvelope(
      { affected_resources: ['deployment://shop/web'], metadata: { reason: 'CrashLoopBackOff' } },
      { idempotency_key: `github:${delivery}` },
    );
    const res = await request(gw, 'POST', '/v1/incidents', { token: TOKENS.submit, body: squat });
    expect(res.status).toBe(202);
    const squatted = String((await json(res))['incident_id']);
    const raw = fixtureText('github/workflow-run-failure.json');
    const gh = await githubDelivery(gw, raw, 'workflow_run', delivery);
    const [opened] = (await json(gh))['incidents'] as { incident_id: string; duplicate: boolean }[];
    expect(opened).toMatchObject({ duplicate: false });
    expect(opened!.incident_id).not.toBe(squatted);
  });

  it('a new occurrence of an open incident joins it; after it ends, a new one opens', async () => {
    const gw = await gateway();
    await gw.runner.close(); // keep the first incident open
    const first = fixture('kubernetes/core-v1-missing-configmap-key.json');
    const second = structuredClone(first) as { metadata: Record<string, unknown> };
    second.metadata['uid'] = '0d2b9c1e-1111-4b9e-9c61-2d8e3f7a1b91';
    second.metadata['name'] = 'checkout-6b7f9c8d4-x2lqz.187b2f6a0c9d4fff';
    const [a] = await webhook(gw, 'kubernetes', first);
    const [b] = await webhook(gw, 'kubernetes', second);
    expect(b).toMatchObject({ incident_id: a!.incident_id, duplicate: true });
    const [again] = await webhook(gw, 'kubernetes', second);
    expect(again).toMatchObject({ incident_id: a!.incident_id, duplicate: true });

    const c = await gateway();
    const [x] = await webhook(c, 'kubernetes', first);
    await c.runner.idle();
    expect(await incident(c, x!.incident_id)).toMatchObject({ state: 'resolved' });
    const [y] = await webhook(c, 'kubernetes', second);
    expect(y).toMatchObject({ duplicate: false });
    expect(y!.incident_id).not.toBe(x!.incident_id);
  });

  it('a resolved alert ends the incident its firing alert opened', async () => {
    const gw = await gateway();
    await gw.runner.close(); // keep the incident where intake left it
    const [fired] = await webhook(gw, 'alertmanager', fixture('alertmanager/firing-group.json'));
    const resolved = await webhook(gw, 'alertmanager', fixture('alertmanager/resolved-group.json'));
    const match = resolved.find((o) => o.incident_id === fired!.incident_id);
    expect(match).toMatchObject({ state: 'resolved' });
    // The next process seals it, though no agent ever triaged it.
    const material = gw.coordinator.exportMaterial();
    await gw.close();
    const b = await gateway({
      dir: gw.dir,
      material,
      gatewayKey: gw.gatewayKey,
      approverKey: gw.approverKey,
    });
    await b.runner.resumeIncidents();
    await b.runner.idle();
    const { inc } = await sealed(b, fired!.incident_id);
    expect(events(inc)).toEqual(['received', 'resolved_by_source']);
  });
});

describe('unreachable parties', () => {
  it('once a step answers again, the incidents waiting to retry it go at once, not at the end of their wait', async () => {
    let down = true;
    const { gw, runner } = await retrying(
      // A first wait of 20 s: longer than this test may take. (Three incidents of one failure:
      // no recurrence window, so each gets its own fix.)
      { retryDelayMs: 20_000, retryMaxDelayMs: 60_000, retryBudgetMs: 600_000, recurrenceWindowMs: 0 },
      roleDown('strategy', () => down),
    );
    const waiting = [await submit(gw, SIGNALS.quota()), await submit(gw, SIGNALS.quota())];
    for (const id of waiting) runner.start(id);
    const retryingNow = async () =>
      (
        await Promise.all(waiting.map(async (id) => notes(await incident(gw, id), 'step.retrying').length))
      ).every((n) => n === 1);
    for (let i = 0; i < 200 && !(await retryingNow()); i++) await new Promise((r) => setTimeout(r, 20));
    expect(await retryingNow()).toBe(true);
    // Strategy is back: the next incident's strategy step succeeds, and wakes the two waiting.
    down = false;
    const next = await submit(gw, SIGNALS.quota());
    runner.start(next);
    await runner.idle();
    expect(new Set([...waiting, next]).size).toBe(3);
    for (const id of [...waiting, next]) expect((await incident(gw, id))['state']).toBe('resolved');
  }, 15_000);

  it('a party down for a while: its step is tried again, waiting longer each time, until it answers', async () => {
    let failures = 6; // more tries than the old fixed two retries allowed
    const { gw, runner } = await retrying(
      { retryDelayMs: 1, retryMaxDelayMs: 8, retryBudgetMs: 60_000 },
      roleDown('strategy', () => failures-- > 0),
    );
    const id = await submit(gw, SIGNALS.quota());
    runner.start(id);
    await runner.idle();
    const { inc } = await sealed(gw, id);
    expect(inc['state']).toBe('resolved');
    expect(inc['reason']).toBeNull();
    // The waits (1, 2, 4, 8, 8, 8 ms) are on the timeline, so on the event stream, at tries 1, 2
    // and 4: a long outage adds a few entries, not one per try.
    const waits = notes(inc, 'step.retrying');
    expect(waits.map((n) => n.detail)).toEqual(
      [
        [1, 1],
        [2, 2],
        [4, 8],
      ].map(([attempt, next]) => ({
        code: 'UNAVAILABLE',
        message: 'strategy is unreachable (agent.step)',
        attempt,
        next_in_ms: next,
      })),
    );
    // The log says the same at warn (tries 1, 2 and 4); every try is there at debug.
    const logged = gw.logger.lines
      .map((l) => JSON.parse(l) as { event: string; level: string; attempt?: number; incident_id?: string })
      .filter((l) => l.event === 'workflow.step_retrying' && l.incident_id === id);
    expect(logged.filter((l) => l.level === 'warn').map((l) => l.attempt)).toEqual([1, 2, 4]);
    expect(logged.map((l) => l.attempt)).toEqual([1, 2, 3, 4, 5, 6]);
    expect(waits.every((n) => n.state === 'proposed' && n.actor === 'gateway')).toBe(true);
    expect(events(inc).filter((e) => !isTimelineNote(e))).toEqual([
      'received',
      'triaged',
      'proposed',
      'approval_requested',
      'approved',
      'execution_started',
      'executed',
      'verification_passed',
    ]);
  });

  it('past the retry budget the incident fails with the reason; other errors fail it at once', async () => {
    let code = 'TIMEOUT';
    const { gw, runner } = await retrying(
      { retryDelayMs: 1, retryMaxDelayMs: 4, retryBudgetMs: 40 },
      roleDown('monitoring', () => true, 'TIMEOUT'),
    );
    const id = await submit(gw, SIGNALS.quota());
    runner.start(id);
    await runner.idle();
    const { inc } = await sealed(gw, id);
    expect(inc).toMatchObject({
      state: 'failed',
      reason: { code, message: 'monitoring is unreachable (agent.step)' },
    });
    expect(notes(inc, 'step.retrying').length).toBeGreaterThan(0);
    expect(notes(inc, 'step.retrying').every((n) => n.state === 'received')).toBe(true);
    expect((inc['timeline'] as Note[]).at(-1)).toMatchObject({ event: 'failed', detail: { code } });

    code = 'INVALID_ARGUMENT';
    const { gw: gw2, runner: runner2 } = await retrying(
      { retryDelayMs: 1, retryBudgetMs: 60_000 },
      roleDown('monitoring', () => true, code),
    );
    const id2 = await submit(gw2, SIGNALS.quota());
    runner2.start(id2);
    await runner2.idle();
    const { inc: inc2 } = await sealed(gw2, id2);
    expect(inc2).toMatchObject({ state: 'failed', reason: { code } });
    expect(notes(inc2, 'step.retrying')).toEqual([]);
  });

  it('close() does not wait for a scheduled retry; the next process resumes the incident', async () => {
    let tries = 0;
    const { gw, runner } = await retrying(
      { retryDelayMs: 60_000, retryBudgetMs: 600_000 },
      roleDown('strategy', () => {
        tries++;
        return true;
      }),
    );
    const id = await submit(gw, SIGNALS.quota());
    runner.start(id);
    await vi.waitFor(async () => expect(notes(await incident(gw, id), 'step.retrying')).toHaveLength(1));
    expect(await within(runner.close().then(() => 'closed'))).toBe('closed');
    expect(tries).toBe(1);
    expect((await gw.store.getIncident(id))?.state).toBe('proposed');

    const next = ownRunner(gw, {});
    expect(await next.resumeIncidents()).toBe(1);
    await next.idle();
    expect((await sealed(gw, id)).inc['state']).toBe('resolved');
  });

  it('a retry waits without the lock: a resolve or a withIncident writer goes ahead at once', async () => {
    const { gw, runner } = await retrying(
      { retryDelayMs: 60_000, retryBudgetMs: 600_000 },
      roleDown('strategy', () => true),
    );
    const id = await submit(gw, SIGNALS.quota());
    runner.start(id);
    await vi.waitFor(async () => expect(notes(await incident(gw, id), 'step.retrying')).toHaveLength(1));
    expect(await within(runner.withIncident(id, async () => 'ran'))).toBe('ran');
    const resolved = await within(runner.resolveBySource(id, '2026-11-25T15:00:00Z', 'source:alertmanager'));
    expect(resolved).toMatchObject({ state: 'resolved' });
    // The resolve's run replaces the scheduled try: the incident is sealed now, not in a minute.
    await runner.idle();
    const { inc } = await sealed(gw, id);
    expect(events(inc).slice(-2)).toEqual(['step.retrying', 'resolved_by_source']);
  });
});

describe('an unreachable quorum', () => {
  it('parties that do not answer fail the incident (after the retry budget); they do not reject it', async () => {
    let asked = 0;
    const down = (c: LocalCoordinator): Coordinator =>
      delegating(c, {
        signApproval: async () => {
          asked++;
          throw new ProtocolError('QUORUM_UNREACHABLE', '2 of 3 needed parties answered', [], {
            details: { refusals: [{ party: 'audit', rule: 'target.namespace', message: 'no' }] },
          });
        },
      });
    const { gw, runner } = await retrying({ retryDelayMs: 1, retryMaxDelayMs: 2, retryBudgetMs: 20 }, down);
    const id = await submit(gw, SIGNALS.quota());
    runner.start(id);
    await runner.idle();
    const { inc } = await sealed(gw, id);
    expect(inc).toMatchObject({ state: 'failed', reason: { code: 'UNAVAILABLE' } });
    expect(asked).toBeGreaterThan(1);
    expect(notes(inc, 'step.retrying').every((n) => n.state === 'awaiting_approval')).toBe(true);
  });
});

/** Waits (up to 20 s, not the ten minutes parked incidents would) until every one of `ids` is sealed, resolved. */
async function allResolvedAndSealed(gw: TestGateway, runner: WorkflowRunner, ids: readonly string[]) {
  await vi.waitFor(
    async () => {
      for (const id of ids) expect((await incident(gw, id))['evidence_id']).not.toBeNull();
    },
    { timeout: 20_000 },
  );
  await runner.idle();
  for (const id of ids) expect((await sealed(gw, id)).inc['state']).toBe('resolved');
}

describe('quality assurance unreachable at approval', () => {
  it('the approval waits for it past the retry budget, saying so, and goes on once it is back', async () => {
    let qaDown = true;
    let tries = 0;
    let firstTry = 0;
    const flaky = qaDownWhile(() => {
      if (!qaDown) return false;
      if (tries++ === 0) firstTry = performance.now();
      return true;
    });
    const budget = 20;
    const { gw, runner } = await retrying(
      { retryDelayMs: 1, retryMaxDelayMs: 2, retryBudgetMs: budget, sealRetryMaxDelayMs: 4 },
      flaky,
    );
    const id = await submit(gw, SIGNALS.quota());
    runner.start(id);
    // 12 tries wait 1 + 2 + 4 + 9 × 4 ms: more than the budget.
    await vi.waitFor(() => expect(tries).toBeGreaterThanOrEqual(12), { timeout: 10_000 });
    expect(performance.now() - firstTry).toBeGreaterThan(budget);
    const waiting = await incident(gw, id);
    expect(waiting).toMatchObject({ state: 'awaiting_approval', reason: null });
    const waits = notes(waiting, 'step.retrying');
    expect(waits.map((n) => n.detail['attempt']).slice(0, 4)).toEqual([1, 2, 4, 8]);
    expect(
      waits.every(
        (n) =>
          n.state === 'awaiting_approval' &&
          n.detail['code'] === 'UNAVAILABLE' &&
          JSON.stringify(n.detail['waiting_for']) === '["quality-assurance"]',
      ),
    ).toBe(true);
    const logged = gw.logger.lines
      .map(
        (l) =>
          JSON.parse(l) as { event: string; level: string; incident_id?: string; waiting_for?: string[] },
      )
      .filter((l) => l.incident_id === id && l.event === 'workflow.waiting_for_party');
    expect(logged.filter((l) => l.level === 'warn').length).toBeGreaterThanOrEqual(4);
    expect(logged.every((l) => l.waiting_for?.join() === 'quality-assurance')).toBe(true);

    qaDown = false;
    await runner.idle();
    const { inc } = await sealed(gw, id);
    expect(inc).toMatchObject({ state: 'resolved', reason: null });
    expect((inc['decision'] as { approval: { signers: string[] } }).approval.signers).toContain(
      'quality-assurance',
    );
  });

  it('many approvals waiting for it: one probes, the others park and go at once when it answers', async () => {
    let qaDown = true;
    let tries = 0;
    const flaky = qaDownWhile(() => {
      if (!qaDown) return false;
      tries++;
      return true;
    });
    const { gw, runner } = await retrying(
      {
        retryDelayMs: 1,
        retryMaxDelayMs: 2,
        retryBudgetMs: 10,
        sealRetryMaxDelayMs: 4,
        parkMs: 600_000,
        recurrenceWindowMs: 0,
      },
      flaky,
    );
    const ids: string[] = [];
    for (let i = 0; i < 4; i++) ids.push(await submit(gw, SIGNALS.quota()));
    for (const id of ids) runner.start(id);
    await vi.waitFor(() => expect(tries).toBeGreaterThanOrEqual(ids.length + 30), { timeout: 20_000 });
    const waiting = await Promise.all(ids.map((id) => incident(gw, id)));
    expect(waiting.every((inc) => inc['state'] === 'awaiting_approval')).toBe(true);
    const tried = waiting.map((inc) => notes(inc, 'step.retrying').map((n) => n.detail));
    expect(tried.filter((t) => t.length > 1)).toHaveLength(1);
    const parked = tried.filter((t) => t.length === 1);
    expect(parked).toHaveLength(ids.length - 1);
    for (const [d] of parked)
      expect(d).toMatchObject({ attempt: 1, next_in_ms: 600_000, waiting_for: ['quality-assurance'] });

    qaDown = false;
    await allResolvedAndSealed(gw, runner, ids);
  });
});

/**
 * One quota incident, driven to its sealed evidence on a gateway whose first evidence signing
 * fails with `error` (then signs as usual).
 */
async function sealedAfterFailedSigning(error: Error, options: Parameters<typeof makeGateway>[0] = {}) {
  let failOnce = true;
  const { gw, runner } = await retrying(
    { retryDelayMs: 1, sealRetryMaxDelayMs: 5 },
    (c) =>
      delegating(c, {
        signEvidence: async (input) => {
          if (!failOnce) return c.signEvidence(input);
          failOnce = false;
          throw error;
        },
      }),
    options,
  );
  const id = await submit(gw, SIGNALS.quota());
  runner.start(id);
  await vi.waitFor(async () => expect((await incident(gw, id))['evidence_id']).not.toBeNull(), {
    timeout: 10_000,
  });
  return sealed(gw, id);
}

describe('sealing tried again under party ids other than the role names', () => {
  it('runs the audit step once: one EvidenceBundleRef, from the audit party', async () => {
    const { inc, bundle } = await sealedAfterFailedSigning(
      new AapsError('UNAVAILABLE', 'the evidence quorum did not answer'),
      { partyIds: Object.fromEntries(PARTY_ROLES.map((role) => [role, `${role}-dept`])) },
    );
    expect(notes(inc, 'evidence.retrying')).toHaveLength(1);
    const refs = bundle.transcript.filter((e) => e.meta.message_type === 'EvidenceBundleRef');
    expect(refs.map((e) => e.meta.source_agent)).toEqual(['audit-dept']);
  });
});

describe('sealing refused by the parties', () => {
  it('the evidence.retrying note names who refused and by which rule', async () => {
    const { inc } = await sealedAfterFailedSigning(
      new ProtocolError('QUORUM_UNREACHABLE', 'evidence: fewer than 3 parties would sign', [], {
        details: { refusals: [{ party: 'audit', rule: 'evidence.roster', message: 'another roster' }] },
      }),
    );
    expect(notes(inc, 'evidence.retrying').map((n) => n.detail['refused'])).toEqual([
      ['audit:evidence.roster'],
    ]);
  });
});

describe('sealing while the audit party is down', () => {
  it('the failure is on the timeline and the event stream; sealing is tried until the evidence is in', async () => {
    let down = true;
    let failures = 0;
    const { gw, runner } = await retrying(
      { retryDelayMs: 1, sealRetryMaxDelayMs: 5 },
      roleDown('audit', () => {
        if (down) failures++;
        return down;
      }),
    );
    const id = await submit(gw, SIGNALS.quota());
    const lines: string[] = [];
    const io = {
      print: (l: string) => void lines.push(l),
      fetch: ((input: string, init?: RequestInit) => gw.app.request(input, init)) as typeof fetch,
    };
    const followed = follow('http://gw.test', TOKENS.read, id, io);
    runner.start(id);

    // Ended, no evidence yet, and why: in GET /v1/incidents/:id and on the stream `aaps submit` follows.
    await vi.waitFor(() => expect(failures).toBeGreaterThanOrEqual(3), { timeout: 10_000 });
    const waiting = await incident(gw, id);
    expect(waiting).toMatchObject({ state: 'resolved', evidence_id: null });
    expect(notes(waiting, 'evidence.retrying')[0]).toMatchObject({
      state: 'resolved',
      actor: 'gateway',
      detail: { code: 'UNAVAILABLE', message: 'audit is unreachable (agent.step)', attempt: 1 },
    });
    await vi.waitFor(() => expect(lines.join('\n')).toContain('evidence.retrying'), { timeout: 10_000 });
    expect(lines.join('\n')).toContain('evidence not sealed yet: audit is unreachable (agent.step)');

    down = false;
    expect(await followed).toBe('resolved');
    await runner.idle();
    const { inc } = await sealed(gw, id);
    expect(lines.at(-1)).toContain(`ended resolved; evidence ${String(inc['evidence_id'])}`);
    // The evidence's step times leave the waits out.
    const bundle = (await (
      await request(gw, 'GET', `/v1/evidence/${inc['evidence_id']}`, { token: TOKENS.read })
    ).json()) as Record<string, unknown>;
    expect(JSON.stringify(bundle)).not.toContain('evidence.retrying');
  });

  it('tried with no budget, noted on tries 1, 2, 4, 8…; close() stops the tries at once', async () => {
    let failures = 0;
    const { gw, runner } = await retrying(
      { retryDelayMs: 1, sealRetryMaxDelayMs: 1 },
      roleDown('audit', () => {
        failures++;
        return true;
      }),
    );
    const id = await submit(gw, SIGNALS.quota());
    runner.start(id);
    await vi.waitFor(() => expect(failures).toBeGreaterThanOrEqual(10), { timeout: 10_000 });
    expect(await within(runner.close().then(() => 'closed'))).toBe('closed');
    const seen = failures;
    const inc = await incident(gw, id);
    expect(inc).toMatchObject({ state: 'resolved', evidence_id: null });
    const attempts = notes(inc, 'evidence.retrying').map((n) => n.detail['attempt']);
    expect(attempts.slice(0, 4)).toEqual([1, 2, 4, 8]);
    expect(attempts.every((a) => Number.isInteger(Math.log2(Number(a))))).toBe(true);
    await new Promise((r) => setTimeout(r, 50));
    expect(failures).toBe(seen);

    // A long wait (a minute) is also cut short by close().
    const slow = await retrying(
      { retryDelayMs: 60_000, sealRetryMaxDelayMs: 60_000 },
      roleDown('audit', () => true),
    );
    const id2 = await submit(slow.gw, SIGNALS.quota());
    slow.runner.start(id2);
    await vi.waitFor(
      async () => expect(notes(await incident(slow.gw, id2), 'evidence.retrying')).toHaveLength(1),
      { timeout: 10_000 },
    );
    expect(await within(slow.runner.close().then(() => 'closed'))).toBe('closed');
  });
});

describe('an evidence outage many ended incidents wait out', () => {
  it('one incident probes it on the usual waits; the others park and go at once when a sealing succeeds', async () => {
    let down = true;
    let failures = 0;
    const { gw, runner } = await retrying(
      // Five incidents of one failure, each fixed automatically (no recurrence window).
      { retryDelayMs: 1, sealRetryMaxDelayMs: 5, parkMs: 600_000, recurrenceWindowMs: 0 },
      roleDown('audit', () => {
        if (down) failures++;
        return down;
      }),
    );
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) ids.push(await submit(gw, SIGNALS.quota()));
    for (const id of ids) runner.start(id);
    // Each tried once; then the probe alone, on its growing waits (1, 2, 4, 5 ms).
    await vi.waitFor(() => expect(failures).toBeGreaterThanOrEqual(ids.length + 30), { timeout: 20_000 });
    const waiting = await Promise.all(ids.map((id) => incident(gw, id)));
    expect(waiting.every((inc) => inc['state'] === 'resolved' && inc['evidence_id'] === null)).toBe(true);
    const tried = waiting.map((inc) => notes(inc, 'evidence.retrying').map((n) => n.detail));
    const probes = tried.filter((t) => t.length > 1);
    expect(probes).toHaveLength(1);
    expect(probes[0]!.map((d) => d['attempt']).slice(0, 5)).toEqual([1, 2, 4, 8, 16]);
    const parked = tried.filter((t) => t.length === 1);
    expect(parked).toHaveLength(ids.length - 1);
    // Their one try, and the ten minutes they now wait unless a sealing succeeds first.
    for (const [d] of parked)
      expect(d).toMatchObject({ code: 'UNAVAILABLE', attempt: 1, next_in_ms: 600_000 });

    down = false;
    // The probe's next try seals it; that sends the parked ones now, not in ten minutes.
    await allResolvedAndSealed(gw, runner, ids);
  });

  it("a refusal is an incident's own: it neither probes nor parks anyone", async () => {
    let refusing = true;
    let calls = 0;
    const settings = { retryDelayMs: 1, sealRetryMaxDelayMs: 5, parkMs: 600_000, recurrenceWindowMs: 0 };
    const { gw, runner } = await retrying(settings, (c) =>
      delegating(c, {
        signEvidence: async (input) => {
          calls++;
          if (refusing)
            throw new ProtocolError('QUORUM_UNREACHABLE', 'evidence: fewer than 3 parties would sign', []);
          return c.signEvidence(input);
        },
      }),
    );
    const ids = [await submit(gw, SIGNALS.quota()), await submit(gw, SIGNALS.quota())];
    for (const id of ids) runner.start(id);
    await vi.waitFor(() => expect(calls).toBeGreaterThanOrEqual(20), { timeout: 20_000 });
    for (const id of ids)
      expect(notes(await incident(gw, id), 'evidence.retrying').length).toBeGreaterThan(1);
    refusing = false;
    await vi.waitFor(
      async () => {
        for (const id of ids) expect((await incident(gw, id))['evidence_id']).not.toBeNull();
      },
      { timeout: 20_000 },
    );
  });
});

/** The next process on `a`'s data (a's store closed, as after a crash) resumes and seals `id`. */
async function resumedAndSealed(a: TestGateway, id: string) {
  const material = a.coordinator.exportMaterial();
  await a.store.close();
  const b = await gateway({ dir: a.dir, material, gatewayKey: a.gatewayKey, approverKey: a.approverKey });
  expect(await b.runner.resumeIncidents()).toBe(1);
  await b.runner.idle();
  const { inc } = await sealed(b, id);
  return { b, inc };
}

describe('crash safety', () => {
  it('an incident left in received is resumed by the next process and sealed', async () => {
    const a = await gateway();
    await a.runner.close();
    const id = await submit(a, SIGNALS.quota());
    const material = a.coordinator.exportMaterial();
    await a.close();

    const b = await gateway({ dir: a.dir, material, gatewayKey: a.gatewayKey, approverKey: a.approverKey });
    expect(await b.runner.resumeIncidents()).toBe(1);
    await b.runner.idle();
    const { inc } = await sealed(b, id);
    expect(inc['state']).toBe('resolved');
  });

  /**
   * The process dies at one point of sealing: the log write never lands, it lands and the append
   * never returns, or the parties never sign the checkpoint. The next process seals the incident
   * with the bundle the first one stored before its append, and the log holds it once.
   */
  it.each([
    ['before the log append lands', 'before'],
    ['after the log append lands, before it is recorded', 'after'],
    ['while the parties sign the checkpoint', 'checkpoint'],
  ] as const)('a crash %s resumes with the same bundle and one log entry', async (_, point) => {
    let died!: () => void;
    const dead = new Promise<void>((r) => {
      died = r;
    });
    const never = () => {
      died();
      return new Promise<never>(() => undefined);
    };
    const dies = (c: LocalCoordinator): Coordinator =>
      point === 'checkpoint' ? delegating(c, { signCheckpoint: never }) : c;
    const a = await makeGateway({ wrap: dies });
    if (point !== 'checkpoint') {
      const log = a.store.log;
      const batch = log.batch.bind(log);
      log.batch = async (ops) => {
        // Only the append's write (it carries leaves); the process is gone once it is reached.
        if (!ops.some((op) => op.key.startsWith('leaf/'))) return batch(ops);
        if (point === 'after') await batch(ops);
        return never();
      };
    }
    const id = await submit(a, SIGNALS.quota());
    await dead;
    const stuck = await a.store.getIncident(id);
    expect(stuck).toMatchObject({ state: 'resolved', sealing: { evidence_id: expect.any(String) } });
    expect(stuck?.sealing?.log_index).toBeUndefined();
    // The signed bundle was stored before the append, without a log entry yet.
    const draft = await a.store.getEvidence(stuck!.sealing!.evidence_id);
    expect(draft).toBeDefined();
    expect(draft?.transparencyLog).toBeUndefined();
    const { b, inc } = await resumedAndSealed(a, id);
    expect(inc['evidence_id']).toBe(stuck?.sealing?.evidence_id);
    expect(await b.evidence.logSize()).toBe(1);
    expect(await b.store.evidenceIdAt(0)).toBe(stuck?.sealing?.evidence_id);
  });

  it('a record from before bundles were stored ahead of the append (sealing with log_index) is finished under that entry', async () => {
    const a = await makeGateway({
      wrap: (c) => delegating(c, { signCheckpoint: () => new Promise(() => undefined) }),
    });
    const id = await submit(a, SIGNALS.quota());
    await vi.waitFor(async () => expect(await a.evidence.logSize()).toBe(1), { timeout: 20_000 });
    const stuck = (await a.store.getIncident(id))!;
    // As the earlier version left it: the bundle appended first, its index kept with the record,
    // and no leaf index in the log (appendOnce would not find the leaf and append it again).
    const old: IncidentRecord = {
      ...stuck,
      sealing: { evidence_id: stuck.sealing!.evidence_id, log_index: 0 },
    };
    await a.store.putIncident(old);
    const draft = (await a.store.getEvidence(old.sealing!.evidence_id))!;
    const leafIndex = `leafindex/${bytesToHex(hashLeaf(bundleLogLeaf(draft)))}`;
    expect(await a.store.log.get(leafIndex)).toBeDefined();
    await a.store.log.batch([{ type: 'del', key: leafIndex }]);
    const { b, inc } = await resumedAndSealed(a, id);
    expect(inc['evidence_id']).toBe(old.sealing?.evidence_id);
    expect(await b.evidence.logSize()).toBe(1);
  });

  it('a crash during execution is rolled back on restart, and says so', async () => {
    const dry = createDryRunExecutor({ now: () => new Date() });
    let started!: () => void;
    const applying = new Promise<void>((r) => {
      started = r;
    });
    // Simulates the process dying mid-apply: apply never returns.
    const dies: Executor = {
      name: 'dry-run',
      apply: () => {
        started();
        return new Promise(() => undefined);
      },
      rollback: dry.rollback,
    };
    // Not registered for cleanup: its runner never finishes; `b` removes the shared directory.
    const a = await makeGateway({ executor: dies });
    const id = await submit(a, SIGNALS.quota());
    await applying;
    expect((await a.store.getIncident(id))?.state).toBe('executing');
    const { inc } = await resumedAndSealed(a, id);
    expect(inc).toMatchObject({
      state: 'rolled_back',
      execution: { status: 'rolled_back', error: expect.stringContaining('INTERRUPTED') },
    });
  });
});

describe('store refusals and crashes are counted apart', () => {
  it('a full disk waited out for CRASH_RETRIES tries, then one failed read: the incident is still driven on', async () => {
    const { gw } = await retrying({});
    let putFailures = CRASH_RETRIES;
    let getFailures = 1;
    const store = storeWith(gw.store, {
      putIncident: async (...args) => {
        if (putFailures > 0) {
          putFailures--;
          throw fullDisk();
        }
        return gw.store.putIncident(...args);
      },
      // The disk is back; one read fails once (a transient error, not a store refusal).
      getIncident: async (...args) => {
        if (putFailures === 0 && getFailures-- > 0) throw new Error('transient read error');
        return gw.store.getIncident(...args);
      },
    });
    const runner = ownRunner(gw, { retryDelayMs: 1, sealRetryMaxDelayMs: 4 }, undefined, store);
    const id = await submit(gw, SIGNALS.quota());
    runner.start(id);
    await runner.idle();
    const events = gw.logger.lines
      .map((l) => JSON.parse(l) as { event: string; incident_id?: string })
      .filter((l) => l.incident_id === id && l.event.startsWith('workflow.'));
    // One crash is far below CRASH_RETRIES: the runner must not give up on the incident.
    expect(events.map((e) => e.event)).not.toContain('workflow.gave_up');
    expect((await gw.store.getIncident(id))?.state).toBe('resolved');
  });
});
