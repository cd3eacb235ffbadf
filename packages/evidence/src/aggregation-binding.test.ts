/**
 * The aggregation record a bundle carries is the one the approved proposal cites (review R4): the
 * verifier's `aggregation` check and a party's `evidence.aggregation` rule. The approved proposal
 * cites `{session_id: 'risk-real', output_digest: sha256(real record), value: 80}`; a writer that
 * puts any other record in the bundle (a made-up circuit under the id `weighted-risk`, another
 * session, another incident's genuine record) gets neither a party's share nor a valid report.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { canonicalBytes, loadCircuit } from '@aaps/mpc-core';
import { describe, expect, it } from 'vitest';
import {
  type AggregationRef,
  POOLED_RISK_CIRCUIT_EARLIER_SHA256,
  POOLED_RISK_CIRCUIT_SHA256,
  POOLED_RISK_WEIGHT_SUM,
  pooledRiskValue,
} from './aggregation-binding.js';
import { withAggregationRecheck } from './bundle/aggregation-recheck.js';
import { type BuildBundleInput, buildBundle } from './bundle/build.js';
import { createBundleVerifier } from './bundle/verify.js';
import { sha256Hex } from './encoding.js';
import { checkEvidenceForSigning, type EvidenceSigningInput } from './signing-check.js';
import type { JsonObject } from './statement.js';
import { makeEd25519Key, makeRoster, memberSigned } from './test-helpers/fixtures.js';
import {
  aggregationRecord,
  evidenceOffer,
  makePooledInput,
  type PooledOptions,
  refFor,
  SHIPPED_WEIGHTED_RISK,
} from './test-helpers/pooled.js';

const group = makeEd25519Key();
const r = makeRoster();
const real = aggregationRecord({ sessionId: 'risk-real', values: [80, 80, 80, 80, 80] });
const ref = refFor(real, 80);

/** A circuit of the writer's own making under the shipped id: every weight 1, every input 0..1. */
const forgedCircuit = {
  ...SHIPPED_WEIGHTED_RISK,
  description: 'not the shipped circuit',
  inputs: (SHIPPED_WEIGHTED_RISK.inputs as JsonObject[]).map((i) => ({
    ...i,
    range: { min: 0, max: 1 },
    excluded: { value: 1 },
  })),
  outputs: (SHIPPED_WEIGHTED_RISK.outputs as JsonObject[]).map((o) => ({
    ...o,
    terms: (o.terms as JsonObject[]).map((t) => ({ ...t, weight: 1 })),
  })),
};
const forged = aggregationRecord({
  circuit: forgedCircuit,
  sessionId: 'risk-made-up',
  values: [0, 0, 0, 0, 0],
});
const otherIncident = aggregationRecord({ sessionId: 'risk-other-incident', values: [0, 0, 0, 0, 0] });

const verifier = createBundleVerifier(
  withAggregationRecheck({ groupPublicKey: group.publicKey, requireLog: false }),
);
const plainVerifier = createBundleVerifier({ groupPublicKey: group.publicKey, requireLog: false });

/** What a party is offered for its evidence signature share, for `input`. */
const offerFor = (input: BuildBundleInput, confirmed?: EvidenceSigningInput['aggregationConfirmed']) =>
  evidenceOffer(input, group, r, confirmed);

/** A party's ledger: it confirmed `risk-real` with the real digest and value, nothing else. */
const ledger = (x: AggregationRef) =>
  x.session_id === ref.session_id && x.output_digest === ref.output_digest && x.value === ref.value;

const ruleOf = (input: EvidenceSigningInput) => {
  const out = checkEvidenceForSigning(input);
  return out.ok ? 'ok' : out.rule;
};

/** The verifier's failed check (`valid` when none) and the party's rule for the same evidence. */
async function outcome(o: PooledOptions, recheck = true) {
  const input = await makePooledInput(group, r, o);
  const bundle = await buildBundle(input, group.sign);
  const report = (recheck ? verifier : plainVerifier).report(bundle);
  return {
    verifier: report.failure?.check ?? 'valid',
    party: ruleOf(offerFor(input, ledger)),
    details: report.failure?.details,
  };
}

describe('the bundle carries the aggregation the approval cites (R4)', () => {
  it('accepts the true record, with and without the cryptographic re-check (control)', async () => {
    expect(await outcome({ ref, record: real })).toMatchObject({ verifier: 'valid', party: 'ok' });
    expect(await outcome({ ref, record: real }, false)).toMatchObject({ verifier: 'valid', party: 'ok' });
  });

  it("refuses a record under a made-up 'weighted-risk' circuit, another session, value 0", async () => {
    expect(await outcome({ ref, record: forged })).toMatchObject({
      verifier: 'aggregation',
      party: 'evidence.aggregation',
    });
  });

  it("refuses another incident's genuine record (the shipped circuit) replayed into this bundle", async () => {
    expect(await outcome({ ref, record: otherIncident })).toMatchObject({
      verifier: 'aggregation',
      party: 'evidence.aggregation',
    });
  });

  it('refuses a forged record even when the approved proposal cites it, by the pinned circuit', async () => {
    // Only the circuit gives it away (its digest, session and value are the ones cited); a party
    // refuses it for never having confirmed that session.
    const cited = refFor(forged, 0);
    expect(await outcome({ ref: cited, record: forged })).toMatchObject({
      verifier: 'aggregation',
      party: 'evidence.aggregation',
    });
    const report = plainVerifier.report(
      await buildBundle(await makePooledInput(group, r, { ref: cited, record: forged }), group.sign),
    );
    expect(report.failure?.details).toMatchObject({ expected: POOLED_RISK_CIRCUIT_SHA256 });
  });

  it('refuses a record whose session, pooled value or parties are not the cited ones', async () => {
    expect(await outcome({ ref: { ...ref, session_id: 'risk-other' }, record: real }, false)).toEqual({
      verifier: 'aggregation',
      party: 'evidence.aggregation',
      details: { expected: 'risk-other', actual: 'risk-real' },
    });
    expect(await outcome({ ref: { ...ref, value: 79 }, record: real }, false)).toEqual({
      verifier: 'aggregation',
      party: 'evidence.aggregation',
      details: { expected: 79, actual: 80 },
    });
    const small = aggregationRecord({ sessionId: 'risk-small', threshold: 2 });
    expect(await outcome({ ref: refFor(small, 80), record: small }, false)).toMatchObject({
      verifier: 'aggregation',
      details: { threshold: 2, parties: 5 },
    });
    const wide = aggregationRecord({ sessionId: 'risk-wide', parties: 6 });
    expect(await outcome({ ref: refFor(wide, 80), record: wide }, false)).toMatchObject({
      verifier: 'aggregation',
      details: { threshold: 3, parties: 6 },
    });
  });

  it('refuses a record that nothing cites, and a cited aggregation left out of the bundle', async () => {
    expect(await outcome({ ref: null, record: real })).toMatchObject({
      verifier: 'aggregation',
      party: 'evidence.aggregation',
    });
    expect(await outcome({ ref })).toMatchObject({ verifier: 'aggregation', party: 'evidence.aggregation' });
    // Nothing cited, nothing carried: the check is skipped.
    const input = await makePooledInput(group, r, { ref: null });
    const report = verifier.report(await buildBundle(input, group.sign));
    expect(report.checks.find((c) => c.check === 'aggregation')?.status).toBe('skip');
  });

  it('binds the record of an unexecuted decision, and lets only a refused one go without it', async () => {
    for (const strategyDecision of ['needs_human', 'refuse'] as const) {
      expect(await outcome({ ref, record: real, strategyDecision })).toMatchObject({
        verifier: 'valid',
        party: 'ok',
      });
      expect(await outcome({ ref, record: otherIncident, strategyDecision })).toMatchObject({
        verifier: 'aggregation',
        party: 'evidence.aggregation',
      });
    }
    // A person must decide on the pooled score: its record must be there.
    expect(await outcome({ ref, strategyDecision: 'needs_human' })).toMatchObject({
      verifier: 'aggregation',
      party: 'evidence.aggregation',
    });
    // The predicate's decision cannot point the check away from strategy's signed decision.
    const unbound = await makePooledInput(group, r, { ref, strategyDecision: 'needs_human' });
    // (It is refused before the binding: the decision is not strategy's signed one.)
    const elsewhere = { ...unbound, decision: { outcome: 'none', proposal_digest: 'ff'.repeat(32) } };
    expect(plainVerifier.report(await buildBundle(elsewhere, group.sign)).failure?.check).toBe(
      'transcript.outcome',
    );
    expect(ruleOf(offerFor(elsewhere, ledger))).toBe('evidence.outcome');
    // Strategy refused a reference no party confirmed: the writer holds no record that matches, and
    // the refusal is sealed without one (a party signs it, having no record to confirm).
    const forgedRef = { ...ref, session_id: 'risk-made-up', output_digest: 'ab'.repeat(32) };
    expect(await outcome({ ref: forgedRef, strategyDecision: 'refuse' })).toMatchObject({
      verifier: 'valid',
      party: 'ok',
    });
  });

  it('refuses a record put into a bundle whose Statement signs none (a refused proposal sealed without it)', async () => {
    const sealed = await buildBundle(
      await makePooledInput(group, r, { ref, strategyDecision: 'refuse' }),
      group.sign,
    );
    expect(verifier.report(sealed).valid).toBe(true);
    const added = { ...sealed, aggregation: real };
    expect(verifier.report(added).failure?.check).toBe('aggregation');
  });

  it('refuses a decision whose `pooled` contradicts the proposal, and a reference to another circuit', async () => {
    expect(await outcome({ ref, record: real, pooled: false })).toMatchObject({ verifier: 'aggregation' });
    expect(await outcome({ ref: null, pooled: true })).toMatchObject({ verifier: 'aggregation' });
    expect(await outcome({ ref: { ...ref, circuit: 'cost-total' }, record: real })).toMatchObject({
      verifier: 'aggregation',
      party: 'evidence.aggregation',
    });
  });

  it('a party signs only a record digest it confirmed itself for the proposal citing it', async () => {
    const input = await makePooledInput(group, r, { ref, record: real });
    const calls: unknown[][] = [];
    const spy = (x: AggregationRef, proposal: Record<string, unknown>) => {
      calls.push([x, proposal.incident_id]);
      return true;
    };
    expect(ruleOf(offerFor(input, spy))).toBe('ok');
    expect(calls).toEqual([[ref, 'inc-approved']]);
    expect(ruleOf(offerFor(input, () => false))).toBe('evidence.aggregation');
    const throwing = () => {
      throw new TypeError('malformed proposal');
    };
    expect(ruleOf(offerFor(input, throwing))).toBe('evidence.aggregation');
    // Without a ledger (an in-process coordinator) the Statement is still held to the reference.
    expect(ruleOf(offerFor(input))).toBe('ok');
    const swapped = await makePooledInput(group, r, { ref, record: otherIncident });
    expect(ruleOf(offerFor(swapped))).toBe('evidence.aggregation');
  });
});

/**
 * `input` with a decision appended to its transcript: `by` (a roster approver or party) signs an
 * `ApprovalDecision` carrying strategy's proposal re-pointed at `cites`; the bundle then carries
 * `record`, and the Statement signs its digest.
 */
function withLaterDecision(
  input: BuildBundleInput,
  by: { id: string; key: Parameters<typeof memberSigned>[0]['key'] },
  cites: AggregationRef,
  record: JsonObject,
): BuildBundleInput {
  const decided = input.transcript.find(
    (e) => (e as { meta: { message_type?: string } }).meta.message_type === 'ApprovalDecision',
  ) as { payload: { proposal: JsonObject } };
  const proposal = structuredClone(decided.payload.proposal);
  (proposal.risk as JsonObject).aggregation_ref = { ...cites };
  const later = memberSigned(by, 'ApprovalDecision', {
    approver_id: by.id,
    incident_id: proposal.incident_id,
    proposal_digest: proposal.proposal_digest,
    decision: 'approve',
    proposal,
  });
  // The predicate says what the transcript then holds (transcript.outcome): a person's approval
  // among its human approvals, or, from a party, strategy's latest decision.
  const byApprover = input.roster.approvers.some((a) => a.id === by.id);
  return {
    ...input,
    transcript: [...input.transcript, later],
    aggregation: record,
    ...(byApprover
      ? { humanApprovals: [...input.humanApprovals, later.payload as JsonObject] }
      : { decision: { outcome: 'approve', proposal_digest: proposal.proposal_digest!, pooled: true } }),
  };
}

describe("strategy's decision is a party's, never an approver's", () => {
  const other = refFor(otherIncident, 0);
  /** Both ledgers confirmed `other` too: only the binding can tell which record is strategy's. */
  const both = (x: AggregationRef) =>
    ledger(x) || (x.session_id === other.session_id && x.output_digest === other.output_digest);
  async function judged(input: BuildBundleInput) {
    const report = plainVerifier.report(await buildBundle(input, group.sign));
    return { verifier: report.failure?.check ?? 'valid', party: ruleOf(offerFor(input, both)) };
  }

  it("a person's decision citing another aggregation does not point the binding at it", async () => {
    // Strategy sent the proposal citing `risk-real` to a person; the person's signed decision
    // carries a proposal citing another incident's genuine record, and the bundle carries that one.
    const waiting = await makePooledInput(group, r, { ref, strategyDecision: 'needs_human' });
    const approver = r.approvers[0]!;
    expect(await judged(withLaterDecision(waiting, approver, other, otherIncident))).toEqual({
      verifier: 'aggregation',
      party: 'evidence.aggregation',
    });
    // The record strategy cited is still the one bound: the person's `proposal` is ignored.
    expect(await judged(withLaterDecision(waiting, approver, other, real))).toEqual({
      verifier: 'valid',
      party: 'ok',
    });
    // The same after an execution: the group-approved order and strategy agree, the person is not asked.
    const executed = await makePooledInput(group, r, { ref });
    expect(await judged(withLaterDecision(executed, approver, other, real))).toEqual({
      verifier: 'valid',
      party: 'ok',
    });
  });

  it("a roster party's later decision is still strategy's (the verifier's roster names no roles)", async () => {
    const waiting = await makePooledInput(group, r, { ref, strategyDecision: 'needs_human' });
    const party = r.parties[4]!;
    expect(await judged(withLaterDecision(waiting, party, other, otherIncident))).toEqual({
      verifier: 'valid',
      party: 'ok',
    });
    expect(await judged(withLaterDecision(waiting, party, other, real))).toMatchObject({
      verifier: 'aggregation',
      party: 'evidence.aggregation',
    });
  });
});

/**
 * `weighted-risk` version 1: the shipped file without what version 2 added (the `excluded`
 * substitutes, and the sentence on them in the description).
 */
const weightedRiskV1 = {
  ...SHIPPED_WEIGHTED_RISK,
  version: 1,
  description:
    'Weighted sum of department risk scores (0..100) with public weights; the weighted mean is weighted_risk / 10 (the sum of the weights).',
  inputs: (SHIPPED_WEIGHTED_RISK.inputs as JsonObject[]).map(({ excluded: _v2, ...input }) => input),
};

describe('evidence sealed under an earlier version of the pooled-risk circuit', () => {
  it('still verifies, and a party still lends its share to it', async () => {
    expect(loadCircuit(weightedRiskV1).digestHex).toBe(POOLED_RISK_CIRCUIT_EARLIER_SHA256[0]);
    const v1 = aggregationRecord({
      circuit: weightedRiskV1,
      sessionId: 'risk-v1',
      values: [70, 70, 70, 70, 70],
    });
    const cited = refFor(v1, 70);
    const input = await makePooledInput(group, r, { ref: cited, record: v1 });
    const report = verifier.report(await buildBundle(input, group.sign));
    expect(report.failure).toBeUndefined();
    const confirmedV1 = (x: AggregationRef) =>
      x.session_id === cited.session_id && x.output_digest === cited.output_digest && x.value === cited.value;
    expect(ruleOf(offerFor(input, confirmedV1))).toBe('ok');
  });
});

describe('the pinned pooled-risk circuit', () => {
  it('is the shipped circuits/weighted-risk.json (its normalized form, as records embed it)', () => {
    const file = join(import.meta.dirname, '../../../circuits/weighted-risk.json');
    const shipped = loadCircuit(JSON.parse(readFileSync(file, 'utf8')));
    expect(shipped.id).toBe('weighted-risk');
    expect(shipped.digestHex).toBe(POOLED_RISK_CIRCUIT_SHA256);
    expect(sha256Hex(canonicalBytes(real.circuit as JsonObject))).toBe(POOLED_RISK_CIRCUIT_SHA256);
    expect(shipped.outputs[0]!.terms.reduce((a, t) => a + t.weight, 0n)).toBe(POOLED_RISK_WEIGHT_SUM);
  });

  it('gives the pooled score as the agents do: the weighted mean rounded up, within 0..100', () => {
    expect([0n, 1n, 10n, 11n, 640n, 800n, 1000n, 1500n, -5n].map((v) => pooledRiskValue(v))).toEqual([
      0, 1, 1, 2, 64, 80, 100, 100, 0,
    ]);
  });
});
