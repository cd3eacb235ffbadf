/**
 * Dropouts and liars: five party processes behind fault proxies (the party code is untouched; a
 * lying party's answers are re-signed with its own identity key, as a compromised party would).
 * With up to n-k parties stopped, lying (corrupted shares or commitments), stalling past the
 * timeout or dropping connections, every approval completes with another quorum and the faulty
 * parties are named; with more than n-k faulty, approvals fail closed and nothing executes.
 * Driven twice: a coordinator's `SigningSession` directly, and the gateway (`aaps gateway`)
 * through its HTTP API.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  freePort,
  frostIdentifier,
  httpSigningTransport,
  loadOrCreateIdentityKey,
  partyIdsOf,
  proposalSigningBytes,
  type Roster,
  runAggregationOverHttp,
  type SignSubject,
} from '@aaps/agents';
import {
  type AapsError,
  ProtocolError,
  type PublicKeyPackage,
  PublicKeyPackageCodec,
  SigningSession,
  verifyEd25519,
} from '@aaps/mpc-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { proposalFor } from '../../packages/agents/src/policy/test-helpers/fixtures.js';
import {
  type AapsProcess,
  type GatewayApi,
  gatewayApi,
  type IncidentView,
  killAllAaps,
  startAaps,
  waitSettled,
} from '../helpers/aaps.js';
import { approvalRequired, approvalSubject } from '../helpers/backing.js';
import { incidentSignal } from '../helpers/incidents.js';
import { type PartyCluster, startPartyCluster, suite } from '../helpers/party-cluster.js';
import { type FaultMode, type FaultProxy, startFaultProxy } from '../helpers/proxy.js';
import { type Figure, recordResult } from '../helpers/results.js';
import { seededRng } from '../helpers/rng.js';
import { reproduce, SEED, scaled } from '../helpers/settings.js';

const PER_SCENARIO = scaled(4, 30);
const GATEWAY_INCIDENTS = scaled(4, 25);
const TIMEOUT_MS = 2_500;

let cluster: PartyCluster;
let proxies: Map<string, FaultProxy>;
let proxied: Roster;
let pub: PublicKeyPackage;
let gw: AapsProcess;
let api: GatewayApi;
const figures: Figure[] = [];
const notes: string[] = [];

type Fault = FaultMode | 'stopped';

async function setFaults(faults: Record<string, Fault>): Promise<void> {
  for (const id of cluster.ids) {
    const f = faults[id] ?? 'pass';
    if (f === 'stopped') await cluster.kill(id);
    else if (!cluster.isRunning(id)) await cluster.start(id);
    proxies.get(id)!.mode = f === 'stopped' ? 'pass' : f;
  }
}

interface Tally {
  completed: number;
  failedClosed: number;
  other: number;
  /** Approvals in which every faulty party was named (misbehaved, timed out or failed). */
  allNamed: number;
  honestBlamed: number;
  codes: Record<string, number>;
}

async function signMany(label: string, faulty: readonly string[], count: number): Promise<Tally> {
  const client = cluster.client({ roster: proxied, timeoutMs: TIMEOUT_MS });
  const roster = cluster.layout.roster;
  const t: Tally = { completed: 0, failedClosed: 0, other: 0, allNamed: 0, honestBlamed: 0, codes: {} };
  for (let i = 0; i < count; i++) {
    const session = new SigningSession<SignSubject>({
      suite: suite(),
      publicPackage: pub,
      transport: httpSigningTransport(client, suite(), `${label}-${i}`),
      timeoutMs: TIMEOUT_MS,
      // The faulty parties are asked first (after the veto holder every approval needs), so each
      // approval meets them.
      preference: faulty.map((id) => frostIdentifier(roster, roster.parties.find((p) => p.id === id)!)),
    });
    const subject: SignSubject = approvalSubject(
      cluster.layout,
      proposalFor('image_rollback', { incident_id: `inc-${label}-${SEED}-${i}` }),
    );
    try {
      const r = await session.sign({
        payload: subject,
        required: approvalRequired(cluster.layout),
        messageFor: (s) => proposalSigningBytes((s as { proposal: unknown }).proposal),
      });
      expect(verifyEd25519(pub.groupPublicKey, r.message, r.signature)).toBe(true);
      t.completed++;
      const named = new Set(
        partyIdsOf(
          roster,
          [...r.misbehaved, ...r.timedOut, ...r.failed].map((f) => f.party),
        ),
      );
      if (faulty.every((id) => named.has(id))) t.allNamed++;
      if ([...named].some((id) => !faulty.includes(id))) t.honestBlamed++;
      for (const f of [...r.misbehaved, ...r.timedOut, ...r.failed])
        t.codes[f.code] = (t.codes[f.code] ?? 0) + 1;
      const signers = partyIdsOf(roster, r.signers);
      expect(signers.some((s) => faulty.includes(s))).toBe(false);
    } catch (e) {
      if (e instanceof ProtocolError && e.code === 'QUORUM_UNREACHABLE') {
        t.failedClosed++;
        const culprits = partyIdsOf(roster, e.culprits);
        if (culprits.some((id) => !faulty.includes(id))) t.honestBlamed++;
        t.codes[e.code] = (t.codes[e.code] ?? 0) + 1;
      } else {
        t.other++;
        notes.push(`${label}: ${(e as Error).message}`);
        t.codes[(e as AapsError).code ?? 'THROWN'] = (t.codes[(e as AapsError).code ?? 'THROWN'] ?? 0) + 1;
      }
    }
  }
  return t;
}

describe('dropouts and liars', () => {
  beforeAll(async () => {
    proxies = new Map();
    // Proxies first: the roster every party reads names them at their proxies.
    cluster = await startPartyCluster({
      prefix: 'aaps-fault-liars-',
      rewriteRoster: async (layout) => {
        // Called again if the cluster is laid out anew (a probed port taken): the proxies made
        // for the earlier layout are closed, not left listening beside the ones kept.
        await Promise.all([...proxies.values()].map((p) => p.close()));
        proxies.clear();
        for (const p of layout.roster.parties) {
          proxies.set(
            p.id,
            await startFaultProxy({
              upstream: p.url,
              suite: suite().id,
              partyKey: loadOrCreateIdentityKey(join(layout.dir, 'parties', p.id, 'identity.key'), false),
              stallMs: 60_000,
            }),
          );
        }
        return {
          ...layout.roster,
          parties: layout.roster.parties.map((p) => ({ ...p, url: proxies.get(p.id)!.url })),
        };
      },
    });
    proxied = cluster.layout.roster;
    pub = (await cluster.dkg('dkg-liars')).publicPackage;
    writeFileSync(
      join(cluster.dir, 'public-package.json'),
      JSON.stringify(PublicKeyPackageCodec.toJSON(suite().id, pub), null, 2),
    );
    gw = await startAaps({
      command: 'gateway',
      dataDir: cluster.dir,
      port: await freePort(),
      // Three liars never go away: fail each incident after 2 s of retries, not the default 30.
      env: { AAPS_API_TOKEN: `fault-liars-${SEED}`, AAPS_STEP_RETRY_SECONDS: '2' },
    });
    api = gatewayApi(gw.url, gw.token);
  }, 90_000);

  afterAll(async () => {
    await killAllAaps();
    await Promise.all([...(proxies?.values() ?? [])].map((p) => p.close()));
    await cluster?.stopAll();
    cluster?.remove();
    if (figures.length)
      recordResult({
        suite: 'liars',
        order: 2,
        title: 'Dropouts and liars',
        command: reproduce('test/fault/liars.fault.test.ts'),
        figures,
        notes: [
          'n = 5, k = 3. Liars answer through an HTTP proxy that corrupts a share or swaps the commitment points and re-signs the answer with the party identity key; stalls hold the answer past the 2.5 s coordinator timeout; drops cut the connection; stopped parties are SIGKILLed.',
          'The session-level runs ask the faulty parties first, so every approval meets them.',
          'Aggregation: one liar is always among the first t parties, whose result shares the coordinator opens first; a failed opening makes it check every share, so every liar is named. A liar whose shares are never used (all liars outside the first t) is neither needed nor named.',
          'Found while writing this suite: the session checks shares one by one only when the aggregate fails, so two liars whose errors cancel (e.g. opposite one-bit flips) yield a valid signature over the approved message and are listed as signers, unnamed. The signature is still correct; the proxy now lies with random scalars.',
          ...notes,
        ],
      });
  });

  const rng = seededRng(SEED + 2);
  // Quality assurance holds a veto, so it is in every approval quorum: its faults make approvals
  // fail closed by design. The faulty parties are drawn from the other four.
  const others = () => {
    const qa = cluster.layout.roster.parties.find((p) => p.role === 'quality-assurance')!.id;
    return cluster.ids.filter((x) => x !== qa);
  };
  const two = () => {
    const a = rng.pick(others());
    const b = rng.pick(others().filter((x) => x !== a));
    return [a, b];
  };
  const scenarios: { name: string; faults: (ids: string[]) => Record<string, Fault> }[] = [
    { name: 'n-k stopped', faults: ([a, b]) => ({ [a!]: 'stopped', [b!]: 'stopped' }) },
    { name: 'n-k corrupt shares', faults: ([a, b]) => ({ [a!]: 'corrupt-share', [b!]: 'corrupt-share' }) },
    {
      name: 'n-k corrupt commitments',
      faults: ([a, b]) => ({ [a!]: 'corrupt-commitment', [b!]: 'corrupt-commitment' }),
    },
    { name: 'n-k stalling past the timeout', faults: ([a, b]) => ({ [a!]: 'stall', [b!]: 'stall' }) },
    { name: 'n-k dropping connections', faults: ([a, b]) => ({ [a!]: 'drop', [b!]: 'drop' }) },
    { name: 'one liar and one staller', faults: ([a, b]) => ({ [a!]: 'corrupt-share', [b!]: 'stall' }) },
  ];

  for (const sc of scenarios) {
    it(`${sc.name}: every approval completes, the faulty parties are named`, async () => {
      const faulty = two();
      await setFaults(sc.faults(faulty));
      const t = await signMany(sc.name.replace(/\W+/g, '-'), faulty, PER_SCENARIO);
      await setFaults({});
      figures.push(
        {
          name: `${sc.name}: approvals completed`,
          value: `${t.completed}/${PER_SCENARIO}`,
          goal: `${PER_SCENARIO}/${PER_SCENARIO}`,
        },
        {
          name: `${sc.name}: approvals naming every faulty party`,
          value: `${t.allNamed}/${PER_SCENARIO}`,
          goal: `${PER_SCENARIO}/${PER_SCENARIO}`,
        },
        { name: `${sc.name}: honest parties blamed`, value: t.honestBlamed, goal: 0 },
        { name: `${sc.name}: fault codes seen`, value: JSON.stringify(t.codes) },
      );
      expect(t.completed).toBe(PER_SCENARIO);
      expect(t.allNamed).toBe(PER_SCENARIO);
      expect(t.honestBlamed).toBe(0);
    }, 120_000);
  }

  for (const mode of ['corrupt-share', 'stopped'] as const) {
    it(`more than n-k faulty (${mode}): approvals fail closed with QUORUM_UNREACHABLE, no signature`, async () => {
      const faulty = [...two()];
      faulty.push(rng.pick(others().filter((x) => !faulty.includes(x))));
      await setFaults(Object.fromEntries(faulty.map((id) => [id, mode])));
      const t = await signMany(`over-${mode}`, faulty, PER_SCENARIO);
      await setFaults({});
      figures.push(
        {
          name: `3 of 5 ${mode}: approvals failed closed (QUORUM_UNREACHABLE)`,
          value: `${t.failedClosed}/${PER_SCENARIO}`,
          goal: `${PER_SCENARIO}/${PER_SCENARIO}`,
        },
        { name: `3 of 5 ${mode}: signatures produced`, value: t.completed, goal: 0 },
        { name: `3 of 5 ${mode}: honest parties blamed`, value: t.honestBlamed, goal: 0 },
      );
      expect(t.failedClosed).toBe(PER_SCENARIO);
      expect(t.completed).toBe(0);
      expect(t.honestBlamed).toBe(0);
    }, 120_000);
  }

  // Secret-shared aggregation (the weighted risk circuit): liars corrupt their result shares. Every
  // department derives its own score from the subject (no caller-supplied inputs in weighted-risk);
  // with the default policies (shop mapped to staging) each scores the formula, 40 (image_rollback
  // 25 + P2 5 + staging 10).
  const SUBJECT = {
    incident_id: `inc-liars-${SEED}`,
    action: 'image_rollback',
    namespace: 'shop',
    factors: { blast_radius: 1, urgency: 'P2', environment: 'staging' },
  } as const;
  /** 3*40 + 2*40 + 2*40 + 2*40 + 1*40 */
  const WEIGHTED = 400n;
  for (const n of [2, 3] as const) {
    it(`aggregation with ${n} parties lying about their result shares: ${n === 2 ? 'opens correctly, liars named' : 'fails closed, liars named'}`, async () => {
      // Liars among the first t parties (in roster order), whose shares the opening tries first:
      // the coordinator checks every share only when that opening fails, so a liar whose shares
      // are never used is not named (nor needed).
      const firstT = cluster.ids.slice(0, 3);
      const liars = n === 3 ? firstT : [rng.pick(firstT)];
      if (n === 2) liars.push(rng.pick(cluster.ids.filter((x) => !liars.includes(x))));
      await setFaults(Object.fromEntries(liars.map((id) => [id, 'corrupt-aggregation'])));
      const client = cluster.client({ roster: proxied, timeoutMs: 30_000 });
      let opened: bigint | undefined;
      let named: string[] = [];
      let code = 'OK';
      try {
        const out = await runAggregationOverHttp(client, {
          circuitId: 'weighted-risk',
          sessionId: `agg-liars-${n}-${SEED}`,
          inputs: {},
          derive: SUBJECT,
        });
        opened = out.result.weighted_risk as bigint;
        named = out.culprits;
      } catch (e) {
        code = (e as AapsError).code;
        named = partyIdsOf(cluster.layout.roster, (e as ProtocolError).culprits ?? []);
      }
      await setFaults({});
      const allNamed = liars.every((l) => named.includes(l));
      const honestNamed = named.filter((x) => !liars.includes(x)).length;
      figures.push(
        n === 2
          ? {
              name: 'aggregation, 2 liars: opened value equals the plaintext weighted sum',
              value: String(opened === WEIGHTED),
              goal: 'true',
            }
          : {
              name: 'aggregation, 3 liars: outcome (no value opened)',
              value: `${code}, opened ${String(opened)}`,
            },
        { name: `aggregation, ${n} liars: every liar named`, value: String(allNamed), goal: 'true' },
        { name: `aggregation, ${n} liars: honest parties named`, value: honestNamed, goal: 0 },
      );
      if (n === 2) expect(opened).toBe(WEIGHTED);
      else expect(opened).toBeUndefined();
      expect(allNamed).toBe(true);
      expect(honestNamed).toBe(0);
    }, 120_000);
  }

  const post = async (n: number): Promise<string[]> => {
    const ids: string[] = [];
    for (let i = 0; i < n; i++) {
      const r = await api.post<{ incident_id: string }>('/v1/incidents', incidentSignal('image', 'liars'));
      expect(r.status, r.text).toBe(202);
      ids.push(r.body.incident_id);
    }
    return ids;
  };

  it('through the gateway, two lying parties: every incident resolves, liars named, not among the signers', async () => {
    // The first two parties in key-set order: the gateway's first quorum always asks them.
    const liars = cluster.ids.slice(0, 2);
    await setFaults(Object.fromEntries(liars.map((id) => [id, 'corrupt-share'])));
    const ids = await post(GATEWAY_INCIDENTS);
    const done = await waitSettled(api, ids, 60_000 + GATEWAY_INCIDENTS * 5_000, { evidence: true });
    await setFaults({});
    let resolved = 0;
    let named = 0;
    let liarSigned = 0;
    for (const id of ids) {
      const inc = done.get(id)!;
      if (inc.state === 'resolved' && inc.evidence_id) resolved++;
      const mis = new Set((inc.decision?.approval?.misbehaved ?? []).map((m) => m.party));
      if (liars.every((l) => mis.has(l))) named++;
      const ev = await api.get<{ verificationMaterial?: { signers?: string[] } }>(
        `/v1/evidence/${inc.evidence_id}`,
      );
      const signers = [
        ...(inc.decision?.approval?.signers ?? []),
        ...(ev.body.verificationMaterial?.signers ?? []),
      ];
      if (signers.some((s) => liars.includes(s))) liarSigned++;
    }
    figures.push(
      {
        name: 'gateway, 2 lying parties: incidents resolved with evidence',
        value: `${resolved}/${ids.length}`,
        goal: `${ids.length}/${ids.length}`,
      },
      {
        name: 'gateway, 2 lying parties: incidents naming both liars (decision.approval.misbehaved)',
        value: `${named}/${ids.length}`,
        goal: `${ids.length}/${ids.length}`,
      },
      {
        name: 'gateway, 2 lying parties: liars among approval or evidence signers',
        value: liarSigned,
        goal: 0,
      },
    );
    expect(resolved).toBe(ids.length);
    expect(named).toBe(ids.length);
    expect(liarSigned).toBe(0);
  }, 180_000);

  it('through the gateway, three lying parties: incidents fail closed, nothing executes; then it recovers', async () => {
    const liars = cluster.ids.slice(0, 3);
    await setFaults(Object.fromEntries(liars.map((id) => [id, 'corrupt-share'])));
    const ids = await post(Math.max(2, Math.floor(GATEWAY_INCIDENTS / 2)));
    const done = await waitSettled(api, ids, 60_000 + ids.length * 10_000);
    await setFaults({});
    let failed = 0;
    let executed = 0;
    const states: Record<string, number> = {};
    for (const id of ids) {
      const inc: IncidentView = done.get(id) ?? (await api.get<IncidentView>(`/v1/incidents/${id}`)).body;
      states[inc.state] = (states[inc.state] ?? 0) + 1;
      if (inc.state === 'failed') failed++;
      if (
        inc.execution ||
        (inc.timeline ?? []).some((e) => e.event === 'execution_started' || e.event === 'executed')
      )
        executed++;
    }
    // Honest again: a new incident resolves.
    const [after] = await post(1);
    const back = (await waitSettled(api, [after!], 60_000, { evidence: true })).get(after!);
    figures.push(
      {
        name: 'gateway, 3 lying parties: incidents failed closed',
        value: `${failed}/${ids.length}`,
        goal: `${ids.length}/${ids.length}`,
      },
      { name: 'gateway, 3 lying parties: incidents with any execution', value: executed, goal: 0 },
      { name: 'gateway, 3 lying parties: final states', value: JSON.stringify(states) },
      {
        name: 'gateway, honest again: next incident resolved',
        value: String(back?.state === 'resolved'),
        goal: 'true',
      },
    );
    expect(failed).toBe(ids.length);
    expect(executed).toBe(0);
    expect(back?.state).toBe('resolved');
  }, 240_000);

  it('through the gateway, quality assurance lying: approvals fail at once naming it, nothing executes', async () => {
    // Quality assurance is in every approval quorum (its veto): no approval can be made without
    // it, so one that cheats fails the incident, named, instead of being waited for as if down.
    const qa = cluster.layout.roster.parties.find((p) => p.role === 'quality-assurance')!.id;
    await setFaults({ [qa]: 'corrupt-share' });
    const [id] = await post(1);
    const done = await waitSettled(api, [id!], 60_000);
    await setFaults({});
    const inc = done.get(id!) ?? (await api.get<IncidentView>(`/v1/incidents/${id}`)).body;
    const reason = (inc as IncidentView & { reason?: { code: string; message: string } | null }).reason;
    const executed = (inc.timeline ?? []).some((e) => e.event === 'execution_started');
    figures.push(
      { name: 'gateway, quality assurance lying: incident state', value: inc.state, goal: 'failed' },
      {
        name: 'gateway, quality assurance lying: reason names it',
        value: String(reason?.code === 'INVALID_SIGNATURE_SHARE' && reason.message.includes(qa)),
        goal: 'true',
      },
      { name: 'gateway, quality assurance lying: executed', value: String(executed), goal: 'false' },
    );
    expect(inc.state).toBe('failed');
    expect(reason?.code).toBe('INVALID_SIGNATURE_SHARE');
    expect(executed).toBe(false);
  }, 120_000);
});
