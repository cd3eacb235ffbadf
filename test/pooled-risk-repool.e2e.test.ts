/**
 * Pooling again for an approval, across real party processes (docs/aggregation.md, "Pooled risk",
 * "Pooling again for an approval"): the gateway pools the departments' scores and strategy
 * decides on them; then, before the parties are asked to approve, three of the five departments
 * restart with a changed policy. A changed `risk` section makes the round stale for them
 * (`risk.aggregation_stale`): the gateway pools once more, strategy decides anew, the timeline
 * says so, and the incident follows the new decision, whether the parties approve it or it now
 * needs a person. A change that leaves the `risk` section alone and refuses under another rule
 * pools nothing again. An incident pools again at most once, across tries of its approval and
 * gateway restarts, and its `approved` entry says so after a restart too; quality assurance that
 * changed its view after the approval verifies the executed change on the round approved.
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
import { blockingFetch } from './helpers/blocking-fetch.js';
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
  verification: { verdict: string; stages: { name: string; status: string }[] } | null;
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
  /** Run once the parties approved the incident's proposal, before the gateway records it. */
  const afterApproval = new Map<string, (() => Promise<void>)[]>();
  /** Parties (ids) the coordinator cannot reach for signing (they still pool and run their steps). */
  const signingBlocked = new Set<string>();
  /** The store the gateway runs on (`stopsBefore` applies), for a gateway started again on it. */
  let stoppingStore: GatewayStore;
  /** The rounds the gateway pooled, per incident, in order. */
  const pooled = new Map<string, string[]>();
  /** A write of the incident record the gateway does not get to make (it stops there), once. */
  let stopsBefore: ((r: IncidentRecord) => boolean) | undefined;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'aaps-repool-'));
    // A party whose signing calls (a signing's rounds, alone or batched) the coordinator cannot make.
    const ports = new Map<string, string>();
    const signing = (url: URL) => url.pathname.startsWith('/v1/sign/') || url.pathname === '/v1/batch';
    cluster = await startPooledCluster('repool', undefined, {
      fetch: blockingFetch(
        (url) => signing(url) && [...signingBlocked].some((id) => ports.get(id) === url.port),
      ),
    });
    for (const p of cluster.layout.roster.parties) ports.set(p.id, new URL(p.url).port);
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
        const signed = await http.signApproval(proposal, backing);
        await afterApproval.get(proposal.incident_id)?.shift()?.();
        return signed;
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
    stoppingStore = stopping;
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
  function incident(...hooks: (() => Promise<void>)[]): Promise<{ id: string; view: View }> {
    return incidentWith({ before: hooks });
  }

  /** As {@link incident}, with hooks run after its approvals too (`after`: after the first, ...). */
  async function incidentWith(hooks: {
    before?: (() => Promise<void>)[];
    after?: (() => Promise<void>)[];
  }): Promise<{ id: string; view: View }> {
    const { incident_id: id } = await api<{ incident_id: string }>('/v1/incidents', quotaSignal());
    beforeApproval.set(id, hooks.before ?? []);
    afterApproval.set(id, hooks.after ?? []);
    return settled(id);
  }

  /** The incident once it is sealed or waits for a person. */
  async function settled(id: string): Promise<{ id: string; view: View }> {
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

  it('quality assurance restarted with a new risk view after the approval verifies the executed change on the round it approved', async () => {
    // Every department at the formula's view: pooled 50, approved (quality assurance, in every
    // approval quorum, checked the round then). Before the change is verified quality assurance
    // starts again at 110 %: the round is stale for it now, but it is the one the approval cited,
    // and the change made on it stands.
    await cluster!.restart(CHANGED, withPolicy(100, 90, 60));
    const { id, view } = await incidentWith({
      after: [() => cluster!.restart(['quality-assurance-agent'], withPolicy(110, 90, 60))],
    });
    expect(pooled.get(id)).toHaveLength(1);
    expect(notes(view)).toEqual([]);
    expect(view.timeline.map((e) => e.event)).toContain('executed');
    expect(view.verification?.verdict).toBe('pass');
    expect(view.verification?.stages.find((s) => s.name === 'policy_compliance')?.status).toBe('pass');
    expect(view.state).toBe('resolved');
  }, 180_000);

  it('pools again at most once per incident: stale again while a party is unreachable, the retried approval pools no third time', async () => {
    // Pooled 50 (every department at the formula's view). Before the approval monitoring and
    // audit change to 110 % and the problem solver cannot be reached for signing: strategy and
    // quality assurance alone sign, the two refusals are stale, so the gateway pools again
    // (55 * 3 + 100 + 100 + 100 + 55 = 520: 52). Before the second signing the two change to
    // 120 %: stale again, and with the problem solver unreachable the approval is unavailable
    // (not refused) and tried again later. That try does not pool a third time: once the problem
    // solver is back, it signs with strategy and quality assurance on the round pooled again.
    const two = ['monitoring-agent', 'audit-agent'];
    await cluster!.restart(CHANGED, withPolicy(100, 90, 60));
    const { id, view } = await incident(
      async () => {
        await cluster!.restart(two, withPolicy(110, 90, 60));
        signingBlocked.add('problem-solver-agent');
      },
      () => cluster!.restart(two, withPolicy(120, 90, 60)),
      async () => {},
      async () => {
        signingBlocked.delete('problem-solver-agent');
      },
    );
    signingBlocked.clear();
    const [first, second] = pooled.get(id) ?? [];
    expect(pooled.get(id)).toHaveLength(2);
    expect(notes(view)).toHaveLength(1);
    expect(notes(view)[0]!.detail).toMatchObject({
      previous: { session_id: first, value: 50 },
      decision: 'auto',
      pooled: { session_id: second, value: 52 },
    });
    // The approval was tried again (unavailable), and approved on the round pooled again.
    expect(view.timeline.some((e) => e.event === 'step.retrying' && e.state === 'awaiting_approval')).toBe(
      true,
    );
    expect(view.proposal?.risk.aggregation_ref?.session_id).toBe(second);
    expect(view.state).toBe('resolved');
    const approved = view.timeline.find((e) => e.event === 'approved');
    expect(approved?.detail).toMatchObject({ repooled: true });
    expect(approved?.detail?.['signers']).toContain('problem-solver-agent');
  }, 180_000);

  it('stopped before recording the approval of a round pooled again, a restarted gateway still records it as pooled again', async () => {
    // As the first case (pooled 50, the three change to 110 %: pooled again, 53, approved), but
    // the gateway stops before writing `approved`; a new gateway on the same store asks the
    // parties again, on the round pooled again, and says so.
    await cluster!.restart(CHANGED, withPolicy(100, 90, 60));
    stopsBefore = (r) =>
      r.timeline.at(-1)?.event === 'approved' && r.timeline.some((e) => e.event === 'risk.repooled');
    const { incident_id: id } = await api<{ incident_id: string }>('/v1/incidents', quotaSignal());
    beforeApproval.set(id, [() => cluster!.restart(CHANGED, withPolicy(110, 90, 60))]);
    const deadline = Date.now() + 90_000;
    while (stopsBefore !== undefined) {
      if (Date.now() > deadline) throw new Error(`incident ${id} never reached the stop`);
      await new Promise((r) => setTimeout(r, 100));
    }
    await gw!.runner.close();
    gw = startGateway(stoppingStore);
    await gw.runner.resumeIncidents();
    const { view } = await settled(id);
    expect(view.state).toBe('resolved');
    expect(pooled.get(id)).toHaveLength(2);
    expect(notes(view)).toHaveLength(1);
    const approved = view.timeline.filter((e) => e.event === 'approved');
    expect(approved).toHaveLength(1);
    expect(approved[0]!.detail).toMatchObject({ repooled: true });
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
