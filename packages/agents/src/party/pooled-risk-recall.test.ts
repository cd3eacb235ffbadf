/**
 * The pooled-risk ledger behind the party's routes (docs/aggregation.md, "One dealing per session
 * id"): the store is the ledger for the 30-day retention window, memory only its newest rounds. A
 * party restarted with 10,000 newer rounds in its store does not hold an older round at start, yet
 * binds it in strategy's step (`agent.step`) and signs an approval citing it (`sign.round2`), each
 * reading the cited round back by key, and refuses it once the window is past, with the rule a
 * round never confirmed gets.
 *
 * Driven through real party apps (app.request via the in-process client) over real LevelDB.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  encodeAggregationRecordJson,
  getCiphersuite,
  loadFastBackends,
  Round1CommitmentBatchCodec,
  SecretBytes,
  type SignedEnvelope,
  trustedDealer,
} from '@aaps/mpc-core';
import { Level } from 'level';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runAggregationOverHttp } from '../aggregate.js';
import type { PartyClient } from '../client.js';
import { signBacking } from '../policy/backing.js';
import { type AggregationRef, buildApprovalProposal } from '../policy/proposal.js';
import { combineRiskScores, computeRiskScore, type RiskFactors } from '../policy/risk.js';
import type { Policy } from '../policy/schema.js';
import type { FixProposal } from '../steps/problem-solver.js';
import type { ApprovalDecisionPayload } from '../steps/strategy.js';
import { PartyStore } from '../store/level.js';
import { createPartyApp, type PartyApp } from './app.js';
import type { PartyDeps } from './context.js';
import type { RiskSubject } from './pooled-risk.js';
import { DEALT_SESSION_RETENTION_MS } from './routes/aggregation.js';
import {
  approvalRoundTwo,
  evidenceRoundTwo,
  type FiveParties,
  fiveParties,
  inProcessClient,
  needsHumanStatement,
  partyDeps,
  saveDealtKey,
  strategyDecision,
} from './test-helpers/five-parties.js';

const suite = getCiphersuite('FROST-ED25519-SHA512-v1');
const DAY = 24 * 3_600_000;
/** Strategy, quality assurance (the veto holder) and audit: a quorum every party accepts. */
const SIGNERS = [2, 3, 4];
const PROBLEM_SOLVER = 1;
const STRATEGY = 2;
// Every department's default policy weighs namespace `shop` as production: as declared here.
const FACTORS: RiskFactors = { blast_radius: 1, urgency: 'P2', environment: 'production' };
const SUBJECT: RiskSubject = {
  incident_id: 'inc-old',
  action: 'image_rollback',
  namespace: 'shop',
  factors: FACTORS,
};

let dir: string;
const stores: PartyStore[] = [];
let set: FiveParties;
let apps: PartyApp[];
let client: PartyClient;
/** Each party's deps and the path and key of the store it signs from (reopened on restart). */
const parties: { deps: PartyDeps; path: string; kek: SecretBytes }[] = [];
let sessions = 0;
let groupPublicKey: Uint8Array;

beforeAll(async () => {
  await loadFastBackends();
  dir = mkdtempSync(join(tmpdir(), 'aaps-ledger-recall-'));
  // As `dealtPartyApps`, with each party on a store this test can reopen (its path and key).
  set = fiveParties();
  const dealt = trustedDealer(suite, set.roster.threshold);
  groupPublicKey = dealt.publicPackage.groupPublicKey;
  apps = [];
  for (let i = 0; i < 5; i++) {
    const path = join(dir, `party-${i}`);
    const kek = new SecretBytes(new Uint8Array(32).fill(i + 1));
    const store = await PartyStore.open(path, kek, set.roster.parties[i]!.id);
    stores.push(store);
    const deps = { ...(await partyDeps(set, i, { dir, stores })), store };
    await saveDealtKey(store, set, dealt, i);
    parties[i] = { deps, path, kek };
    apps.push(await createPartyApp(deps));
  }
  client = inProcessClient(set, apps);
}, 60_000);

afterAll(async () => {
  await Promise.all(stores.map((s) => s.close()));
  rmSync(dir, { recursive: true, force: true });
});

/**
 * Restart party `i` as `aaps up` would after a stop: its store closed, `newer` confirmed rounds
 * written into it after the ones it holds (as `saveConfirmedAggregation` lays them out, in bulk),
 * then a fresh app over it, with `now` as its clock.
 */
async function restart(i: number, newer: number, now: () => Date, policy?: Policy): Promise<void> {
  const { deps } = parties[i]!;
  await deps.store.close();
  const db = new Level<string, string>(parties[i]!.path);
  const start = Date.now() + 60_000;
  for (let j = 0; j < newer; j += 2500) {
    const ops: { type: 'put'; key: string; value: string }[] = [];
    for (let k = j; k < Math.min(newer, j + 2500); k++) {
      const at = start + k;
      const entry = { circuit: 'weighted-risk', digest: 'ee'.repeat(32), value: 1, subject: SUBJECT };
      ops.push(
        {
          type: 'put',
          key: `aggc/newer-${k}`,
          value: JSON.stringify({ at: new Date(at).toISOString(), entry }),
        },
        { type: 'put', key: `agg-at/${String(at).padStart(16, '0')}/newer-${k}`, value: '' },
      );
    }
    await db.batch(ops);
  }
  await db.close();
  const store = await PartyStore.open(parties[i]!.path, parties[i]!.kek, deps.self.id);
  stores.push(store);
  const restarted = { ...deps, store, now, ...(policy === undefined ? {} : { policy }) };
  parties[i]!.deps = restarted;
  apps[i] = await createPartyApp(restarted);
}

const id = (i: number) => set.roster.parties[i]!.id;
const signer = (i: number) => ({ id: id(i), key: set.keys[i]! });

/** The proposal strategy binds the round `ref` into, backed as the solver and strategy sign it. */
function approvalCiting(ref: AggregationRef) {
  const proposal = buildApprovalProposal({
    incident_id: SUBJECT.incident_id,
    action: 'image_rollback',
    target: 'deployment://shop/web',
    parameters: {
      basis: 'deployment_history',
      container: 'web',
      to_image: `registry.example/shop/web@sha256:${'cd'.repeat(32)}`,
    },
    evidence_refs: [`incident://${SUBJECT.incident_id}/signal`],
    risk: {
      score: combineRiskScores(computeRiskScore('image_rollback', FACTORS), ref.value),
      method: 'aaps.risk.v1',
      factors: FACTORS,
      aggregation_ref: ref,
    },
  });
  return {
    proposal,
    backing: signBacking(proposal, { fix: signer(PROBLEM_SOLVER), decision: signer(STRATEGY) }),
  };
}

/** The strategy party's own step on the fix pooled in SUBJECT, binding the round `ref`. */
async function strategyOn(ref: AggregationRef): Promise<ApprovalDecisionPayload> {
  const fix: FixProposal = {
    rank: 1,
    action: 'image_rollback',
    target: 'deployment://shop/web',
    parameters: {
      basis: 'deployment_history',
      container: 'web',
      to_image: `registry.example/shop/web@sha256:${'cd'.repeat(32)}`,
    },
    rationale: 'roll back',
    evidence_refs: [`incident://${SUBJECT.incident_id}/signal`],
    executor: 'maintenance',
    requires_human_approval: false,
    blast_radius: FACTORS.blast_radius,
  };
  const out = await client.call<{ envelopes: SignedEnvelope[] }>(
    id(STRATEGY),
    'agent.step',
    `${SUBJECT.incident_id}:strategy-${sessions++}`,
    {
      request: {
        role: 'strategy',
        input: {
          incident_id: SUBJECT.incident_id,
          urgency: 'P2',
          fix,
          environment: 'production',
          pooled: ref,
        },
      },
      context: {
        namespace: 'shop',
        cluster: 'prod-eu-1',
        urgency: 'P2',
        constraints_ref: 'policy://risk/v1',
      },
    },
  );
  return out.envelopes[0]!.payload as unknown as ApprovalDecisionPayload;
}

/** Each signer's round two on the approval citing `ref`: `signed`, or the rule it refused under. */
function signAll(ref: AggregationRef, by = client): Promise<string[]> {
  const { proposal, backing } = approvalCiting(ref);
  return approvalRoundTwo(by, SIGNERS.map(id), `recall-${sessions++}`, proposal, backing);
}

describe('a pooled round older than what the party holds in memory (party routes, real LevelDB)', () => {
  it('is signed for after a restart with 10,000 newer rounds, and refused once its 30 days are up', async () => {
    const out = await runAggregationOverHttp(client, {
      circuitId: 'weighted-risk',
      sessionId: 'risk-old',
      inputs: {},
      derive: SUBJECT,
      confirm: true,
    });
    expect(out.confirmed).toEqual(set.roster.parties.map((p) => p.id));
    const ref: AggregationRef = {
      circuit: 'weighted-risk',
      session_id: 'risk-old',
      output_digest: out.digest,
      value: out.pooledRisk!,
    };
    // Control: right after pooling, from memory.
    expect(await signAll(ref)).toEqual(['signed', 'signed', 'signed']);
    // The signers restart with 10,000 newer rounds in their stores: the ledger's memory (the
    // newest 10,000) does not hold risk-old, which the store still keeps.
    for (const i of SIGNERS) await restart(i, 10_000, () => new Date());
    for (const i of SIGNERS) {
      const kept = await parties[i]!.deps.store.confirmedAggregation('risk-old');
      expect(kept?.[0]).toMatchObject({ digest: out.digest, value: ref.value });
    }
    // Strategy's step binding the round (its `pooled` input) reads it back, and so does each
    // signer's round two on the proposal citing it.
    expect(await strategyOn(ref)).toMatchObject({
      decision: 'auto',
      proposal: { risk: { aggregation_ref: ref } },
    });
    expect(await signAll(ref)).toEqual(['signed', 'signed', 'signed']);
    // Another value for the same round is still refused: read back, it is compared as before.
    expect(await signAll({ ...ref, value: ref.value + 1 })).toEqual([
      'risk.aggregation_unverified',
      'risk.aggregation_unverified',
      'risk.aggregation_unverified',
    ]);
    // Past the retention window (no claim has pruned the record yet): refused as stale, a round
    // the party confirmed for this proposal that no longer counts (the gateway pools again on it),
    // not as one never confirmed. Another value for it is still unverified.
    const late = new Date(Date.now() + DEALT_SESSION_RETENTION_MS + DAY);
    for (const i of SIGNERS) await restart(i, 0, () => late);
    const lateClient = inProcessClient(set, apps, { now: () => late });
    expect(await signAll(ref, lateClient)).toEqual([
      'risk.aggregation_stale',
      'risk.aggregation_stale',
      'risk.aggregation_stale',
    ]);
    expect(await signAll({ ...ref, value: ref.value + 1 }, lateClient)).toEqual([
      'risk.aggregation_unverified',
      'risk.aggregation_unverified',
      'risk.aggregation_unverified',
    ]);
  }, 120_000);
});

/**
 * Party `p`'s round two over the evidence of SUBJECT's incident, whose strategy decision cites
 * `ref` and whose bundle carries `record`: `signed`, or what it refused with.
 */
async function evidenceBy(p: number, ref: AggregationRef, record: unknown): Promise<string> {
  const { proposal } = approvalCiting(ref);
  const incident = SUBJECT.incident_id;
  const transcript = [JSON.parse(JSON.stringify(strategyDecision(set, incident, proposal, 'pooled')))];
  const signers = [p, (p + 1) % 5, (p + 2) % 5].sort((a, b) => a - b);
  const payload = needsHumanStatement(set, {
    incident,
    proposal,
    transcript,
    signers: signers.map(id),
    groupPublicKey,
    aggregation: record,
  });
  const session = `ev-${sessions++}`;
  const commitments = await Promise.all(
    signers.map(async (i) => {
      const drawn = await client.call<{ commitments: unknown }>(id(i), 'sign.commit', session, { count: 1 });
      return Round1CommitmentBatchCodec.fromJSON(drawn.commitments, suite.id).value.commitments[0]!;
    }),
  );
  return evidenceRoundTwo(client, id(p), session, commitments, payload, transcript).then(
    () => 'signed',
    (e: unknown) => (e as { rule?: string }).rule ?? `error: ${String(e)}`,
  );
}

describe('a pooled round after a department changed how it scores risk (party routes, real LevelDB)', () => {
  it('is refused by the party whose risk view changed, signed for by the others, and again by it once its view is back', async () => {
    // The signers back on the present clock (the test before leaves them past the window).
    for (const i of SIGNERS) await restart(i, 0, () => new Date());
    const out = await runAggregationOverHttp(client, {
      circuitId: 'weighted-risk',
      sessionId: 'risk-view',
      inputs: {},
      derive: SUBJECT,
      confirm: true,
    });
    const ref: AggregationRef = {
      circuit: 'weighted-risk',
      session_id: 'risk-view',
      output_digest: out.digest,
      value: out.pooledRisk!,
    };
    expect(await signAll(ref)).toEqual(['signed', 'signed', 'signed']);
    // Quality assurance (a signer, the veto holder) restarts with a risk view of its own: it would
    // score this subject otherwise, so the pooled score no longer stands for its department.
    const qa = SIGNERS[1]!;
    const before = parties[qa]!.deps.policy;
    await restart(qa, 0, () => new Date(), { ...before, risk: { weight_percent: 150, offset: 0 } });
    // Its own refusal rule (risk.aggregation_stale), on which the gateway pools again; a
    // reference it never confirmed is still risk.aggregation_unverified.
    expect(await signAll(ref)).toEqual(['signed', 'risk.aggregation_stale', 'signed']);
    expect(await signAll({ ...ref, session_id: 'risk-never-pooled' })).toEqual([
      'risk.aggregation_unverified',
      'risk.aggregation_unverified',
      'risk.aggregation_unverified',
    ]);
    // Evidence records what was decided: the party still signs the bundle carrying the round.
    const record = JSON.parse(encodeAggregationRecordJson(out.record));
    expect(await evidenceBy(qa, ref, record)).toBe('signed');
    // Its policy back as it was: the round stands again for it (a restart alone changes nothing).
    await restart(qa, 0, () => new Date(), before);
    expect(await signAll(ref)).toEqual(['signed', 'signed', 'signed']);
  }, 120_000);
});
