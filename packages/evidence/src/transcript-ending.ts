/**
 * What the Statement may claim of how the incident ended: part of the `transcript.outcome` check
 * (a party refuses as `evidence.outcome`), which `aaps-verify` and a party about to co-sign
 * evidence both run. The gateway writes the predicate; the transcript's envelopes are signed by
 * the parties, the approvers and the gateway. So what the transcript determines, the predicate
 * must say:
 *
 * - the people's decisions: `humanApprovals` are exactly the approvals the roster's approvers
 *   signed into this transcript (each envelope's payload, in order), and
 *   `incident.human_rejection` is the approver's signed rejection there, or is absent without one;
 * - strategy's decision: `decision.outcome`, `proposal_digest`, `risk_score` and `rule` are those of
 *   the last `ApprovalDecision` a roster party signed (strategy's); without one, the decision names
 *   no strategy outcome nor proposal;
 * - the action: `null` unless something executed (an `ExecutionResult`); then the executed order's
 *   action and target and the quorum that approved it (`approved_by`, the order's signers), and the
 *   last result's status, executor and rollback (a bundle sealed before that rule may name
 *   strategy's decided proposal as `{name, target}` with nothing executed);
 * - the ending (`incident.state`, when the predicate states one): `rejected` after a person's
 *   rejection; after an execution, what its last result says (`rolled_back`, `failed`, or for a
 *   change in place `resolved` once quality assurance passed it, else `failed`); without one,
 *   `rejected`, `failed`, or `resolved` by its source (`times.resolved_by_source`);
 * - the audit party's signed summary (its `EvidenceBundleRef`), when the transcript holds one:
 *   the predicate's `incident.state`, `decision`, `action` and `times` are the summary's.
 *
 * Each failure names the predicate field.
 */
import { canonicalize } from '@aaps/mpc-core/verifier';
import { fail } from './errors.js';
import { type IncidentPredicate, isObject, type VerifierRoster } from './statement.js';
import { signerKeyFor } from './transcript.js';

interface Entry {
  index: number;
  type: string;
  kind: ReturnType<typeof signerKeyFor>['kind'];
  payload: Record<string, unknown>;
}

function entriesOf(transcript: readonly unknown[], roster: VerifierRoster): Entry[] {
  return transcript.map((envelope, index) => {
    const { meta, payload } = envelope as {
      meta: { source_agent: string; message_type?: unknown };
      payload?: unknown;
    };
    return {
      index,
      type: String(meta.message_type),
      kind: signerKeyFor(roster, meta.source_agent).kind,
      payload: isObject(payload) ? payload : {},
    };
  });
}

/** The same JSON value; `undefined` (an absent member) equals only itself. */
function sameJson(a: unknown, b: unknown): boolean {
  if (a === undefined || b === undefined) return a === b;
  try {
    return canonicalize(a) === canonicalize(b);
  } catch {
    return false;
  }
}

const show = (v: unknown): string => (v === undefined ? 'absent' : JSON.stringify(v));

function mismatch(field: string, claimed: unknown, signed: unknown, where: string): never {
  fail('transcript.outcome', `predicate.${field} is ${show(claimed)}, but ${where} says ${show(signed)}`, {
    field: `predicate.${field}`,
  });
}

/** Strategy's outcomes (packages/agents `StrategyDecision`): a predicate names one only after it. */
const STRATEGY_OUTCOMES: readonly string[] = ['auto', 'needs_human', 'refuse'];

function checkHumans(entries: Entry[], predicate: IncidentPredicate): Entry | undefined {
  const human = entries.filter((e) => e.type === 'ApprovalDecision' && e.kind === 'approver');
  const approvals = human.filter((e) => e.payload.decision === 'approve');
  const claimed = predicate.humanApprovals;
  for (let i = 0; i < Math.max(claimed.length, approvals.length); i++) {
    const signed = approvals[i];
    if (signed === undefined || !sameJson(claimed[i], signed.payload)) {
      fail(
        'transcript.outcome',
        signed === undefined
          ? `predicate.humanApprovals[${i}] (${show(claimed[i]?.approver_id)} for incident ${show(claimed[i]?.incident_id)}) is not an approval an approver signed into this transcript`
          : `predicate.humanApprovals[${i}] is not the approval ${show(signed.payload.approver_id)} signed at envelope ${signed.index}`,
        { field: `predicate.humanApprovals[${i}]`, ...(signed === undefined ? {} : { index: signed.index }) },
      );
    }
  }
  const rejection = human.findLast((e) => e.payload.decision === 'reject');
  const stated = predicate.incident.human_rejection;
  if (rejection === undefined) {
    if (stated !== undefined)
      mismatch(
        'incident.human_rejection',
        stated,
        undefined,
        'the transcript (no approver signed a rejection)',
      );
    return undefined;
  }
  const { approver_id, reason, rejected_at } = rejection.payload;
  if (!sameJson(stated, { approver_id, reason, rejected_at }))
    mismatch(
      'incident.human_rejection',
      stated,
      { approver_id, reason, rejected_at },
      `the rejection signed at envelope ${rejection.index}`,
    );
  return rejection;
}

/** Strategy's signed decision: the last `ApprovalDecision` a roster party signed, if any. */
function strategyDecision(entries: Entry[]): Entry | undefined {
  return entries.findLast(
    (e) => e.type === 'ApprovalDecision' && e.kind === 'party' && typeof e.payload.decision === 'string',
  );
}

function checkDecision(entries: Entry[], predicate: IncidentPredicate): void {
  const strategy = strategyDecision(entries);
  const claimed = predicate.decision;
  if (strategy === undefined) {
    if (STRATEGY_OUTCOMES.includes(String(claimed.outcome)) || claimed.proposal_digest !== undefined)
      mismatch('decision', claimed, undefined, 'the transcript (strategy signed no decision)');
    return;
  }
  const p = strategy.payload;
  const where = `strategy's decision at envelope ${strategy.index}`;
  const proposal = isObject(p.proposal) ? p.proposal : {};
  const risk = isObject(p.risk) ? p.risk : {};
  const expected: [string, unknown][] = [
    ['outcome', p.decision],
    ['proposal_digest', proposal.proposal_digest],
    ['risk_score', risk.score],
    ['rule', p.rule],
  ];
  for (const [key, signed] of expected)
    if (!sameJson(claimed[key], signed)) mismatch(`decision.${key}`, claimed[key], signed, where);
}

/**
 * Bundles sealed before `action` meant "executed" name, for an incident where nothing executed,
 * the proposal strategy decided on, as `{name, target}` and nothing more (no executor, no result):
 * they claim no execution, so they still verify, when that is the action and target of strategy's
 * signed decision. Anything more (a result, an executor) is a claim of execution and is refused.
 */
function sealedBeforeActionMeantExecuted(entries: Entry[], action: unknown): boolean {
  if (!isObject(action) || Object.keys(action).sort().join(',') !== 'name,target') return false;
  const strategy = strategyDecision(entries);
  const proposal =
    strategy !== undefined && isObject(strategy.payload.proposal) ? strategy.payload.proposal : undefined;
  return proposal !== undefined && proposal.action === action.name && proposal.target === action.target;
}

/** The action and the ending; `rejected` is the envelope of a person's rejection, if any. */
function checkActionAndState(
  entries: Entry[],
  predicate: IncidentPredicate,
  rejected: Entry | undefined,
): void {
  const results = entries.filter((e) => e.type === 'ExecutionResult');
  const last = results.at(-1);
  const action = predicate.action;
  const state = predicate.incident.state;
  if (last === undefined) {
    if (action !== null && !sealedBeforeActionMeantExecuted(entries, action))
      mismatch('action', action, null, 'the transcript (no ExecutionResult: nothing executed)');
  } else {
    if (action === null)
      mismatch('action', null, 'an executed action', `the ExecutionResult at envelope ${last.index}`);
    const order = entries.findLast((e) => e.type === 'ExecutionOrder');
    const proposal =
      order !== undefined && isObject(order.payload.proposal) ? order.payload.proposal : undefined;
    if (proposal !== undefined) {
      const where = `the ExecutionOrder at envelope ${order!.index}`;
      if (action.name !== proposal.action) mismatch('action.name', action.name, proposal.action, where);
      if (action.target !== proposal.target) mismatch('action.target', action.target, proposal.target, where);
    }
    // Who approved what executed: the quorum the order names (its `approval.signers`, which the
    // `approval.signature` check holds to k..n distinct roster parties), sorted. A bundle sealed
    // before `approved_by` was stated has none: absent is read as not stated.
    if (action.approved_by !== undefined) {
      const approval = order !== undefined && isObject(order.payload.approval) ? order.payload.approval : {};
      const signers = Array.isArray(approval.signers) ? [...approval.signers].map(String).sort() : undefined;
      const where =
        order === undefined
          ? 'the transcript (no ExecutionOrder)'
          : `the ExecutionOrder at envelope ${order.index}`;
      if (!sameJson(action.approved_by, signers))
        mismatch('action.approved_by', action.approved_by, signers, where);
    }
    // action.result is checkTranscriptOutcome's (the last result's status).
    const where = `the last ExecutionResult (envelope ${last.index})`;
    if (typeof last.payload.executor === 'string' && action.executor !== last.payload.executor)
      mismatch('action.executor', action.executor, last.payload.executor, where);
    // A bundle sealed before `rollback` was stated has none: absent is read as not stated.
    if (action.rollback !== undefined && !sameJson(action.rollback, last.payload.rollback))
      mismatch('action.rollback', action.rollback, last.payload.rollback, where);
  }
  if (typeof state !== 'string') return;
  let allowed: string[];
  let why: string;
  if (rejected !== undefined) {
    allowed = ['rejected'];
    why = `an approver's signed rejection (envelope ${rejected.index})`;
  } else if (last === undefined) {
    allowed = [
      'rejected',
      'failed',
      ...(predicate.times.resolved_by_source === undefined ? [] : ['resolved']),
    ];
    why = 'nothing executed (no ExecutionResult)';
  } else if (last.payload.status === 'succeeded') {
    const passed = entries.some((e) => e.type === 'VerificationReport' && e.payload.verdict === 'pass');
    allowed = passed ? ['resolved', 'failed'] : ['failed'];
    why = `the change executed (envelope ${last.index}) ${passed ? 'and quality assurance passed it' : 'and no report passed it'}`;
  } else {
    allowed = [String(last.payload.status)];
    why = `the last ExecutionResult (envelope ${last.index}) is ${show(last.payload.status)}`;
  }
  if (!allowed.includes(state))
    fail(
      'transcript.outcome',
      `predicate.incident.state is ${show(state)}, but ${why}: it can only be ${allowed.join(' or ')}`,
      { field: 'predicate.incident.state', allowed },
    );
}

/** The audit party's signed summary, when the transcript holds one, is what the predicate says. */
function checkAuditSummary(entries: Entry[], predicate: IncidentPredicate): void {
  const summary = entries.findLast(
    (e) => e.type === 'EvidenceBundleRef' && e.kind === 'party' && isObject(e.payload.incident),
  );
  if (summary === undefined) return;
  const s = summary.payload;
  const where = `the audit summary at envelope ${summary.index}`;
  const incident = s.incident as Record<string, unknown>;
  if (incident.state !== undefined && incident.state !== predicate.incident.state)
    mismatch('incident.state', predicate.incident.state, incident.state, where);
  const decision = s.decision ?? { outcome: 'none' };
  if (!sameJson(predicate.decision, decision)) mismatch('decision', predicate.decision, decision, where);
  const action = s.action ?? null;
  if (!sameJson(predicate.action, action)) mismatch('action', predicate.action, action, where);
  if (s.times !== undefined && !sameJson(predicate.times, s.times))
    mismatch('times', predicate.times, s.times, where);
}

/**
 * The predicate's account of the incident's end against the transcript (see the module comment),
 * on a transcript whose signatures hold under `roster`. Throws `transcript.outcome` naming the
 * first predicate field that disagrees.
 */
export function checkTranscriptEnding(
  transcript: readonly unknown[],
  predicate: IncidentPredicate,
  roster: VerifierRoster,
): void {
  const entries = entriesOf(transcript, roster);
  const rejected = checkHumans(entries, predicate);
  checkDecision(entries, predicate);
  checkActionAndState(entries, predicate, rejected);
  checkAuditSummary(entries, predicate);
}
