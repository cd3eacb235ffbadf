/**
 * The whole service across real processes: `aaps up` (gateway + five party processes, LevelDB,
 * DKG on first start, 3-of-5), native payloads for each incident type run to evidence, the
 * human-approval path, and every bundle verified offline by the `aaps-verify` CLI against the
 * served trusted root.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AAPS, freshPort, startUp, type UpCluster } from '../bench/load/cluster.js';

const run = promisify(execFile);
const VERIFY = join(import.meta.dirname, '..', 'packages', 'evidence', 'dist', 'cli', 'aaps-verify.js');
const fixture = (rel: string) =>
  readFileSync(join(import.meta.dirname, '..', 'packages', 'gateway', 'test-fixtures', rel), 'utf8');

let up: UpCluster;
let work: string;

async function api<T>(path: string, init: RequestInit = {}): Promise<{ status: number; body: T }> {
  const res = await fetch(`${up.url}${path}`, {
    ...init,
    headers: {
      authorization: `Bearer ${up.token}`,
      'content-type': 'application/json',
      ...(init.headers ?? {}),
    },
  });
  return { status: res.status, body: (await res.json()) as T };
}

interface Incident {
  incident_id: string;
  state: string;
  evidence_id?: string | null;
  timeline: { state: string }[];
  proposal?: { action?: string; proposal_digest?: string } | null;
}

async function waitFor(id: string, done: (i: Incident) => boolean): Promise<Incident> {
  const deadline = Date.now() + 60_000;
  for (;;) {
    const { body } = await api<Incident>(`/v1/incidents/${id}`);
    if (done(body)) return body;
    if (Date.now() > deadline) throw new Error(`incident ${id} stuck in ${body.state}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function verifyOffline(evidenceId: string): Promise<string> {
  const bundle = await fetch(`${up.url}/v1/evidence/${evidenceId}`, {
    headers: { authorization: `Bearer ${up.token}` },
  });
  const root = await fetch(`${up.url}/v1/trusted-root`, { headers: { authorization: `Bearer ${up.token}` } });
  const b = join(work, `${evidenceId}.json`);
  const r = join(work, 'trusted_root.json');
  writeFileSync(b, await bundle.text());
  writeFileSync(r, await root.text());
  const { stdout } = await run(process.execPath, [VERIFY, b, '--trusted-root', r]);
  return stdout;
}

async function webhook(source: string, rel: string): Promise<string[]> {
  const { status, body } = await api<{ incidents: { incident_id: string }[] }>(`/v1/webhooks/${source}`, {
    method: 'POST',
    body: fixture(rel),
  });
  expect(status).toBe(202);
  return body.incidents.map((i) => i.incident_id);
}

describe('aaps up across real processes', () => {
  beforeAll(async () => {
    work = mkdtempSync(join(tmpdir(), 'aaps-gw-e2e-'));
    up = await startUp({
      port: await freshPort(),
      args: ['--gitops-repo-url', 'https://git.example/platform/deploy.git'],
    });
  }, 90_000);

  afterAll(async () => {
    await up?.stop();
    rmSync(work, { recursive: true, force: true });
  });

  it.each([
    [
      // kubelet's Event with the registry's answer (not found): an alert that only says the pull
      // failed (kube-state-metrics' reason label) goes to a person.
      'image signature / pull failure',
      'kubernetes',
      'kubernetes/core-v1-image-pull-failed.json',
      'image_rollback',
    ],
    [
      'resource quota exceeded',
      'kubernetes',
      'kubernetes/events-v1-quota-exceeded.json',
      'resource_quota_adjust',
    ],
    [
      'ConfigMap misconfiguration',
      'argocd',
      'argocd/template-sync-failed-configmap.json',
      'configmap_reload',
    ],
  ])('%s: resolved by a 3-of-5 approval, evidence verifies offline', async (_name, source, rel, action) => {
    const [id] = await webhook(source, rel);
    const done = await waitFor(id!, (i) => Boolean(i.evidence_id));
    expect(done.state).toBe('resolved');
    expect(done.proposal?.action).toBe(action);
    expect(done.timeline.map((t) => t.state)).toEqual(
      expect.arrayContaining(['triaged', 'proposed', 'approved', 'executing', 'verifying', 'resolved']),
    );
    expect(await verifyOffline(done.evidence_id!)).toMatch(/^valid: incident\//);
  });

  it('a human-approval action waits in awaiting_human until aaps approve signs it', async () => {
    const ids = await webhook('kubernetes', 'kubernetes/event-list-mixed.json');
    const incidents = await Promise.all(
      ids.map((id) =>
        waitFor(id, (i) => ['awaiting_human', 'resolved', 'failed', 'rejected'].includes(i.state)),
      ),
    );
    const waiting = incidents.find(
      (i) => i.state === 'awaiting_human' && i.proposal?.action === 'rbac_changes',
    );
    expect(waiting, 'the RBAC denial asks a human').toBeDefined();
    const { stdout } = await run(
      process.execPath,
      [
        AAPS,
        'approve',
        waiting!.incident_id,
        // What a script that read the proposal passes: it signs only the proposal with this digest.
        '--digest',
        waiting!.proposal?.proposal_digest?.slice(0, 16) ?? '',
        '--data-dir',
        up.dataDir,
        '--url',
        up.url,
      ],
      {
        env: { ...process.env, AAPS_API_TOKEN: up.token },
      },
    );
    expect(stdout).toMatch(/resolved|approved/);
    const done = await waitFor(waiting!.incident_id, (i) => Boolean(i.evidence_id));
    expect(done.state).toBe('resolved');
    expect(await verifyOffline(done.evidence_id!)).toMatch(/^valid/);
  });

  it('aaps approve --reject ends an incident no agent can fix; its evidence verifies offline', async () => {
    const { status, body } = await api<{ incident_id: string }>('/v1/incidents', {
      method: 'POST',
      body: JSON.stringify({
        meta: {
          trace_id: 'e2e-reject',
          span_id: 'span-1',
          timestamp: new Date().toISOString(),
          source_agent: 'node-watch',
          target_agent: 'monitoring-agent',
          message_type: 'IncidentSignal',
          schema_version: 'v1.0.0',
          idempotency_key: 'e2e-reject-1',
        },
        context: {
          namespace: 'ops',
          cluster: 'prod',
          urgency: 'P3',
          constraints_ref: 'policy://risk-management/v1',
        },
        payload: {
          incident_type: 'unknown',
          severity: 'high',
          affected_resources: ['node://cluster/node-7'],
          evidence_refs: ['event://ops/node-7-not-ready'],
          metadata: {
            namespace: 'ops',
            reason: 'NodeNotReady',
            messages: ['kubelet stopped posting node status'],
          },
        },
      }),
    });
    expect(status).toBe(202);
    const waiting = await waitFor(body.incident_id, (i) => i.state === 'awaiting_human');
    expect(waiting.proposal ?? null).toBeNull();
    const { stdout } = await run(
      process.execPath,
      [
        AAPS,
        'approve',
        body.incident_id,
        '--reject',
        '--reason',
        'the node team handles it',
        '--data-dir',
        up.dataDir,
        '--url',
        up.url,
      ],
      { env: { ...process.env, AAPS_API_TOKEN: up.token } },
    );
    expect(stdout).toContain('rejected as');
    const done = await waitFor(body.incident_id, (i) => Boolean(i.evidence_id));
    expect(done.state).toBe('rejected');
    expect(await verifyOffline(done.evidence_id!)).toMatch(/^valid/);
  });

  it('the same delivery again creates nothing', async () => {
    const before = await api<{ incidents: unknown[] }>('/v1/incidents?limit=100');
    const again = await webhook('kubernetes', 'kubernetes/core-v1-image-pull-failed.json');
    const after = await api<{ incidents: unknown[] }>('/v1/incidents?limit=100');
    expect(after.body.incidents.length).toBe(before.body.incidents.length);
    expect(again.length).toBe(1);
  });
});
