/**
 * The workflow end to end through the in-process coordinator: the three incident types, the
 * human-approval path, the QA veto, dedup across sources, and restart after a crash. Every ended
 * incident's evidence must pass `@aaps/evidence`'s verifier.
 */
import { defaultPolicy, ROLE_AGENT_NAMES } from '@aaps/agents';
import { AapsError, ProtocolError } from '@aaps/mpc-core';
import { afterEach, describe, expect, it } from 'vitest';
import type { Coordinator } from '../coordinator.js';
import type { LocalCoordinator } from '../coordinator-local.js';
import { createDryRunExecutor } from '../executor/dry-run.js';
import type { Executor } from '../executor/types.js';
import { signGithubPayload } from '../intake/github-signature.js';
import {
  approvalEnvelope,
  fixture,
  fixtureText,
  GITHUB_SECRET,
  incident,
  json,
  makeGateway,
  request,
  SIGNALS,
  signalEnvelope,
  type TestGateway,
  TOKENS,
  verifyServedBundle,
} from '../test-helpers/gateway.js';
import { replayTimeline, type TimelineEntry } from './machine.js';

const open: TestGateway[] = [];
async function gateway(...args: Parameters<typeof makeGateway>): Promise<TestGateway> {
  const gw = await makeGateway(...args);
  open.push(gw);
  return gw;
}
afterEach(async () => {
  for (const gw of open.splice(0)) await gw.cleanup();
});

async function submit(gw: TestGateway, body: unknown): Promise<string> {
  const res = await request(gw, 'POST', '/v1/incidents', { token: TOKENS.submit, body });
  expect(res.status).toBe(202);
  return String((await json(res))['incident_id']);
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
  // The stored timeline replays through the state machine to the state it reports.
  expect(replayTimeline(inc['timeline'] as TimelineEntry[])).toBe(inc['state']);
  return {
    inc,
    bundle: bundle as { transcript: { meta: { source_agent: string; message_type: string } }[] },
    verified,
  };
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
    const headers = {
      'x-github-event': 'workflow_run',
      'x-github-delivery': '72d3162e-cc78-11e3-81ab-4c9367dc0958',
      'x-hub-signature-256': signGithubPayload(new TextEncoder().encode(raw), GITHUB_SECRET),
    };
    const g1 = (await json(await request(gw, 'POST', '/v1/webhooks/github', { raw, headers })))[
      'incidents'
    ] as { incident_id: string }[];
    const g2res = await request(gw, 'POST', '/v1/webhooks/github', { raw, headers });
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
  it('a step that fails with UNAVAILABLE is tried again; one that keeps failing fails the incident', async () => {
    let failures = 1;
    const flaky = (c: LocalCoordinator): Coordinator => ({
      keys: () => c.keys(),
      agentStep: async (role, input) => {
        if (role === 'monitoring' && failures > 0) {
          failures--;
          throw new AapsError('UNAVAILABLE', 'monitoring did not answer');
        }
        return c.agentStep(role, input);
      },
      signApproval: (p) => c.signApproval(p),
      signEvidence: (i) => c.signEvidence(i),
      signCheckpoint: (i) => c.signCheckpoint(i),
    });
    const gw = await gateway({ wrap: flaky });
    const id = await submit(gw, SIGNALS.quota());
    await gw.runner.idle();
    expect((await sealed(gw, id)).inc['state']).toBe('resolved');

    failures = 100;
    const id2 = await submit(gw, SIGNALS.imageSignature());
    await gw.runner.idle();
    const inc = await incident(gw, id2);
    expect(inc).toMatchObject({ state: 'failed', reason: { code: 'UNAVAILABLE' } });
  });
});

describe('an unreachable quorum', () => {
  it('parties that do not answer fail the incident; they do not reject it', async () => {
    const down = (c: LocalCoordinator): Coordinator => ({
      keys: () => c.keys(),
      agentStep: (role, input) => c.agentStep(role, input),
      signApproval: async () => {
        throw new ProtocolError('QUORUM_UNREACHABLE', '2 of 3 needed parties answered', [], {
          details: { refusals: [{ party: 'audit', rule: 'target.namespace', message: 'no' }] },
        });
      },
      signEvidence: (i) => c.signEvidence(i),
      signCheckpoint: (i) => c.signCheckpoint(i),
    });
    const gw = await gateway({ wrap: down });
    const id = await submit(gw, SIGNALS.quota());
    await gw.runner.idle();
    const { inc } = await sealed(gw, id);
    expect(inc).toMatchObject({ state: 'failed', reason: { code: 'UNAVAILABLE' } });
  });
});

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

  it('a crash after the log append resumes with the same log entry', async () => {
    let appended!: () => void;
    const reached = new Promise<void>((r) => {
      appended = r;
    });
    // The process dies while the parties sign the checkpoint.
    const dies = (c: LocalCoordinator): Coordinator => ({
      keys: () => c.keys(),
      agentStep: (role, input) => c.agentStep(role, input),
      signApproval: (p) => c.signApproval(p),
      signEvidence: (i) => c.signEvidence(i),
      signCheckpoint: () => {
        appended();
        return new Promise(() => undefined);
      },
    });
    const a = await makeGateway({ wrap: dies });
    const id = await submit(a, SIGNALS.quota());
    await reached;
    const stuck = await a.store.getIncident(id);
    expect(stuck).toMatchObject({ state: 'resolved', sealing: { log_index: 0 } });
    const material = a.coordinator.exportMaterial();
    await a.store.close();

    const b = await gateway({ dir: a.dir, material, gatewayKey: a.gatewayKey, approverKey: a.approverKey });
    expect(await b.runner.resumeIncidents()).toBe(1);
    await b.runner.idle();
    const { inc } = await sealed(b, id);
    expect(inc['evidence_id']).toBe(stuck?.sealing?.evidence_id);
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
    const material = a.coordinator.exportMaterial();
    await a.store.close();

    const b = await gateway({ dir: a.dir, material, gatewayKey: a.gatewayKey, approverKey: a.approverKey });
    expect(await b.runner.resumeIncidents()).toBe(1);
    await b.runner.idle();
    const { inc } = await sealed(b, id);
    expect(inc).toMatchObject({
      state: 'rolled_back',
      execution: { status: 'rolled_back', error: expect.stringContaining('INTERRUPTED') },
    });
  });
});
