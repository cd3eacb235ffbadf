/**
 * Pooling again for an approval, across real party processes (docs/aggregation.md, "Pooled risk",
 * "Pooling again for an approval"): the gateway pools the departments' scores and strategy
 * decides on them; then, before the parties are asked to approve, three of the five departments
 * restart with a changed policy. A changed `risk` section makes the round stale for them
 * (`risk.aggregation_stale`): the gateway pools once more, strategy decides anew, the timeline
 * says so, and the incident follows the new decision, whether the parties approve it or it now
 * needs a person. A change that leaves the `risk` section alone and refuses under another rule
 * pools nothing again.
 */
import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { type ApprovalDecisionPayload, memoryLogger } from '@aaps/agents';
import {
  type Coordinator,
  createDryRunExecutor,
  createGateway,
  type Gateway,
  type GatewayStore,
  type IncidentRecord,
  openGatewayStore,
} from '@aaps/gateway';
import type { SignedEnvelope } from '@aaps/mpc-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
// quotaSignal: a quota incident in namespace shop (every department maps it to staging; declared unknown).
import { quotaSignal } from './helpers/incidents.js';
import { type PooledCluster, startPooledCluster } from './helpers/pooled-cluster.js';

const run = promisify(execFile);
const VERIFY = join(import.meta.dirname, '..', 'packages', 'evidence', 'dist', 'cli', 'aaps-verify.js');
const TOKEN = 'repool-admin-token-for-tests';
/** The departments that change their policy between the pooling and the approval. */
const CHANGED = ['monitoring-agent', 'quality-assurance-agent', 'audit-agent'];

interface TimelineEntry {
  state: string;
  event: string;
  detail?: Record<string, unknown>;
}
interface View {
  state: string;
  evidence_id: string | null;
  proposal: {
    risk: { score: number; aggregation_ref?: { session_id: string; value: number } };
  } | null;
  decision: { outcome: string; risk_score: number } | null;
  timeline: TimelineEntry[];
}

/** A policy with its `risk.weight_percent` and bound maxima set (the rest as it was). */
function withPolicy(weight: number, maxRisk: number, maxAuto: number) {
  return (policy: Record<string, unknown>) => ({
    ...policy,
    risk: { ...(policy['risk'] as object), weight_percent: weight, offset: 0 },
    bounds: { ...(policy['bounds'] as object), max_risk_score: maxRisk, max_auto_risk_score: maxAuto },
  });
}

describe('an approval whose pooled round went stale for the parties (real party processes)', () => {
  let cluster: PooledCluster | undefined;
  let store: GatewayStore | undefined;
  let gw: Gateway | undefined;
  /** A gateway started again on the same store and parties, after `gw` stopped (see below). */
  let restarted: Gateway | undefined;
  let startGateway: (s: GatewayStore) => Gateway;
  let dir: string;
  /** Run before the parties are asked to approve the incident's proposal: the first, then the next. */
  const beforeApproval = new Map<string, (() => Promise<void>)[]>();
  /** The rounds the gateway pooled, per incident, in order. */
  const pooled = new Map<string, string[]>();
  /** A write of the incident record the gateway does not get to make (it stops there), once. */
  let stopsBefore: ((r: IncidentRecord) => boolean) | undefined;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'aaps-repool-'));
    cluster = await startPooledCluster('repool');
    const http = cluster.coordinator;
    const coordinator: Coordinator = {
      ...http,
      poolRisk: async (subject, o) => {
        const out = await http.poolRisk!(subject, o);
        if (out)
          pooled.set(subject.incident_id, [...(pooled.get(subject.incident_id) ?? []), out.ref.session_id]);
        return out;
      },
      signApproval: async (proposal, backing) => {
        await beforeApproval.get(proposal.incident_id)?.shift()?.();
        return http.signApproval(proposal, backing);
      },
    };
    store = await openGatewayStore(join(dir, 'db'));
    const db = store;
    const stopping: GatewayStore = {
      ...db,
      putIncident: async (record, extra) => {
        if (stopsBefore?.(record)) {
          // The process stops here: the runner takes no more work and leaves the incident as
          // last written, for the next start.
          stopsBefore = undefined;
          void gw!.runner.close();
          throw new Error('the gateway stopped before this write');
        }
        return db.putIncident(record, extra);
      },
    };
    const roster = cluster.layout.roster;
    const gatewayKey = cluster.layout.gatewayKey;
    const now = () => new Date();
    startGateway = (s: GatewayStore) =>
      createGateway({
        config: {
          tokens: [{ name: 'admin', token: TOKEN, scopes: ['admin'] }],
          logOrigin: 'aaps.test/repool',
          poolRisk: true,
        },
        store: s,
        coordinator,
        executor: createDryRunExecutor({ now }),
        logger: memoryLogger('gateway'),
        now,
        ids: () => randomUUID(),
        identity: { id: roster.gateway.id, key: gatewayKey },
        trust: async () => ({
          parties: roster.parties,
          approvers: roster.approvers,
          gateway: roster.gateway,
        }),
      });
    gw = startGateway(stopping);
  }, 120_000);

  afterAll(async () => {
    await gw?.runner.close();
    await restarted?.runner.close();
    await store?.close();
    await cluster?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  const api = async <T>(path: string, body?: unknown): Promise<T> => {
    const res = await gw!.app.request(path, {
      method: body === undefined ? 'GET' : 'POST',
      headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    return (await res.json()) as T;
  };

  /**
   * Submit a quota incident; `hooks` run before its first approval, its second...; wait until it
   * is sealed or waits for a person.
   */
  async function incident(...hooks: (() => Promise<void>)[]): Promise<{ id: string; view: View }> {
    const { incident_id: id } = await api<{ incident_id: string }>('/v1/incidents', quotaSignal());
    beforeApproval.set(id, hooks);
    const deadline = Date.now() + 90_000;
    for (;;) {
      const view = await api<View>(`/v1/incidents/${id}`);
      if (view.evidence_id || view.state === 'awaiting_human') return { id, view };
      if (Date.now() > deadline) throw new Error(`incident ${id} stuck in ${view.state}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  const notes = (view: View) => view.timeline.filter((e) => e.event === 'risk.repooled');

  it('a changed risk view: pooled again, strategy decides anew, the parties approve the new round', async () => {
    // Every department scores the quota fix 20 + 0 + 10 + 20 (unknown declared) = 50 at first;
    // at 110 %, monitoring, quality assurance and audit score 55: weighted (3, 2, 2, 2, 1)
    // 165 + 100 + 100 + 110 + 55 = 530, pooled 53 (under the automatic threshold, 60).
    const { id, view } = await incident(() => cluster!.restart(CHANGED, withPolicy(110, 90, 60)));
    expect(view.state).toBe('resolved');
    const rounds = pooled.get(id) ?? [];
    expect(rounds).toHaveLength(2);
    const [first, second] = rounds;
    expect(second).not.toBe(first);
    expect(view.proposal?.risk.aggregation_ref).toMatchObject({ session_id: second, value: 53 });
    expect(view.proposal?.risk.score).toBe(53);

    // The timeline says why it pooled again, who refused the old round, and what was decided.
    const [note] = notes(view);
    expect(notes(view)).toHaveLength(1);
    expect(note!.state).toBe('awaiting_approval');
    expect(note!.detail).toMatchObject({
      because: 'risk.aggregation_stale',
      previous: { session_id: first, value: 50 },
      decision: 'auto',
      risk_score: 53,
      pooled: { session_id: second, value: 53 },
    });
    // Those the coordinator asked before the quorum was out of reach: changed departments only.
    const refusedBy = note!.detail!['refused_by'] as string[];
    expect(refusedBy.length).toBeGreaterThan(0);
    for (const p of refusedBy) expect(CHANGED).toContain(p);
    const approved = view.timeline.find((e) => e.event === 'approved');
    expect(approved?.detail).toMatchObject({ repooled: true });

    // Two decisions by strategy in the transcript; the evidence binds the last, and verifies.
    const bundle = await api<{ transcript: SignedEnvelope[]; aggregation?: { sessionId: string } }>(
      `/v1/evidence/${view.evidence_id}`,
    );
    const decisions = bundle.transcript
      .filter((e) => e.meta.message_type === 'ApprovalDecision')
      .map((e) => e.payload as unknown as ApprovalDecisionPayload);
    expect(decisions.map((d) => d.proposal.risk.aggregation_ref?.session_id)).toEqual([first, second]);
    expect(bundle.aggregation?.sessionId).toBe(second);
    const b = join(dir, 'bundle.json');
    const r = join(dir, 'trusted_root.json');
    writeFileSync(b, JSON.stringify(bundle));
    writeFileSync(r, JSON.stringify(await api<unknown>('/v1/trusted-root')));
    const { stdout } = await run(process.execPath, [VERIFY, b, '--trusted-root', r]);
    expect(stdout).toMatch(/^valid/);
  }, 180_000);

  it('at most once: a round that went stale again is not pooled a third time', async () => {
    // Pooled 53 under the 110 % views; before the approval the three change to 120 % (stale:
    // pooled again, 56, still automatic), and before the second approval back to 110 % (the new
    // round is stale too): the approval is refused, not pooled again.
    const { id, view } = await incident(
      () => cluster!.restart(CHANGED, withPolicy(120, 90, 60)),
      () => cluster!.restart(CHANGED, withPolicy(110, 90, 60)),
    );
    expect(view.state).toBe('rejected');
    const [first, second] = pooled.get(id) ?? [];
    expect(pooled.get(id)).toHaveLength(2);
    expect(notes(view)).toHaveLength(1);
    expect(notes(view)[0]!.detail).toMatchObject({
      previous: { session_id: first, value: 53 },
      decision: 'auto',
      pooled: { session_id: second, value: 56 },
    });
    expect(view.proposal?.risk.aggregation_ref?.session_id).toBe(second);
    const rejected = view.timeline.find((e) => e.event === 'rejected');
    const refused = rejected?.detail?.['refusals'] as string[];
    expect(refused.length).toBeGreaterThan(0);
    for (const x of refused) expect(CHANGED.map((p) => `${p}:risk.aggregation_stale`)).toContain(x);
  }, 180_000);

  it('a refusal under another rule (a lower maximum, the risk view unchanged) pools nothing again', async () => {
    const { id, view } = await incident(() => cluster!.restart(CHANGED, withPolicy(110, 40, 40)));
    expect(view.state).toBe('rejected');
    expect(pooled.get(id)).toHaveLength(1);
    expect(notes(view)).toEqual([]);
    const rejected = view.timeline.find((e) => e.event === 'rejected');
    const refused = rejected?.detail?.['refusals'] as string[];
    expect(refused.length).toBeGreaterThan(0);
    for (const x of refused) expect(CHANGED.map((p) => `${p}:risk.over_max`)).toContain(x);
  }, 180_000);

  it('a new score over the automatic threshold: the incident follows the new decision to a person', async () => {
    // Pooled 53 under the 110 % views, then monitoring, quality assurance and audit score 75
    // (150 %): 225 + 100 + 100 + 150 + 75 = 650, pooled 65, over 60: a person decides.
    const { id, view } = await incident(() => cluster!.restart(CHANGED, withPolicy(150, 90, 60)));
    expect(view.state).toBe('awaiting_human');
    const [first, second] = pooled.get(id) ?? [];
    expect(pooled.get(id)).toHaveLength(2);
    expect(view.decision).toMatchObject({ outcome: 'needs_human', risk_score: 65 });
    expect(view.proposal?.risk.aggregation_ref).toMatchObject({ session_id: second, value: 65 });
    expect(notes(view)).toHaveLength(1);
    expect(notes(view)[0]!.detail).toMatchObject({
      because: 'risk.aggregation_stale',
      previous: { session_id: first, value: 53 },
      decision: 'needs_human',
      pooled: { session_id: second, value: 65 },
    });
    const last = view.timeline.at(-1);
    expect(last).toMatchObject({ event: 'human_required', state: 'awaiting_human' });
    expect(last?.detail).toMatchObject({ repooled: true, decision: 'needs_human', risk_score: 65 });
  }, 180_000);

  it('stopped between the risk.repooled note and its state change, a restarted gateway takes the incident on to the new decision (a person)', async () => {
    // As the previous case (pooled 53 under 110 %, then 65 under 150 %: a person decides), but the
    // gateway stops before writing awaiting_human (after writing the note, if it writes that
    // apart); a new gateway on the same store takes the incident up from what the first one wrote.
    await cluster!.restart(CHANGED, withPolicy(110, 90, 60));
    stopsBefore = (r) =>
      r.timeline.at(-1)?.event === 'human_required' && r.timeline.some((e) => e.event === 'risk.repooled');
    const { incident_id: id } = await api<{ incident_id: string }>('/v1/incidents', quotaSignal());
    beforeApproval.set(id, [() => cluster!.restart(CHANGED, withPolicy(150, 90, 60))]);
    const deadline = Date.now() + 90_000;
    while (stopsBefore !== undefined) {
      if (Date.now() > deadline) throw new Error(`incident ${id} never reached the stop`);
      await new Promise((r) => setTimeout(r, 100));
    }
    await gw!.runner.close();
    restarted = startGateway(store!);
    await restarted.runner.resumeIncidents();
    await restarted.runner.idle();
    const res = await restarted.app.request(`/v1/incidents/${id}`, {
      headers: { authorization: `Bearer ${TOKEN}` },
    });
    const view = (await res.json()) as View;
    // What the stopped gateway had not written, the restarted one does again (pooling once more
    // if the write it stopped before held the note): the record cites the last round.
    expect(view.state).toBe('awaiting_human');
    expect(view.decision).toMatchObject({ outcome: 'needs_human', risk_score: 65 });
    expect(view.proposal?.risk.aggregation_ref?.session_id).toBe(pooled.get(id)?.at(-1));
    expect(notes(view)).toHaveLength(1);
    expect(notes(view)[0]!.detail).toMatchObject({ pooled: { session_id: pooled.get(id)?.at(-1) } });
    expect(view.timeline.at(-1)).toMatchObject({ event: 'human_required', state: 'awaiting_human' });
  }, 180_000);
});
