/**
 * What ties a bundle's aggregation record to the incident (the `aggregation` check). A record is
 * evidence of one thing only: the departments' pooled risk score that the approved proposal cites
 * in `risk.aggregation_ref = {circuit, session_id, output_digest, value}`. So a bundle carries a
 * record exactly when that proposal cites one, and the record must be the cited one: its canonical
 * SHA-256 is `output_digest`, its session is `session_id`, its opened pooled score is `value`, its
 * circuit is the shipped pooled-risk circuit (pinned here by digest), and it ran over as many
 * distinct parties as the roster has, under the group's threshold and ciphersuite (the roster
 * carries no FROST indexes to compare identifiers with: each signing party's ledger vouches).
 *
 * The proposal is the one the transcript says was approved: every `ExecutionOrder`'s
 * `payload.proposal` (group-signed: `approval.signature`, which also holds it to the predicate's
 * `decision.proposal_digest`) and the proposal of strategy's decision, the last `ApprovalDecision`
 * carrying one that a roster party signed (taken from the signed transcript, not from the
 * predicate, so a writer cannot point the check elsewhere). They must all cite the same
 * aggregation, or none.
 *
 * Only a party's decision is strategy's. A roster approver signs `ApprovalDecision`s too (a
 * person's approval or rejection, POST /v1/approvals), but a person decides on a proposal named by
 * its `proposal_digest`, never on pooled risk: a `proposal` such a decision carries is not part of
 * what it says (the gateway's intake refuses one), so the binding ignores it rather than failing
 * the bundle over it. An approver can thus neither point the check at another record nor make it
 * fail. Which party is strategy the verifier cannot tell (its roster lists ids and keys, no roles;
 * a party may sign any workflow message, transcript.ts), so any party's decision counts; the
 * parties' ids and keys are the ones the transcript's signatures were checked against.
 *
 * A cited aggregation must be in the bundle, except when nothing acted on it: no order executes the
 * proposal and strategy refused it (`decision: "refuse"`, e.g. for a reference it could not
 * confirm, `risk.aggregation_unverified`). Such a bundle may leave the record out (the writer may
 * hold none that matches a forged reference); a record it does carry is still bound.
 *
 * Both sides find the citation with {@link citedAggregation}, under the roster they checked the
 * transcript's signatures with. The verifier runs {@link checkAggregationBinding} on the record; a
 * party about to sign evidence runs {@link checkSignedAggregation} on the Statement (it sees the
 * record's digest only, and compares the cited session with the one it confirmed itself).
 */
import { canonicalBytes, canonicalize } from '@aaps/mpc-core/verifier';
import { EXECUTION_ORDER } from './approval.js';
import { isHexOf, sha256Hex } from './encoding.js';
import { fail } from './errors.js';
import { type IncidentPredicate, isObject, type Threshold, type VerifierRoster } from './statement.js';

/** The id of the circuit pooled risk runs on. */
export const POOLED_RISK_CIRCUIT_ID = 'weighted-risk';
/**
 * SHA-256 (hex) of the RFC 8785 canonical JSON of the shipped `circuits/weighted-risk.json` in
 * normalized form (mpc-core `loadCircuit(...).digestHex`, what a record embeds). A record under any
 * other circuit, whatever its id, is not pooled-risk evidence. Tests in this package and in the
 * agents' sign route hold it equal to the file and to the circuit the parties load.
 */
export const POOLED_RISK_CIRCUIT_SHA256 = '56fc1d42f0565dbfa04206b17e46e0c2b367ef05914bf3d06f781a5c098691d5';
/**
 * Earlier versions of the shipped circuit, whose records are still pooled-risk evidence: bundles
 * sealed before a circuit change must keep verifying. `weighted-risk` version 1 is version 2
 * without `excluded` (the value an excluded department's input takes); its rounds could exclude
 * nobody. Tests hold each digest to the shipped file with that change undone.
 */
export const POOLED_RISK_CIRCUIT_EARLIER_SHA256: readonly string[] = Object.freeze([
  '63b70b402124d1b9e3cb22b3e9ea52f1a4f976912dfd240304331a4f9ff76836',
]);
/** The sum of the pinned circuit's output weights: the pooled score is the weighted sum over it. */
export const POOLED_RISK_WEIGHT_SUM = 10n;

export const APPROVAL_DECISION = 'ApprovalDecision';
/** A strategy decision that acted on nothing (packages/agents `StrategyDecision`). */
const STRATEGY_REFUSED = 'refuse';

/** A proposal's `risk.aggregation_ref` (packages/agents `AggregationRef`). */
export interface AggregationRef {
  circuit: string;
  session_id: string;
  /** Hex SHA-256 of the record's canonical JSON. */
  output_digest: string;
  /** The opened pooled score, 0..100. */
  value: number;
}

/** The aggregation the approved proposal cites, and that proposal. */
export interface CitedAggregation {
  ref: AggregationRef;
  /**
   * Whether the bundle must carry the record: an order executes the proposal, or strategy did not
   * refuse it. False only for a proposal nothing acted on.
   */
  required: boolean;
  /** The proposal citing it (an order's, else the decision's), as the transcript carries it. */
  proposal: Record<string, unknown>;
  /** Where it sits, e.g. `ExecutionOrder transcript[5]`. */
  at: string;
}

const typeOf = (e: unknown) => (e as { meta?: { message_type?: unknown } } | null)?.meta?.message_type;
const payloadOf = (e: unknown) => (e as { payload?: unknown } | null)?.payload;

const sourceOf = (e: unknown) => (e as { meta?: { source_agent?: unknown } } | null)?.meta?.source_agent;

/** The transcript's approved proposals, with where each sits (see the module comment). */
function approvedProposals(
  transcript: readonly unknown[],
  roster: VerifierRoster,
): { proposal: Record<string, unknown>; at: string; acted: boolean }[] {
  const out: { proposal: Record<string, unknown>; at: string; acted: boolean }[] = [];
  transcript.forEach((e, i) => {
    const p = payloadOf(e);
    if (typeOf(e) === EXECUTION_ORDER && isObject(p) && isObject(p.proposal))
      out.push({ proposal: p.proposal, at: `ExecutionOrder transcript[${i}]`, acted: true });
  });
  // Strategy's decision is the last one a party signed carrying a proposal (the gateway decides on
  // it). An approver's decision is a person's, whatever it carries: skipped, never strategy's.
  // Found by position, not by the predicate's word.
  for (let i = transcript.length - 1; i >= 0; i--) {
    const e = transcript[i];
    const p = payloadOf(e);
    if (typeOf(e) !== APPROVAL_DECISION || !isObject(p) || !isObject(p.proposal)) continue;
    const source = sourceOf(e);
    if (!roster.parties.some((m) => m.id === source)) continue;
    out.push({
      proposal: p.proposal,
      at: `ApprovalDecision transcript[${i}]`,
      acted: p.decision !== STRATEGY_REFUSED,
    });
    break;
  }
  return out;
}

/** A proposal's `risk.aggregation_ref` checked for shape; `undefined` when it cites none. */
function refOf(proposal: Record<string, unknown>, at: string): AggregationRef | undefined {
  const risk = proposal.risk;
  if (!isObject(risk) || risk.aggregation_ref === undefined) return undefined;
  const ref = risk.aggregation_ref;
  const ok =
    isObject(ref) &&
    typeof ref.circuit === 'string' &&
    typeof ref.session_id === 'string' &&
    isHexOf(ref.output_digest, 32) &&
    Number.isSafeInteger(ref.value) &&
    (ref.value as number) >= 0 &&
    (ref.value as number) <= 100;
  if (!ok) {
    fail('aggregation', `${at}: risk.aggregation_ref is not {circuit, session_id, output_digest, value}`, {
      at,
    });
  }
  return {
    circuit: ref.circuit as string,
    session_id: ref.session_id as string,
    output_digest: (ref.output_digest as string).toLowerCase(),
    value: ref.value as number,
  };
}

/**
 * The aggregation the transcript's approved proposals cite, or `undefined` when they cite none (or
 * there is no approved proposal). `roster` is the one the transcript's signatures were checked
 * against (the verifier's trusted roster, or the signing party's own): its parties are the ones
 * whose `ApprovalDecision` can be strategy's. Throws `aggregation` when they disagree, when a
 * reference is malformed, or when it names another circuit than pooled risk's, and when the
 * predicate's `decision.pooled`, if stated, says otherwise.
 */
export function citedAggregation(
  transcript: readonly unknown[],
  predicate: IncidentPredicate,
  roster: VerifierRoster,
): CitedAggregation | undefined {
  const cited = approvedProposals(transcript, roster).map((p) => ({ ...p, ref: refOf(p.proposal, p.at) }));
  const first = cited[0];
  const key = (r: AggregationRef | undefined) => (r === undefined ? 'none' : canonicalize({ ...r }));
  const other = cited.find((c) => key(c.ref) !== key(first?.ref));
  if (first !== undefined && other !== undefined) {
    fail('aggregation', `${first.at} and ${other.at} cite different aggregations (risk.aggregation_ref)`, {
      at: [first.at, other.at],
    });
  }
  const pooled = predicate.decision.pooled;
  const cites = first?.ref !== undefined;
  if (pooled !== undefined && pooled !== cites) {
    fail(
      'aggregation',
      `predicate.decision.pooled is ${String(pooled)} but the approved proposal ${cites ? 'cites' : 'cites no'} aggregation`,
      { pooled },
    );
  }
  if (first?.ref === undefined) return undefined;
  if (first.ref.circuit !== POOLED_RISK_CIRCUIT_ID) {
    fail(
      'aggregation',
      `${first.at} cites circuit ${first.ref.circuit}; only ${POOLED_RISK_CIRCUIT_ID} (pooled risk) is evidence`,
      { at: first.at, circuit: first.ref.circuit },
    );
  }
  return { ref: first.ref, proposal: first.proposal, at: first.at, required: cited.some((c) => c.acted) };
}

/**
 * The rule both sides share: with nothing cited, no record (`holder`: the statement signs one, or
 * the bundle carries one); with a citation, a record unless nothing acted on the proposal. True
 * when the record is there and cited (to be checked against the citation). Throws `aggregation`.
 */
function mustCheck(
  present: boolean,
  cited: CitedAggregation | undefined,
  holder: 'the statement signs' | 'the bundle carries',
): cited is CitedAggregation {
  if (cited === undefined) {
    if (present) {
      fail(
        'aggregation',
        `${holder} an aggregation record but no approved proposal cites one (risk.aggregation_ref)`,
      );
    }
    return false;
  }
  if (!present && cited.required) {
    const { ref, at } = cited;
    fail('aggregation', `${at} cites aggregation ${ref.session_id} but ${holder} no record`, {
      session_id: ref.session_id,
    });
  }
  return present;
}

/**
 * The Statement's side (what a party signs): `predicate.aggregation` is present when the approved
 * proposal cites an aggregation (it may be absent when nothing acted on the proposal), never
 * otherwise, and it is the cited `output_digest`. Throws `aggregation`.
 */
export function checkSignedAggregation(
  predicate: IncidentPredicate,
  cited: CitedAggregation | undefined,
): void {
  const signed = predicate.aggregation;
  if (!mustCheck(signed !== null, cited, 'the statement signs') || signed === null) return;
  const { ref, at } = cited;
  if (signed.sha256 !== ref.output_digest) {
    fail('aggregation', `the signed record digest is not the output_digest ${at} cites`, {
      expected: ref.output_digest,
      actual: signed.sha256,
    });
  }
}

/**
 * The pooled score (0..100) a `weighted-risk` output stands for: the weighted mean of the
 * departments' scores, rounded up (the output is the weighted sum; `weightSum` the sum of the
 * weights, 10 in the pinned circuit). The parties compute the same with this function.
 */
export function pooledRiskValue(weightedSum: bigint, weightSum: bigint = POOLED_RISK_WEIGHT_SUM): number {
  if (weightSum <= 0n || weightedSum <= 0n) return 0;
  const mean = (weightedSum + weightSum - 1n) / weightSum;
  return mean > 100n ? 100 : Number(mean);
}

const DECIMAL = /^-?(?:0|[1-9][0-9]{0,77})$/;

/**
 * The record is the one `cited` names (see the module comment), or, with nothing cited, there is
 * no record. Checks the record as the bundle carries it (its JSON form); the cryptographic re-check
 * (`verifyAggregation`) is separate. Throws `aggregation`.
 */
export function checkAggregationBinding(
  record: Record<string, unknown> | undefined,
  cited: CitedAggregation | undefined,
  group: { ciphersuite: string; threshold: Threshold; roster: VerifierRoster },
): void {
  if (!mustCheck(record !== undefined, cited, 'the bundle carries') || record === undefined) return;
  const { ref, at } = cited;
  const digest = sha256Hex(canonicalBytes(record as never));
  if (digest !== ref.output_digest) {
    fail('aggregation', `the record's digest is not the output_digest ${at} cites`, {
      expected: ref.output_digest,
      actual: digest,
    });
  }
  if (record.sessionId !== ref.session_id) {
    fail('aggregation', `the record is for session ${String(record.sessionId)}, not ${ref.session_id}`, {
      expected: ref.session_id,
      actual: record.sessionId ?? null,
    });
  }
  const circuit =
    record.circuit === undefined ? undefined : sha256Hex(canonicalBytes(record.circuit as never));
  if (
    circuit === undefined ||
    (circuit !== POOLED_RISK_CIRCUIT_SHA256 && !POOLED_RISK_CIRCUIT_EARLIER_SHA256.includes(circuit))
  ) {
    fail('aggregation', `the record's circuit is not the shipped ${POOLED_RISK_CIRCUIT_ID} circuit`, {
      expected: POOLED_RISK_CIRCUIT_SHA256,
      actual: circuit ?? null,
    });
  }
  if (record.suite !== group.ciphersuite) {
    fail('aggregation', `the record is for ${String(record.suite)}, not the group's ${group.ciphersuite}`);
  }
  const parties = record.parties;
  const ids = Array.isArray(parties)
    ? new Set(parties.map((p) => (isObject(p) ? p.id : undefined)))
    : undefined;
  if (
    record.threshold !== group.threshold.min ||
    !Array.isArray(parties) ||
    parties.length !== group.roster.parties.length ||
    ids?.size !== parties.length
  ) {
    fail(
      'aggregation',
      `the record's session is not the roster's: ${group.roster.parties.length} distinct parties, threshold ${group.threshold.min}`,
      {
        threshold: record.threshold ?? null,
        parties: Array.isArray(parties) ? parties.length : null,
      },
    );
  }
  const outputs = record.outputs;
  const value = Array.isArray(outputs) && isObject(outputs[0]) ? outputs[0].value : undefined;
  if (typeof value !== 'string' || !DECIMAL.test(value)) {
    fail('aggregation', "the record's first output is not a scalar (decimal text)");
  }
  const pooled = pooledRiskValue(BigInt(value));
  if (pooled !== ref.value) {
    fail('aggregation', `the record opens pooled risk ${pooled}, not the ${ref.value} ${at} cites`, {
      expected: ref.value,
      actual: pooled,
    });
  }
}
