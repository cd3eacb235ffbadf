/**
 * The workflow runner: drives an incident through observe -> triage -> root cause -> fix proposal
 * -> risk and policy -> approval -> execution -> verification -> evidence. Each agent step runs in
 * its party (through the coordinator) and its signed envelopes join the transcript; every state
 * change goes through the state machine. The record is written before each step's side effects
 * (`pending`), so after a crash `resumeIncidents` either continues or ends the incident cleanly.
 */
import { randomUUID } from 'node:crypto';
import type { Logger } from '@aaps/agents';
import {
  type ApprovalBacking,
  type ApprovalDecisionPayload,
  type AuditInput,
  backingFromTranscript,
  type DeploymentRecord,
  type Environment,
  type EvidenceSummary,
  type ExecutionStatus,
  type FixProposalSet,
  type HumanApproval,
  type HumanRejection,
  parseHumanApproval,
  parseHumanRejection,
  type RCAReport,
  ROLE_AGENT_NAMES,
  ROLE_OUTPUT_TYPES,
  strategyRiskSubject,
  type TriagedSignal,
  type VerificationReport,
} from '@aaps/agents';
import {
  bytesToHex,
  type Envelope,
  hexToBytes,
  type IdentityKey,
  isAapsError,
  ProtocolError,
  SCHEMA_VERSION,
  type SignedEnvelope,
  signEnvelope,
  ValidationError,
} from '@aaps/mpc-core';
import type { Coordinator, PooledRisk } from '../coordinator.js';
import type { EvidenceWriter } from '../evidence-writer.js';
import { executeOrder, rollbackFailed } from '../executor/maintenance.js';
import type { AppliedChange, ExecutionOrderPayload, Executor } from '../executor/types.js';
import type { GatewayMetrics } from '../metrics.js';
import { quorumFailureOf } from '../quorum-failure.js';
import { type GatewayStore, StoreWriteError } from '../store.js';
import type { TrustedKeys } from '../trust.js';
import { verifyHumanApproval, verifyHumanRejection } from '../trust.js';
import {
  type ApprovalWindowRules,
  approvalWindowIssues,
  checkApprovalWindow,
  DEFAULT_APPROVAL_WINDOW,
} from './approval-window.js';
import type { IncidentEvents } from './events.js';
import {
  type IncidentEvent,
  type IncidentState,
  isTerminal,
  isTimelineNote,
  step,
  type TimelineNote,
} from './machine.js';
import { pooledDetail } from './pooled-detail.js';
import { DEFAULT_RECURRENCE_WINDOW_MS, type IncidentRecord } from './record.js';
import { lastPayload, toJson } from './step-request.js';

export interface RunnerDeps {
  store: GatewayStore;
  coordinator: Coordinator;
  executor: Executor;
  evidence: EvidenceWriter;
  logger: Logger;
  now: () => Date;
  trust: () => Promise<TrustedKeys>;
  /** The gateway's identity: it signs intake re-signatures, execution orders and results. */
  identity: { id: string; key: IdentityKey };
  events: IncidentEvents;
  metrics?: GatewayMetrics;
  /** Where targets run, for the risk score (default `unknown`, scored as production). */
  environment?: Environment;
  /** GitOps repository URL: the source of truth for ConfigMaps and Secrets when set. */
  gitopsRepoUrl?: string;
  /** Pool the parties' private risk scores (`coordinator.poolRisk`) before strategy. */
  poolRisk?: boolean;
  /** Allowed clock skew for human approvals, seconds (default: the parties' default policy, 300). */
  clockSkewSeconds?: number;
  /**
   * The longest human approval taken, seconds (`--approval-max-validity-seconds`: the parties'
   * `human_approval.max_validity_seconds`); the parties' default when absent.
   */
  approvalMaxValiditySeconds?: number;
  /**
   * Wait before the first extra try of a step that failed with UNAVAILABLE or TIMEOUT (a party
   * down or restarting), ms; it doubles with each further try (default 250). Also the first wait
   * before sealing is tried again.
   */
  retryDelayMs: number;
  /** The longest wait between two tries of a step, ms (default 5000). */
  retryMaxDelayMs: number;
  /**
   * How long a step that keeps failing with UNAVAILABLE or TIMEOUT is tried, ms from its first
   * failure, before the incident ends `failed` with that reason (default 30000; 0: no retries).
   * Not for an approval that fails only because quality assurance is unreachable, nor for the
   * verification of an executed change while it is: they wait.
   */
  retryBudgetMs: number;
  /**
   * The longest wait between two tries at sealing an ended incident's evidence, ms (default
   * 60000). Sealing has no budget: it is tried for as long as the runner runs, and on restart.
   * Also the longest wait between two tries of an approval or a verification waiting for an
   * unreachable required party (quality assurance), which have no budget either.
   */
  sealRetryMaxDelayMs: number;
  /**
   * An outage with no budget is shared: sealing that fails because a party is unreachable
   * (`UNAVAILABLE`, `TIMEOUT`) fails so for every ended incident, and an approval or verification
   * waiting for an unreachable required party waits so for every incident that needs it. One
   * incident, the probe, keeps trying such an outage on the waits above; every other one, after
   * its first try, waits this long, ms (default 600000), or until a try of the same outage
   * succeeds, which sends them all at once. So thousands of incidents waiting cost the parties
   * one try a minute, not thousands.
   */
  parkMs?: number;
  /**
   * How long after an automatic fix of one failure another incident of the same failure (a shared
   * recurrence key) goes to a person instead, ms (default one hour; 0: never). Claimed when the
   * fix is decided, so incidents of one failure deciding together (pods of one Deployment) get
   * one automatic fix, not one each.
   */
  recurrenceWindowMs?: number;
  /**
   * How many incidents are driven at once (default {@link DEFAULT_MAX_RUNS}). Past it, a started
   * incident waits its turn in arrival order: one notification of thousands of alerts, or a
   * restart that finds thousands open, does not start thousands of runs that each hold a record,
   * party calls and sockets at the same time. A waiting incident holds no lock.
   */
  maxRuns?: number;
}

/** Incidents driven at once unless `maxRuns` says otherwise. */
export const DEFAULT_MAX_RUNS = 256;

type RetryDeps = 'retryDelayMs' | 'retryMaxDelayMs' | 'retryBudgetMs' | 'sealRetryMaxDelayMs';

/** How long an incident waits while another probes the outage it waits out, unless set. */
export const DEFAULT_PARK_MS = 600_000;

export const RETRY_DEFAULTS: Readonly<Pick<RunnerDeps, RetryDeps>> = Object.freeze({
  retryDelayMs: 250,
  retryMaxDelayMs: 5_000,
  retryBudgetMs: 30_000,
  sealRetryMaxDelayMs: 60_000,
});

/**
 * Whether a failed try goes on the timeline: tries 1, 2, 4, 8, ... and any try whose error code
 * changed, so a long outage adds a few entries, not one per try.
 */
function worthNoting(t: { attempt: number; codeChanged: boolean }): boolean {
  return (t.attempt & (t.attempt - 1)) === 0 || t.codeChanged;
}

export const MAINTENANCE_AGENT = ROLE_AGENT_NAMES.maintenance;

/** How many times a drive that fails outside its steps (not a refused write) is tried again. */
export const CRASH_RETRIES = 8;

/** How many incidents with full notes the runner remembers (then it forgets them all). */
const NOTES_FULL_MEMORY = 10_000;

/** The most `occurrence.joined` notes one incident's timeline gets (a noisy source adds no more). */
export const JOINED_NOTE_LIMIT = 100;

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

const TRANSIENT = new Set(['UNAVAILABLE', 'TIMEOUT']);

/**
 * The parties' refusal of a pooled-risk reference that held for them once and no longer does
 * (packages/agents `checkRisk`): the one refusal on which an approval pools again.
 */
const STALE_POOLED_RISK = 'risk.aggregation_stale';

/**
 * What the `risk.repooled` note on `r`'s timeline says, if the gateway pooled again for the
 * incident: the record, not the try that pooled, holds the fact, so a later try of the approval
 * (after `UNAVAILABLE`, or a restart) pools no second time, and its `approved` entry still says
 * `repooled: true`.
 */
function repooledNote(r: IncidentRecord): Record<string, unknown> | undefined {
  const note = r.timeline.findLast((e) => e.event === 'risk.repooled');
  return note === undefined ? undefined : (note.detail ?? {});
}

/**
 * The required parties an approval or a verification that failed `UNAVAILABLE` waits for
 * (`details.waiting_for`, set in the `awaiting_approval` step and by `#verify`), or none.
 */
function requiredPartiesWaitedFor(e: unknown): string[] {
  const list = isAapsError(e) ? e.details['waiting_for'] : undefined;
  return Array.isArray(list) ? list.filter((x): x is string => typeof x === 'string') : [];
}

/** The n-th wait (1-based) of an exponential back-off from `base`, at most `max`. */
function backoff(base: number, attempt: number, max: number): number {
  return Math.min(base * 2 ** Math.min(attempt - 1, 30), max);
}

/** `{refused: ["party:rule", ...]}` from a failed signing's signed refusals, or nothing. */
function refusedBy(e: unknown): { refused?: string[] } {
  const refused = (quorumFailureOf(e)?.refusals ?? []).map((x) => `${x.party}:${x.rule}`);
  return refused.length > 0 ? { refused } : {};
}

function errorInfo(e: unknown): { code: string; message: string } {
  return isAapsError(e)
    ? { code: e.code, message: e.message }
    : { code: 'INTERNAL', message: 'internal error' };
}

export class WorkflowRunner {
  readonly #d: RunnerDeps;
  readonly #running = new Map<string, Promise<void>>();
  readonly #again = new Set<string>();
  /** Incidents started while `maxRuns` were running, in arrival order (a Set keeps it). */
  readonly #waiting = new Set<string>();
  readonly #maxRuns: number;
  /**
   * Occurrence notes and resolves waiting for their incident's lock ({@link noteOccurrenceLater},
   * {@link resolveBySourceUnblocked}).
   */
  readonly #notes = new Set<Promise<void>>();
  /** Incidents with a resolve queued and not yet done ({@link resolveBySourceUnblocked}). */
  readonly #resolvesQueued = new Set<string>();
  /** Per incident, notes queued and not yet written. */
  readonly #notesQueued = new Map<string, number>();
  /** Incidents known to hold {@link JOINED_NOTE_LIMIT} notes (forgotten in bulk past a bound). */
  readonly #notesFull = new Set<string>();
  /** The tail of each incident's lock chain (see `#exclusive`); gone once nobody holds or waits. */
  readonly #locks = new Map<string, Promise<void>>();
  /**
   * Per incident whose step (or sealing) keeps failing: the state it fails in, when it first
   * failed (monotonic ms), how many tries failed, the last code, whether the last try was
   * waiting for a required party (no budget), and the shared outage it waits out, if any (see
   * `parkMs`). Gone once it moves on.
   */
  readonly #outages = new Map<
    string,
    {
      state: IncidentState;
      since: number;
      attempt: number;
      code: string;
      waiting: boolean;
      shared?: string;
    }
  >();
  /**
   * Per incident waiting to be tried again: its timer, and `done`, settled when the timer fires
   * or is cancelled. The wait holds no lock: approvals, resolves and `withIncident` go ahead.
   */
  readonly #retries = new Map<
    string,
    { timer: ReturnType<typeof setTimeout>; done: Promise<void>; settle: () => void }
  >();
  /**
   * Per shared outage (`evidence`, or `party:<ids>` for required parties), the incident probing
   * it: it alone tries on the usual waits; the others are parked (see `parkMs`).
   */
  readonly #probes = new Map<string, string>();
  #closed = false;
  /** Per incident whose drive failed outside its steps' handling: how many times in a row. */
  readonly #crashes = new Map<string, number>();
  /** Per incident, the writes the store refused in a row (waited out, with a growing wait). */
  readonly #storeRefusals = new Map<string, number>();

  constructor(deps: Omit<RunnerDeps, RetryDeps> & Partial<Pick<RunnerDeps, RetryDeps>>) {
    this.#d = { ...RETRY_DEFAULTS, ...deps };
    const max = deps.maxRuns ?? DEFAULT_MAX_RUNS;
    if (!Number.isSafeInteger(max) || max < 1) {
      throw new ValidationError('INVALID_ARGUMENT', 'maxRuns: expected a positive integer', ['maxRuns']);
    }
    this.#maxRuns = max;
    deps.metrics?.registry.gauge(
      'aaps_workflow_runs',
      'Incidents being driven now (at most the run limit).',
      () => this.#running.size,
    );
    deps.metrics?.registry.gauge(
      'aaps_workflow_runs_waiting',
      'Incidents started while the run limit was reached, waiting their turn.',
      () => this.#waiting.size,
    );
  }

  /** Drive `id` as far as it can go now, in the background. Safe to call repeatedly. */
  start(id: string): void {
    if (this.#closed) return;
    // A run now takes the place of a scheduled try (it schedules another if it fails again).
    this.#cancelRetry(id);
    if (this.#running.has(id)) {
      this.#again.add(id);
      return;
    }
    if (this.#waiting.has(id)) return;
    if (this.#running.size >= this.#maxRuns) {
      this.#waiting.add(id);
      return;
    }
    this.#run(id);
  }

  /** Drive `id` now (a free run slot is the caller's to check). */
  #run(id: string): void {
    // The run holds the incident's lock from its first read to its last write: an approval or a
    // resolve that arrives meanwhile acts on the state the run leaves, never on one it has left.
    const task = this.#exclusive(id, () => this.#drive(id))
      .then(
        () => {
          this.#crashes.delete(id);
          this.#storeRefusals.delete(id);
        },
        (e: unknown) => {
          // The store failed (a write it did not take: a full disk), or something else outside a
          // step's own failure handling (a record that cannot be read back, a bug). The incident
          // stays as last saved, as after a restart, and is tried again later: a store that refuses
          // writes is waited out for as long as it takes (no verdict: nothing could be recorded),
          // anything else a few times, then left for the next start so that it does not log for ever.
          // Counted apart: a long full disk must not use up the tries of a later crash.
          const storeRefused = e instanceof StoreWriteError;
          const counts = storeRefused ? this.#storeRefusals : this.#crashes;
          const attempt = (counts.get(id) ?? 0) + 1;
          if (!storeRefused && attempt > CRASH_RETRIES) {
            this.#crashes.delete(id);
            this.#forgetOutage(id);
            this.#d.logger.error('workflow.gave_up', {
              incident_id: id,
              code: errorInfo(e).code,
              attempts: attempt - 1,
            });
            return;
          }
          counts.set(id, attempt);
          const wait = backoff(this.#d.retryDelayMs, attempt, this.#d.sealRetryMaxDelayMs);
          this.#d.logger.error(storeRefused ? 'workflow.store_failed' : 'workflow.crashed', {
            incident_id: id,
            code: errorInfo(e).code,
            ...(storeRefused ? { error: e.message } : {}),
            attempt,
            next_in_ms: wait,
          });
          this.#scheduleRetry(id, wait);
        },
      )
      .finally(() => {
        this.#running.delete(id);
        // Started again while it ran: it queues behind those already waiting, not before them.
        if (this.#again.delete(id) && !this.#closed) {
          this.#cancelRetry(id);
          this.#waiting.add(id);
        }
        this.#next();
      });
    this.#running.set(id, task);
  }

  /** Fill free run slots from the waiting incidents, oldest first. */
  #next(): void {
    for (const id of this.#waiting) {
      if (this.#closed || this.#running.size >= this.#maxRuns) return;
      this.#waiting.delete(id);
      this.#run(id);
    }
  }

  /**
   * Resolves once no incident is being driven or waiting to be tried again. A step waits at most
   * `retryBudgetMs`; a sealing that keeps failing, and an approval or a verification waiting for
   * an unreachable required party (quality assurance), wait until they succeed (or `close`).
   */
  async idle(): Promise<void> {
    while (this.#running.size > 0 || this.#retries.size > 0 || this.#notes.size > 0) {
      await Promise.all([
        ...this.#running.values(),
        ...[...this.#retries.values()].map((r) => r.done),
        ...this.#notes,
      ]);
    }
  }

  /**
   * Stop taking work, cancel every scheduled retry and forget the incidents waiting for a run
   * slot (those incidents stay as they are, for the next start's `resumeIncidents`) and wait for
   * what is in flight.
   */
  async close(): Promise<void> {
    this.#closed = true;
    // Those waiting for a run slot stay as last saved, for the next start's `resumeIncidents`.
    this.#waiting.clear();
    for (const id of [...this.#retries.keys()]) this.#cancelRetry(id);
    await this.idle();
  }

  /** Try `id` again in `ms`, without holding its lock meanwhile. */
  #scheduleRetry(id: string, ms: number): void {
    this.#cancelRetry(id);
    if (this.#closed) return;
    let settle = () => {};
    const done = new Promise<void>((resolve) => {
      settle = resolve;
    });
    const timer = setTimeout(() => {
      this.#retries.delete(id);
      this.start(id);
      settle();
    }, ms);
    // A pending retry alone does not keep the process alive (the server does, while it runs).
    timer.unref?.();
    this.#retries.set(id, { timer, done, settle });
  }

  #cancelRetry(id: string): void {
    const r = this.#retries.get(id);
    if (r === undefined) return;
    clearTimeout(r.timer);
    this.#retries.delete(id);
    r.settle();
  }

  /**
   * Counts a failed try of `id` in `state`: the same outage while the state stays the same. The
   * retry budget of a try that is not `waiting` (for a required party) counts from its first
   * failure, or from the end of a wait for a required party.
   */
  #failedTry(id: string, state: IncidentState, code: string, waiting = false) {
    const now = performance.now();
    let o = this.#outages.get(id);
    if (o === undefined || o.state !== state) {
      this.#leaveOutage(id);
      o = { state, since: now, attempt: 0, code, waiting };
      this.#outages.set(id, o);
    } else if (o.waiting && !waiting) {
      o.since = now;
    }
    const codeChanged = o.code !== code || o.waiting !== waiting;
    o.attempt++;
    o.code = code;
    o.waiting = waiting;
    return { attempt: o.attempt, elapsed: now - o.since, codeChanged };
  }

  /**
   * A step from `state` just succeeded, so whatever it needs answers again: incidents waiting to
   * retry the same step after a transient failure (a party that was down) go now rather than at
   * the end of their wait, which an outage grows up to a minute.
   */
  #wakeWaiting(state: IncidentState): void {
    if (this.#retries.size === 0) return;
    for (const [waiting, o] of this.#outages) {
      if (o.state === state && TRANSIENT.has(o.code) && this.#retries.has(waiting)) this.start(waiting);
    }
  }

  /**
   * The wait before `id` tries again in the shared outage `key` (see `parkMs`), `wait` by its
   * own count of tries: the first to meet the outage (or the next, once the probe is neither
   * running nor waiting) probes it on `wait`; the others park, and are sent at once when a try
   * of it succeeds ({@link #outageOver}). No key: the failure is the incident's own (a refusal).
   */
  #outageWait(id: string, key: string | undefined, wait: number): number {
    const o = this.#outages.get(id);
    if (o?.shared !== key) this.#leaveOutage(id);
    if (key === undefined || o === undefined) return wait;
    o.shared = key;
    const probe = this.#probes.get(key);
    if (probe === undefined || probe === id || !(this.#running.has(probe) || this.#retries.has(probe))) {
      this.#probes.set(key, id);
      return wait;
    }
    return Math.max(wait, this.#d.parkMs ?? DEFAULT_PARK_MS);
  }

  /**
   * `id` no longer waits out a shared outage. If it was the probe (it met a refusal of its own,
   * was resolved, gave up), the next incident parked in that outage goes now and probes in its
   * place: else the outage, perhaps over already, would not be tried until a park ends.
   */
  #leaveOutage(id: string): void {
    const o = this.#outages.get(id);
    const key = o?.shared;
    if (key === undefined) return;
    delete o!.shared;
    if (this.#probes.get(key) !== id) return;
    this.#probes.delete(key);
    for (const [parked, w] of this.#outages) {
      if (w.shared === key && this.#retries.has(parked)) {
        this.start(parked);
        return;
      }
    }
  }

  /** `id` moved on: it no longer fails, in any outage. */
  #forgetOutage(id: string): void {
    this.#leaveOutage(id);
    this.#outages.delete(id);
  }

  /**
   * A step of `id` from `from` succeeded. If it waited out a shared outage in that state, the
   * outage is over: every incident in it goes now. (One that left the state another way, a
   * resolve or a person's decision, says nothing of the outage and just leaves it.)
   */
  #outageOver(id: string, from: IncidentState): void {
    const o = this.#outages.get(id);
    const key = o?.state === from ? o.shared : undefined;
    this.#forgetOutage(id);
    if (key === undefined) return;
    this.#probes.delete(key);
    for (const [waiting, w] of [...this.#outages]) {
      if (w.shared !== key) continue;
      delete w.shared;
      if (this.#retries.has(waiting)) this.start(waiting);
    }
  }

  /**
   * Picks up every incident a previous process left unfinished, after applying the resolves it
   * accepted and had not applied yet. Returns how many incidents it started.
   */
  async resumeIncidents(): Promise<number> {
    for (const { id, resolve } of await this.#d.store.pendingResolves()) {
      try {
        await this.resolveBySource(id, resolve.at, resolve.actor, resolve.token);
        await this.#d.store.deletePendingResolve(id);
      } catch (e) {
        // Left for the next start (a store that refuses writes); an incident that is gone is
        // nothing to resolve.
        const gone = isAapsError(e) && e.code === 'NOT_FOUND';
        if (gone) await this.#d.store.deletePendingResolve(id);
        this.#d.logger.warn('intake.resolve_failed', {
          incident_id: id,
          code: errorInfo(e).code,
          kept: !gone,
        });
      }
    }
    // Ids only: `start` queues beyond the run limit, and each run loads its own record.
    const open = await this.#d.store.activeIncidentIds();
    for (const id of open) this.start(id);
    return open.length;
  }

  /**
   * Runs `fn` holding the incident's lock: a promise chain per incident, so runs, approvals and
   * resolves of one incident take turns, each reading, checking and writing the record with
   * nobody else in between. Waiting for the run in flight was not enough: a run started after
   * that wait (by a concurrent approval) could still interleave, and two approvals, or an approval
   * and a resolve, could both check the same state and both write, the later overwriting the
   * earlier. `fn` must not wait for another holder of the same lock (`start` only queues a run).
   */
  async #exclusive<T>(id: string, fn: () => Promise<T>): Promise<T> {
    const before = this.#locks.get(id) ?? Promise.resolve();
    let release = () => {};
    const held = new Promise<void>((resolve) => {
      release = resolve;
    });
    const tail = before.then(() => held);
    this.#locks.set(id, tail);
    await before;
    try {
      return await fn();
    } finally {
      release();
      if (this.#locks.get(id) === tail) this.#locks.delete(id);
    }
  }

  /**
   * Runs `fn` under the incident's lock, for a writer of the incident record outside the
   * workflow (the unseal route): it reads the latest record and writes it with no run, approval
   * or resolve in between, so neither side's write is lost.
   */
  withIncident<T>(id: string, fn: () => Promise<T>): Promise<T> {
    return this.#exclusive(id, fn);
  }

  /**
   * A signed human approval envelope for an incident in `awaiting_human`. Checks the approver's
   * envelope signature and approval signature against the roster, and that the approval is bound
   * to this incident, action and proposal and is within the validity window the parties hold it
   * to; then resumes. All under the incident's lock, so of two concurrent approvals, or an
   * approval and a resolve, the second sees what the first wrote (here: 409 `CONFLICT`).
   */
  async approve(id: string, envelope: SignedEnvelope): Promise<IncidentRecord> {
    return this.#exclusive(id, async () => {
      const record = await this.#load(id);
      if (record.state !== 'awaiting_human') {
        throw new ValidationError(
          'CONFLICT',
          `incident ${id} is ${record.state}, not awaiting a human approval`,
          ['state'],
        );
      }
      if (record.decision === undefined) {
        throw new ValidationError(
          'CONFLICT',
          `incident ${id} has no proposal to approve: no agent proposed a fix, so a person can only reject it (a HumanRejection) or fix it by hand`,
          ['state'],
        );
      }
      const approval: HumanApproval = parseHumanApproval(envelope.payload);
      await this.#signedByApprover(envelope, 'approval', approval, verifyHumanApproval);
      // A signed approval counts once: after the parties refused it, the same approval (its
      // deterministic signature), in this envelope or another, is a replay, not a new approval.
      if (record.human_approvals.some((a) => a.signature === approval.signature)) {
        throw new ValidationError(
          'CONFLICT',
          `this approval by ${approval.approver_id} was already given for incident ${id}; a person sends a new one`,
          ['signature'],
        );
      }
      const proposal = record.decision.proposal;
      const bad = [
        approval.incident_id !== id ? 'incident_id' : '',
        approval.action !== proposal.action ? 'action' : '',
        approval.proposal_digest !== proposal.proposal_digest ? 'proposal_digest' : '',
      ].filter((f) => f !== '');
      if (bad.length > 0) {
        throw new ValidationError(
          'INVALID_ARGUMENT',
          `the approval is not for this incident's proposal: ${bad.join(', ')}`,
          bad,
        );
      }
      // The parties' own window rule: an approval they would all refuse is a 400 here, and the
      // incident keeps waiting, instead of going on to be rejected.
      checkApprovalWindow(approval, this.#d.now(), this.#approvalWindow());
      record.transcript.push(envelope);
      record.human_approvals.push(approval);
      record.decision = { ...record.decision, proposal: { ...proposal, human_approval: approval } };
      this.#advance(record, 'approval_requested', approval.approver_id, { approver: approval.approver_id });
      await this.#save(record);
      this.start(id);
      return record;
    });
  }

  /**
   * The window the gateway holds a human approval to: the parties' default, or the longest the
   * operator configured for the departments' policies, with its clock skew.
   */
  #approvalWindow(): ApprovalWindowRules {
    return {
      ...DEFAULT_APPROVAL_WINDOW,
      ...(this.#d.clockSkewSeconds === undefined ? {} : { clockSkewSeconds: this.#d.clockSkewSeconds }),
      ...(this.#d.approvalMaxValiditySeconds === undefined
        ? {}
        : { maxValiditySeconds: this.#d.approvalMaxValiditySeconds }),
    };
  }

  /**
   * `awaiting_approval -> awaiting_human` (`human_required`) for an approval the parties will not
   * sign because of its human approval alone: the timeline entry says why (`detail`), the stale
   * approval leaves the proposal (it stays in `human_approvals`, and its envelope in the
   * transcript), and the incident waits for a person, who may send a new one.
   */
  #backToHuman(r: IncidentRecord, actor: string, detail: Record<string, unknown>): Promise<void> {
    if (r.decision !== undefined) {
      const proposal = { ...r.decision.proposal };
      delete proposal.human_approval;
      r.decision = { ...r.decision, proposal };
    }
    this.#advance(r, 'human_required', actor, {
      ...detail,
      note: 'back to a person, who may send a new human approval',
    });
    return this.#save(r);
  }

  /**
   * A signed human rejection for an incident in `awaiting_human` (with or without a proposal):
   * checks the approver's signature against the roster, that it names this incident, and that it
   * was made recently (not in the future past the clock skew, nor longer ago than an approval may
   * last); then ends the incident `rejected` with the approver's reason, and its evidence follows.
   * Under the incident's lock, like {@link approve}.
   */
  async reject(id: string, envelope: SignedEnvelope): Promise<IncidentRecord> {
    return this.#exclusive(id, async () => {
      const record = await this.#load(id);
      if (record.state !== 'awaiting_human') {
        throw new ValidationError('CONFLICT', `incident ${id} is ${record.state}, not awaiting a human`, [
          'state',
        ]);
      }
      const rejection: HumanRejection = parseHumanRejection(envelope.payload);
      await this.#signedByApprover(envelope, 'rejection', rejection, verifyHumanRejection);
      if (rejection.incident_id !== id) {
        throw new ValidationError('INVALID_ARGUMENT', 'the rejection is for another incident', [
          'incident_id',
        ]);
      }
      const { clockSkewSeconds: skew, maxValiditySeconds: maxAge } = this.#approvalWindow();
      // A well-formed but impossible date (second 60, month 13) parses to NaN: refused, not let by.
      const age = (this.#d.now().getTime() - Date.parse(rejection.rejected_at)) / 1000;
      const problem = !Number.isFinite(age)
        ? 'is not a real date'
        : age < -skew
          ? 'is in the future'
          : age > maxAge
            ? `is more than ${maxAge} s old`
            : undefined;
      if (problem !== undefined) {
        throw new ValidationError('INVALID_ARGUMENT', `the rejection's rejected_at ${problem}`, [
          'rejected_at',
        ]);
      }
      record.transcript.push(envelope);
      record.reason = { code: 'HUMAN_REJECTED', message: rejection.reason };
      this.#advance(record, 'rejected', rejection.approver_id, {
        approver: rejection.approver_id,
        reason: rejection.reason,
      });
      await this.#save(record);
      this.start(id);
      return record;
    });
  }

  /** A human decision must be signed by the roster approver it names, who also sent its envelope. */
  async #signedByApprover<D extends { approver_id: string }>(
    envelope: SignedEnvelope,
    what: 'approval' | 'rejection',
    decision: D,
    verify: (approvers: TrustedKeys['approvers'], decision: D) => boolean,
  ): Promise<void> {
    const trust = await this.#d.trust();
    if (decision.approver_id !== envelope.meta.source_agent || !verify(trust.approvers, decision)) {
      throw new ValidationError(
        'UNAUTHENTICATED',
        `the ${what} is not signed by the roster approver it names`,
        ['signature'],
      );
    }
  }

  /**
   * The source reports the problem gone: ends an incident that has not changed anything yet. One
   * that has (or has ended) goes on as it is, with one `source.resolved` note on its timeline (the
   * first resolve; later ones add nothing). Under the incident's lock: it waits for a run in flight, and a later
   * approval finds it ended.
   */
  async resolveBySource(id: string, at: string, actor: string, token?: string): Promise<IncidentRecord> {
    return this.#exclusive(id, async () => {
      const record = await this.#load(id);
      const before = ['received', 'triaged', 'proposed', 'awaiting_approval', 'awaiting_human', 'approved'];
      if (before.includes(record.state)) {
        this.#advance(record, 'resolved_by_source', actor, {
          source_ended_at: at,
          ...(token === undefined ? {} : { token_name: token }),
        });
        await this.#save(record);
        this.start(id);
        return record;
      }
      // One note: a source that keeps resolving (a new end time each delivery) adds no more.
      const noted = record.timeline.some(
        (e) => e.event === 'resolved_by_source' || e.event === 'source.resolved',
      );
      if (!noted) {
        const detail =
          token === undefined ? { source_ended_at: at } : { source_ended_at: at, token_name: token };
        await this.#note(record, 'source.resolved', detail, actor);
      }
      return record;
    });
  }

  /**
   * {@link resolveBySource}, not waited for behind a run. When nothing holds the incident it is
   * done at once (the promise of the record it leaves). Otherwise it is queued on the incident's
   * lock now, so an approval that arrives after it is refused as after any resolve, and done when
   * the run in flight ends; `undefined` is returned at once, and the intake answers meanwhile, not
   * holding a notification's other alerts behind an unrelated run. One resolve is queued per
   * incident at a time: later ones would add nothing (the first end time is the one noted).
   */
  async resolveBySourceUnblocked(
    id: string,
    at: string,
    actor: string,
    token?: string,
  ): Promise<IncidentRecord | undefined> {
    if (!this.#locks.has(id)) return this.resolveBySource(id, at, actor, token);
    if (this.#resolvesQueued.has(id)) return undefined;
    this.#resolvesQueued.add(id);
    // Written before the intake answers: a restart before the run lets go applies it then.
    try {
      await this.#d.store.putPendingResolve(id, { at, actor, ...(token === undefined ? {} : { token }) });
    } catch (e) {
      this.#resolvesQueued.delete(id);
      throw e;
    }
    const applied = this.resolveBySource(id, at, actor, token).then(async (r) => {
      await this.#d.store.deletePendingResolve(id);
      return r;
    });
    this.#inBackground(id, 'intake.resolve_failed', applied, () => this.#resolvesQueued.delete(id));
    return undefined;
  }

  /**
   * `work` (a write under the incident's lock) left to finish in the background: `idle()` waits
   * for it, a failure is logged as `event`, and `done` runs either way.
   */
  #inBackground(id: string, event: string, work: Promise<unknown>, done: () => void): void {
    const task = work.then(
      () => undefined,
      (e: unknown) =>
        this.#d.logger.warn(event, { incident_id: id, code: isAapsError(e) ? e.code : 'INTERNAL' }),
    );
    this.#notes.add(task);
    void task.finally(() => {
      this.#notes.delete(task);
      done();
    });
  }

  /**
   * Another occurrence of the problem joined the open incident `id` (a new delivery the
   * correlation key matched, not a redelivery): appends an `occurrence.joined` note, the state
   * unchanged. At most {@link JOINED_NOTE_LIMIT} such notes per incident; later occurrences still
   * join it (their dedup keys name it) without a note. Under the incident's lock, like a resolve.
   */
  async noteOccurrence(id: string, detail: Record<string, unknown>, actor: string): Promise<IncidentRecord> {
    return this.#exclusive(id, async () => {
      const record = await this.#load(id);
      const joined = record.timeline.filter((e) => e.event === 'occurrence.joined').length;
      if (joined < JOINED_NOTE_LIMIT) {
        // Joined while open; a run that held the lock may have ended it since (then the note
        // comes after the sealed evidence, and says so).
        const late = isTerminal(record.state) ? { after_end: true } : {};
        await this.#note(record, 'occurrence.joined', { ...detail, occurrence: joined + 1, ...late }, actor);
      }
      if (joined + 1 >= JOINED_NOTE_LIMIT) {
        // Full: later occurrences are not queued (no record load for them).
        if (this.#notesFull.size >= NOTES_FULL_MEMORY) this.#notesFull.clear();
        this.#notesFull.add(id);
      }
      return record;
    });
  }

  /**
   * {@link noteOccurrence} without waiting: the note waits for the incident's lock, which a run
   * in flight holds until it ends, and the sender's answer must not. `idle()` waits for it.
   */
  noteOccurrenceLater(id: string, detail: Record<string, unknown>, actor: string): void {
    // Bounded work for a flood: nothing is queued for an incident whose notes are full, nor more
    // than the limit at once for one incident; each queued note loads the record in turn.
    const queued = this.#notesQueued.get(id) ?? 0;
    if (this.#notesFull.has(id) || queued >= JOINED_NOTE_LIMIT) {
      this.#d.logger.info('intake.occurrence_not_noted', { incident_id: id, why: 'note limit' });
      return;
    }
    this.#notesQueued.set(id, queued + 1);
    this.#inBackground(id, 'intake.occurrence_note_failed', this.noteOccurrence(id, detail, actor), () => {
      const left = (this.#notesQueued.get(id) ?? 1) - 1;
      if (left <= 0) this.#notesQueued.delete(id);
      else this.#notesQueued.set(id, left);
    });
  }

  async #load(id: string): Promise<IncidentRecord> {
    const r = await this.#d.store.getIncident(id);
    if (r === undefined) throw new ValidationError('NOT_FOUND', `no incident ${id}`, ['incident_id']);
    return r;
  }

  #advance(
    record: IncidentRecord,
    event: IncidentEvent,
    actor: string,
    detail?: Record<string, unknown>,
  ): void {
    const at = this.#d.now().toISOString();
    const entry = step(record.state, event, {
      at,
      actor,
      ...(detail === undefined ? {} : { detail: toJson(detail) }),
    });
    record.timeline.push(entry);
    record.state = entry.state;
    record.updated_at = at;
  }

  /**
   * Try `r` again in `wait` ms (a timer: no lock is held meanwhile), log it, and say so on its
   * timeline when the try is {@link worthNoting}. The timer is set first, so a store that fails to
   * save the note still gets its retry.
   */
  async #retryLater(
    r: IncidentRecord,
    note: TimelineNote,
    info: { code: string; message: string; refused?: string[] },
    t: { attempt: number; codeChanged: boolean },
    wait: number,
    waitingFor: readonly string[] = [],
  ): Promise<void> {
    const event =
      note === 'evidence.retrying'
        ? 'evidence.seal_retrying'
        : waitingFor.length > 0
          ? 'workflow.waiting_for_party'
          : 'workflow.step_retrying';
    const waiting = waitingFor.length > 0 ? { waiting_for: [...waitingFor] } : {};
    // Tries 1, 2, 4, 8, ... (and a new error code) at warn, as on the timeline; the others at debug,
    // so that an outage with many incidents waiting does not flood the log.
    const level = worthNoting(t) ? 'warn' : 'debug';
    this.#d.logger.log(level, event, {
      incident_id: r.id,
      state: r.state,
      code: info.code,
      ...waiting,
      ...(info.refused ? { refused: info.refused } : {}),
      attempt: t.attempt,
      next_in_ms: wait,
    });
    this.#scheduleRetry(r.id, wait);
    if (worthNoting(t))
      await this.#noteOrLog(r, note, { ...info, ...waiting, attempt: t.attempt, next_in_ms: wait });
  }

  /** {@link #note}, with a failure to save logged rather than thrown: the retry is already set. */
  async #noteOrLog(
    record: IncidentRecord,
    event: TimelineNote,
    detail: Record<string, unknown>,
  ): Promise<void> {
    try {
      await this.#note(record, event, detail);
    } catch (e) {
      this.#d.logger.error('workflow.note_failed', {
        incident_id: record.id,
        event,
        code: errorInfo(e).code,
      });
    }
  }

  /** Appends a note to the timeline (the state does not change) and saves, so followers see it. */
  async #note(
    record: IncidentRecord,
    event: TimelineNote,
    detail: Record<string, unknown>,
    actor = 'gateway',
  ): Promise<void> {
    this.#noteEntry(record, event, detail, actor);
    await this.#save(record);
  }

  /** The note {@link #note} appends, not yet saved (the caller saves it with what follows). */
  #noteEntry(
    record: IncidentRecord,
    event: TimelineNote,
    detail: Record<string, unknown>,
    actor = 'gateway',
  ) {
    const at = this.#d.now().toISOString();
    // Not a state-machine event (see `TIMELINE_NOTES`): the entry keeps the incident's state.
    record.timeline.push({ at, state: record.state, event, actor, detail: toJson(detail) });
    record.updated_at = at;
  }

  /**
   * Writes the record, then tells followers of each timeline entry from index `from` (by default
   * the last one: what the write added).
   */
  async #save(record: IncidentRecord, from = record.timeline.length - 1): Promise<void> {
    await this.#d.store.putIncident(record);
    for (const entry of record.timeline.slice(Math.max(0, from))) {
      this.#d.events.publish({ incident_id: record.id, state: record.state, entry });
    }
  }

  async #agent(
    record: IncidentRecord,
    role: Parameters<Coordinator['agentStep']>[0],
    extra?: Record<string, unknown>,
  ) {
    const envs = await this.#d.coordinator.agentStep(role, {
      incidentId: record.id,
      traceId: record.trace_id,
      transcript: record.transcript,
      context: record.context,
      ...(extra === undefined ? {} : { extra }),
    });
    // Only what the role emits, in its order, joins the transcript the parties will seal: a party
    // that also signs another role's output (a monitoring party's VerificationReport) is refused.
    const emits = (ROLE_OUTPUT_TYPES as Readonly<Record<string, readonly string[]>>)[role];
    const got = envs.map((env) => env.meta.message_type);
    if (emits !== undefined && (got.length !== emits.length || got.some((t, i) => t !== emits[i]))) {
      throw new ProtocolError(
        'INCONSISTENT_TRANSCRIPT',
        `the ${role} step returned ${got.join(', ') || 'nothing'}; it emits ${emits.join(', ')}`,
      );
    }
    record.transcript.push(...envs);
    return envs;
  }

  /** The departments' pooled risk score for the top fix, when pooling is on and supported. */
  async #poolRisk(r: IncidentRecord): Promise<PooledRisk | undefined> {
    const d = this.#d;
    const fix = r.fixes?.proposals[0];
    if (!d.poolRisk || !d.coordinator.poolRisk || fix === undefined) return undefined;
    return d.coordinator.poolRisk(strategyRiskSubject(r.id, fix, r.context.urgency, d.environment), {
      traceId: r.trace_id,
    });
  }

  /**
   * Strategy's decision on the top fix (pooled first when pooling is on), and where it leads: the
   * event the caller applies, `approval_requested` for an automatic one the parties are asked to
   * approve, `human_required` when strategy asked for a person or the fix recurred, `rejected` when
   * strategy refused it (with `r.reason` set). The decision, and the pooled round it cites, replace
   * any earlier one on the record.
   */
  async #decide(r: IncidentRecord): Promise<{
    event: 'approval_requested' | 'human_required' | 'rejected';
    actor: string;
    detail: Record<string, unknown>;
  }> {
    const d = this.#d;
    const extra: Record<string, unknown> = d.environment === undefined ? {} : { environment: d.environment };
    const pooled = await this.#poolRisk(r);
    if (pooled) {
      r.pooled_risk = pooled;
      extra['pooled'] = pooled.ref;
    }
    await this.#agent(r, 'strategy', extra);
    const decision = lastPayload<ApprovalDecisionPayload>(r.transcript, 'ApprovalDecision');
    if (decision === undefined)
      throw new ProtocolError('INCONSISTENT_TRANSCRIPT', 'strategy gave no decision');
    r.decision = decision;
    const actor = 'strategy';
    const detail = {
      decision: decision.decision,
      rule: decision.rule ?? null,
      risk_score: decision.risk.score,
      ...(pooled === undefined ? {} : { pooled: pooledDetail(pooled) }),
    };
    const windowMs = d.recurrenceWindowMs ?? DEFAULT_RECURRENCE_WINDOW_MS;
    let recurrence = r.recurrence_of;
    if (decision.decision === 'auto' && recurrence === undefined && windowMs > 0 && r.recurrence_keys) {
      // Claim the fix for this failure now: another incident of it that is deciding at the
      // same time, or already decided, was not fixed yet when this one arrived.
      const prior = await d.store.claimFix(r.id, r.recurrence_keys, d.now().toISOString(), windowMs);
      if (prior !== undefined) {
        recurrence = {
          incident_id: prior.incident_id,
          fixed_at: prior.fixed_at,
          key: prior.key,
          ...(prior.pending ? { pending: true as const } : {}),
        };
        r.recurrence_of = recurrence;
      }
    }
    if (decision.decision === 'auto' && recurrence !== undefined) {
      // The same failure came back after an executed fix: doing it again could undo it (an
      // image rollback swaps the revisions back), so a person decides.
      return {
        event: 'human_required',
        actor: 'gateway',
        detail: {
          ...detail,
          routed_to_human: 'recurrence',
          recurrence_of: { ...recurrence },
          note: recurrence.pending
            ? `incident ${recurrence.incident_id} is already fixing the same failure (decided at ${recurrence.fixed_at}): a person decides whether to apply this fix too`
            : `recurred after the fix of incident ${recurrence.incident_id} executed at ${recurrence.fixed_at}: a person decides whether to apply it again`,
        },
      };
    }
    if (decision.decision === 'auto') return { event: 'approval_requested', actor, detail };
    if (decision.decision === 'needs_human') return { event: 'human_required', actor, detail };
    r.reason = { code: 'POLICY_REFUSED', message: decision.reason };
    return { event: 'rejected', actor, detail };
  }

  /**
   * The parties' threshold signature on the decision's proposal. When the signing fails because
   * parties refused its pooled-risk reference as stale (`risk.aggregation_stale`: a round each of
   * them confirmed for this proposal, which no longer counts for it, its department's risk view
   * having changed since or the round being past its retention window), and a fresh round could
   * change the outcome (no veto holder refused for another reason, and the other refusals alone do
   * not reject it), the gateway pools again once: strategy decides anew on the new round (a new
   * signed decision joins the transcript), a `risk.repooled` note says why and who refused, and the
   * incident follows the new decision: the parties are asked again for an automatic one, a person
   * for one that now needs a person, and a refused one ends `rejected`. At most once per
   * incident: the note on its record says it pooled again, so neither the second signing's failure
   * nor a later try (after `UNAVAILABLE`, or on a restarted gateway) pools again; they are handled
   * as any other, and the approval, whichever try makes it, says `repooled: true`. A refusal for
   * any other reason never pools again.
   */
  async #requestApproval(
    r: IncidentRecord,
    first: NonNullable<IncidentRecord['decision']>['proposal'],
    firstBacking: ApprovalBacking,
  ): Promise<void> {
    const d = this.#d;
    let proposal = first;
    let backing = firstBacking;
    let repooled = repooledNote(r);
    for (;;) {
      try {
        const result = await d.coordinator.signApproval(proposal, backing);
        r.approval = {
          signature: bytesToHex(result.signature),
          signers: result.signers,
          refusals: result.refusals,
          misbehaved: result.misbehaved,
          unavailable: result.unavailable,
        };
        this.#advance(r, 'approved', 'parties', {
          signers: result.signers,
          refusals: result.refusals.map((x) => `${x.party}:${x.rule}`),
          ...(repooled === undefined ? {} : { repooled: true }),
        });
      } catch (e) {
        const failure = quorumFailureOf(e);
        if (failure === undefined || !isAapsError(e)) throw e;
        const { refusals, vetoes } = failure;
        // Rejected when a veto holder (quality assurance) refused, or when enough parties refused
        // on policy; parties that did not answer make the quorum unreachable for now, which is
        // an availability failure, not a verdict. When a veto holder is among them (it did not
        // refuse: it is in every quorum), the approval waits for it (see `#drive`).
        // A party every approval quorum includes, proven to cheat (its signature share did not
        // verify): no approval can be made without it, so the incident fails now, naming it,
        // rather than waiting for it as for one that is down.
        const cheated = failure.required_culprits;
        if (cheated.length > 0) {
          throw new ProtocolError(
            'INVALID_SIGNATURE_SHARE',
            `${cheated.join(', ')}, which every approval quorum includes, sent signature shares that do not verify: ${e.message}`,
            e instanceof ProtocolError ? e.culprits : [],
            { details: { refusals, culprit_parties: cheated } },
          );
        }
        const { threshold } = await d.coordinator.keys();
        const stale = refusals.filter((x) => x.rule === STALE_POOLED_RISK);
        const others = refusals.filter((x) => x.rule !== STALE_POOLED_RISK);
        if (
          repooled === undefined &&
          stale.length > 0 &&
          !vetoes.some((x) => x.rule !== STALE_POOLED_RISK) &&
          others.length <= threshold.max - threshold.min
        ) {
          repooled = this.#repoolReason(proposal, stale);
          if (repooled !== undefined) {
            this.#d.logger.info('risk.repooling', { incident_id: r.id, ...repooled });
            const decided = await this.#decide(r);
            if (decided.event !== 'approval_requested') {
              // The note and the state the new decision leads to are one write: written apart, a
              // gateway stopped between them would resume in awaiting_approval on a decision that
              // is not an automatic one, and ask the parties to sign what strategy (or the
              // recurrence rule) sent to a person or refused.
              const from = r.timeline.length;
              this.#noteEntry(r, 'risk.repooled', { ...repooled, ...decided.detail });
              this.#advance(r, decided.event, decided.actor, { ...decided.detail, repooled: true });
              return this.#save(r, from);
            }
            // Noted before anything else happens: the new decision is on the record from here on
            // (a failure later is retried on it, and does not pool again while it holds).
            await this.#note(r, 'risk.repooled', { ...repooled, ...decided.detail });
            const next = r.decision?.proposal;
            const nextBacking = backingFromTranscript(r.transcript);
            if (next === undefined || nextBacking === undefined)
              throw new ProtocolError('INCONSISTENT_TRANSCRIPT', 'no proposal to approve');
            proposal = next;
            backing = nextBacking;
            continue;
          }
        }
        if (vetoes.length === 0 && refusals.length <= threshold.max - threshold.min) {
          // The required parties (veto holders) the coordinator lost without a refusal.
          const waitingFor = failure.required_unavailable;
          const message =
            waitingFor.length > 0
              ? `approval waits for ${waitingFor.join(', ')}, which every approval quorum includes: ${e.message}`
              : `${e.message} (${refusals.length} refused)`;
          throw new ProtocolError('UNAVAILABLE', message, [], {
            details: { refusals, ...(waitingFor.length > 0 ? { waiting_for: waitingFor } : {}) },
          });
        }
        const refused = refusals.map((x) => `${x.party}:${x.rule}`);
        // Refused for the human approval alone (run out, longer than a party's policy accepts,
        // missing where a party's policy wants one): nobody said no to the change, so a person
        // decides again, and may send a new approval.
        if (refusals.length > 0 && refusals.every((x) => x.rule.startsWith('human_approval.'))) {
          return this.#backToHuman(r, 'parties', { refusals: refused });
        }
        r.approval = { signature: '', signers: [], refusals, misbehaved: [] };
        r.reason = { code: e.code, message: e.message };
        this.#advance(r, 'rejected', 'parties', { refusals: refused });
      }
      return this.#save(r);
    }
  }

  /**
   * Why the gateway pools again for an approval `stale` refused (see `#requestApproval`), as the
   * `risk.repooled` note says it: the rule, who refused the old reference, and the old round; or
   * `undefined` when pooling is off or the proposal cites no round (nothing to pool again).
   */
  #repoolReason(
    proposal: NonNullable<IncidentRecord['decision']>['proposal'],
    stale: readonly { party: string; rule: string }[],
  ): Record<string, unknown> | undefined {
    const previous = proposal.risk.aggregation_ref;
    if (!this.#d.poolRisk || !this.#d.coordinator.poolRisk || previous === undefined) return undefined;
    return {
      because: STALE_POOLED_RISK,
      refused_by: stale.map((x) => x.party),
      previous: { session_id: previous.session_id, value: previous.value },
    };
  }

  /** The gateway's own envelope (as `source`), signed with its identity key. */
  #gatewayEnvelope(
    record: IncidentRecord,
    source: string,
    target: string,
    type: 'ExecutionOrder' | 'ExecutionResult',
    payload: unknown,
  ): SignedEnvelope {
    const env: Envelope<Record<string, unknown>> = {
      meta: {
        trace_id: record.trace_id,
        span_id: randomUUID(),
        timestamp: this.#d.now().toISOString(),
        source_agent: source,
        target_agent: target,
        message_type: type,
        schema_version: SCHEMA_VERSION,
        idempotency_key: `${record.id}:${type}:${record.transcript.length}`,
      },
      context: record.context,
      payload: toJson(payload) as Record<string, unknown>,
    };
    return signEnvelope(env, this.#d.identity.key.secretKey);
  }

  async #drive(id: string): Promise<void> {
    const d = this.#d;
    const log = d.logger.child({ incident_id: id });
    // Nothing else writes an incident while it is driven (the run holds its lock; `approve` and
    // `resolveBySource` wait for it), so the record is read once and carried from step to step.
    let record = await this.#load(id);
    for (let guard = 0; guard < 32; guard++) {
      if (this.#closed) return;
      if (
        record.state === 'awaiting_human' ||
        (isTerminal(record.state) && record.evidence_id !== undefined)
      ) {
        this.#forgetOutage(id);
        return;
      }
      try {
        const from = record.state;
        await this.#step(record);
        this.#outageOver(id, from);
        this.#wakeWaiting(from);
      } catch (e) {
        // A write the store did not take is not the step's failure: the incident is not failed
        // for it (it stays as last saved, and `start` tries it again).
        if (e instanceof StoreWriteError) throw e;
        const info = errorInfo(e);
        // A failure that is retried is logged by #retryLater (as the timeline notes it); this line
        // is for debugging, and the incident's end is logged below.
        log.log('debug', 'workflow.step_failed', { state: record.state, code: info.code });
        const fresh = await this.#load(id);
        record = fresh;
        if (this.#closed) return; // left as it is, for the next start
        if (isTerminal(fresh.state)) {
          // Sealing failed: the incident has ended, only its evidence is missing. Try again in the
          // background, with no budget (and on restart, as before), and say why on its timeline.
          const t = this.#failedTry(id, fresh.state, info.code);
          const outage = TRANSIENT.has(info.code) ? 'evidence' : undefined;
          const wait = this.#outageWait(
            id,
            outage,
            backoff(d.retryDelayMs, t.attempt, d.sealRetryMaxDelayMs),
          );
          // The parties that refused to sign it, and by which rule, so the reason is on the timeline.
          return this.#retryLater(fresh, 'evidence.retrying', { ...info, ...refusedBy(e) }, t, wait);
        }
        // An approval that has no quorum only because a party every approval quorum must include
        // (quality assurance, a veto holder) is unreachable waits for that party with no budget,
        // as sealing does: the approval cannot go on without it, and it is no verdict. So does the
        // verification of an executed change while quality assurance is unreachable (`#verify`):
        // giving up would leave the change in place unverified.
        const waitingFor = TRANSIENT.has(info.code) ? requiredPartiesWaitedFor(e) : [];
        if (waitingFor.length > 0) {
          const t = this.#failedTry(id, fresh.state, info.code, true);
          const outage = `party:${[...waitingFor].sort().join(',')}`;
          const wait = this.#outageWait(
            id,
            outage,
            backoff(d.retryDelayMs, t.attempt, d.sealRetryMaxDelayMs),
          );
          return this.#retryLater(fresh, 'step.retrying', info, t, wait, waitingFor);
        }
        // A party that is unreachable (down, restarting) is tried again, with a growing wait, for
        // up to the retry budget; the incident waits on its timeline and holds no lock meanwhile.
        this.#leaveOutage(id);
        if (TRANSIENT.has(info.code)) {
          const t = this.#failedTry(id, fresh.state, info.code);
          const left = d.retryBudgetMs - t.elapsed;
          if (left > 0) {
            const wait = Math.ceil(Math.min(backoff(d.retryDelayMs, t.attempt, d.retryMaxDelayMs), left));
            return this.#retryLater(fresh, 'step.retrying', info, t, wait);
          }
        }
        this.#forgetOutage(id);
        log.warn('workflow.step_failed', { state: fresh.state, code: info.code, ends: 'failed' });
        fresh.reason = info;
        this.#advance(fresh, 'failed', 'gateway', { code: info.code });
        await this.#save(fresh);
      }
    }
  }

  async #step(r: IncidentRecord): Promise<void> {
    const d = this.#d;
    switch (r.state) {
      case 'received': {
        const [env] = await this.#agent(r, 'monitoring');
        const triage = env?.payload as unknown as TriagedSignal;
        r.triage = triage;
        r.type = triage.incident_type;
        this.#advance(r, 'triaged', 'monitoring', {
          incident_type: triage.incident_type,
          subtype: triage.triage.subtype,
          route: triage.triage.route,
        });
        return this.#save(r);
      }
      case 'triaged': {
        const extra = await this.#solverExtra(r);
        await this.#agent(r, 'problem-solver', extra);
        r.rca = lastPayload<RCAReport>(r.transcript, 'RCAReport');
        const fixes = lastPayload<FixProposalSet>(r.transcript, 'FixProposal');
        r.fixes = fixes;
        const actor = 'problem-solver';
        if (fixes === undefined || fixes.proposals.length === 0) {
          // What the person is to look at, before any evidence is sealed: the cause found and,
          // for each escalation, what it needs (the problem solver's own words).
          const escalations = fixes?.escalations ?? [];
          this.#advance(r, 'human_required', actor, {
            escalations: escalations.map((e) => e.kind),
            root_cause: r.rca?.root_cause ?? null,
            details: escalations.map((e) => ({ kind: e.kind, detail: e.detail })),
          });
        } else {
          this.#advance(r, 'proposed', actor, {
            proposals: fixes.proposals.map((p) => p.action),
            root_cause: r.rca?.root_cause ?? null,
          });
        }
        return this.#save(r);
      }
      case 'proposed': {
        const decided = await this.#decide(r);
        this.#advance(r, decided.event, decided.actor, decided.detail);
        return this.#save(r);
      }
      case 'awaiting_approval': {
        const proposal = r.decision?.proposal;
        const backing = backingFromTranscript(r.transcript);
        if (proposal === undefined || backing === undefined)
          throw new ProtocolError('INCONSISTENT_TRANSCRIPT', 'no proposal to approve');
        // A human approval that ran out while the incident waited here (for quality assurance, a
        // restart) goes back to a person before the parties are asked: they would all refuse it.
        const window =
          proposal.human_approval === undefined
            ? []
            : approvalWindowIssues(proposal.human_approval, d.now(), this.#approvalWindow());
        if (window.length > 0) {
          return this.#backToHuman(r, 'gateway', {
            approval_window: window.map((i) => `${i.field} ${i.problem}`),
          });
        }
        return this.#requestApproval(r, proposal, backing);
      }
      case 'approved': {
        const order = await this.#order(r);
        r.transcript.push(
          this.#gatewayEnvelope(r, d.identity.id, MAINTENANCE_AGENT, 'ExecutionOrder', order),
        );
        r.pending = 'execute';
        this.#advance(r, 'execution_started', MAINTENANCE_AGENT, { executor: d.executor.name });
        await this.#save(r);
        const keys = await d.coordinator.keys();
        const { record } = await executeOrder(order, d.executor, {
          ciphersuite: keys.ciphersuite as never,
          groupPublicKey: hexToBytes(keys.group_public_key),
        });
        return this.#finishExecution(r, order, record);
      }
      case 'executing': {
        // Only reached after a crash between writing `pending: execute` and the result.
        const order = lastPayload<ExecutionOrderPayload>(r.transcript, 'ExecutionOrder');
        const rollback =
          order === undefined
            ? { done: true, detail: 'no order was issued' }
            : await d.executor.rollback(order, undefined).catch(rollbackFailed);
        const record = {
          executor: d.executor.name,
          status: rollback.done ? ('rolled_back' as const) : ('failed' as const),
          change: {},
          post_checks: [],
          rollback,
          error: 'INTERRUPTED: the gateway stopped during execution',
        };
        return this.#finishExecution(r, order, record);
      }
      case 'verifying': {
        // After a crash between the decision to undo the change (a veto, or a verification that
        // could not be completed) and the rollback, that decision stands: go on to the rollback.
        const decided = r.pending === 'rollback';
        const report = decided ? r.verification : await this.#verify(r);
        const actor = 'quality-assurance';
        if (report?.verdict === 'pass') {
          r.verification = report;
          await this.#markRolloutHealthy(r, report);
          this.#advance(r, 'verification_passed', actor, { verdict: 'pass' });
          return this.#save(r);
        }
        if (report !== undefined) {
          r.verification = report;
          r.reason = {
            code: 'POLICY_REFUSED',
            message: `quality assurance vetoed: ${report.vetoed_by.join(', ')}`,
          };
        }
        // Without a report, `#verify` set the reason (why verification could not be completed).
        const why =
          report !== undefined
            ? { vetoed_by: report.vetoed_by }
            : { verification: 'not completed', ...(r.reason ?? { code: 'INTERNAL', message: '' }) };
        r.pending = 'rollback';
        await this.#save(r);
        const order = lastPayload<ExecutionOrderPayload>(r.transcript, 'ExecutionOrder');
        const applied: AppliedChange | undefined = r.execution
          ? {
              change: r.execution.change,
              post_checks: r.execution.post_checks,
              ...(r.execution.ref ? { ref: r.execution.ref } : {}),
            }
          : undefined;
        const rollback =
          order === undefined
            ? { done: false, detail: 'no order' }
            : await d.executor.rollback(order, applied).catch(rollbackFailed);
        if (r.execution)
          r.execution = {
            ...r.execution,
            status: rollback.done ? 'rolled_back' : r.execution.status,
            rollback,
          };
        r.transcript.push(
          this.#gatewayEnvelope(r, MAINTENANCE_AGENT, 'audit', 'ExecutionResult', {
            incident_id: r.id,
            proposal_digest: r.decision?.proposal.proposal_digest ?? '',
            status: rollback.done ? 'rolled_back' : 'failed',
            executor: d.executor.name,
            rollback,
            cause: why,
          }),
        );
        delete r.pending;
        if (rollback.done)
          this.#advance(r, 'rolled_back', MAINTENANCE_AGENT, { ...why, rollback: rollback.detail });
        else this.#advance(r, 'verification_failed', actor, { ...why, rollback: rollback.detail });
        return this.#save(r);
      }
      default:
        if (isTerminal(r.state) && r.evidence_id === undefined) return this.#seal(r);
        throw new ProtocolError('ROUND_ORDER', `nothing to do in ${r.state}`);
    }
  }

  async #finishExecution(
    r: IncidentRecord,
    order: ExecutionOrderPayload | undefined,
    record: NonNullable<IncidentRecord['execution']>,
  ): Promise<void> {
    const d = this.#d;
    r.execution = record;
    r.transcript.push(
      this.#gatewayEnvelope(r, MAINTENANCE_AGENT, 'quality-assurance', 'ExecutionResult', {
        incident_id: r.id,
        proposal_digest: order?.proposal.proposal_digest ?? '',
        status: record.status,
        executor: record.executor,
        post_checks: record.post_checks,
        change: record.change,
        ...(record.rollback ? { rollback: record.rollback } : {}),
        ...(record.error ? { error: record.error } : {}),
      }),
    );
    delete r.pending;
    if (record.status === 'succeeded') {
      this.#advance(r, 'executed', MAINTENANCE_AGENT, { executor: record.executor, ref: record.ref ?? null });
      if (
        order?.proposal.action === 'image_rollback' &&
        typeof order.proposal.parameters['to_image'] === 'string'
      ) {
        await this.#recordRollout(r.id, order);
      }
    } else if (record.status === 'rolled_back') {
      r.reason = { code: 'EXECUTION_FAILED', message: record.error ?? 'execution failed' };
      this.#advance(r, 'rolled_back', MAINTENANCE_AGENT, {
        error: record.error ?? null,
        rollback: record.rollback?.detail ?? null,
      });
    } else {
      r.reason = { code: 'EXECUTION_FAILED', message: record.error ?? 'execution failed' };
      this.#advance(r, 'failed', MAINTENANCE_AGENT, {
        error: record.error ?? null,
        rollback: record.rollback?.detail ?? null,
      });
    }
    await d.store.putIncident(r);
    const entry = r.timeline[r.timeline.length - 1];
    if (entry) d.events.publish({ incident_id: r.id, state: r.state, entry });
  }

  /**
   * An executed image rollback, as a deployment of its target. Its outcome is `unknown` until
   * quality assurance passes the change (`#markRolloutHealthy`): only then is the image a
   * known-good digest a later rollback may go back to.
   */
  async #recordRollout(incidentId: string, order: ExecutionOrderPayload): Promise<void> {
    const p = order.proposal.parameters;
    const deployedAt = this.#d.now().toISOString();
    // The next revision is taken inside the history's own serialised update: two rollouts of one
    // workload finishing together each get theirs.
    await this.#d.store.updateDeploymentHistory(order.proposal.target, (history) => [
      ...history,
      {
        workload: order.proposal.target,
        container: String(p['container'] ?? ''),
        image: String(p['to_image']),
        revision: Math.max(0, ...history.map((h) => h.revision)) + 1,
        deployed_at: deployedAt,
        outcome: 'unknown',
        incident_id: incidentId,
      },
    ]);
  }

  /**
   * Verification passed: the rollout this incident recorded ran healthy. The signature check is
   * what quality assurance's `signature_verify` stage found (left out when it had no result to
   * check). Called before the `resolved` state is saved, so after a restart in between the
   * verification runs again and this with it (it is idempotent).
   */
  async #markRolloutHealthy(r: IncidentRecord, report: VerificationReport): Promise<void> {
    const proposal = r.decision?.proposal;
    if (proposal?.action !== 'image_rollback' || typeof proposal.parameters['to_image'] !== 'string') return;
    const stage = report.stages.find((st) => st.name === 'signature_verify')?.status;
    await this.#d.store.updateDeploymentHistory(proposal.target, (history) =>
      history.map((h) => {
        if (h.incident_id !== r.id) return h;
        const { signature_verified: _unchecked, ...rest } = h;
        return {
          ...rest,
          outcome: 'healthy',
          ...(stage === 'pass'
            ? { signature_verified: true }
            : stage === 'fail'
              ? { signature_verified: false }
              : {}),
        };
      }),
    );
  }

  async #order(r: IncidentRecord): Promise<ExecutionOrderPayload> {
    const keys = await this.#d.coordinator.keys();
    const proposal = r.decision?.proposal;
    if (proposal === undefined || r.approval === undefined || r.approval.signature === '') {
      throw new ProtocolError('INCONSISTENT_TRANSCRIPT', 'approved without a signed proposal');
    }
    return {
      incident_id: r.id,
      proposal,
      approval: {
        ciphersuite: keys.ciphersuite,
        group_public_key: keys.group_public_key,
        signature: r.approval.signature,
        signers: r.approval.signers,
      },
      executor: this.#d.executor.name,
    };
  }

  /** Deployment history and sources of truth for the problem solver. */
  async #solverExtra(r: IncidentRecord): Promise<Record<string, unknown>> {
    const meta =
      (r.transcript[0]?.payload as { metadata?: Record<string, unknown> } | undefined)?.metadata ?? {};
    const facts = r.triage?.triage.facts;
    // A copy: the signal's own array is part of a signed envelope and must stay as it was signed.
    const history: DeploymentRecord[] = Array.isArray(meta['deployment_history'])
      ? [...(meta['deployment_history'] as DeploymentRecord[])]
      : [];
    for (const w of facts?.workloads ?? []) history.push(...(await this.#d.store.deploymentHistory(w)));
    const sources: Record<string, unknown> = isObject(meta['sources']) ? { ...meta['sources'] } : {};
    const cfg = facts?.config;
    if (cfg?.namespace !== undefined && this.#d.gitopsRepoUrl !== undefined) {
      const uri = `${cfg.kind}://${cfg.namespace}/${cfg.name}`;
      sources[uri] ??= {
        kind: 'gitops',
        repo: this.#d.gitopsRepoUrl,
        path: `${cfg.namespace}/${cfg.kind}/${cfg.name}.json`,
      };
    }
    return { deployment_history: history, sources };
  }

  /**
   * Quality assurance's report on the executed change. Nothing the parties approved stays in place
   * unverified (fail closed). Quality assurance verifies every executed change as it signs every
   * approval, so while it is unreachable (`UNAVAILABLE`, `TIMEOUT`) the incident waits for it with
   * no budget, as an approval does (the error names it in `waiting_for`, see `#drive`). A
   * verification that fails otherwise (an input refused, no report) cannot be completed: the change
   * is undone as after a veto, so this returns `undefined` with `r.reason` saying why.
   */
  async #verify(r: IncidentRecord): Promise<VerificationReport | undefined> {
    try {
      const [env] = await this.#agent(r, 'quality-assurance', this.#artifacts(r));
      const report = env?.payload as Partial<VerificationReport> | undefined;
      const known =
        report?.verdict === 'pass' || (report?.verdict === 'veto' && Array.isArray(report.vetoed_by));
      if (!known)
        throw new ProtocolError('INCONSISTENT_TRANSCRIPT', 'quality assurance sent no verification report');
      return report as VerificationReport;
    } catch (e) {
      const info = errorInfo(e);
      if (TRANSIENT.has(info.code)) {
        const parties = await this.#d.coordinator.keys().then(
          (k) => k.parties.filter((p) => p.role === 'quality-assurance').map((p) => p.id),
          () => [],
        );
        const waitingFor = parties.length > 0 ? parties : ['quality-assurance'];
        throw new ProtocolError(
          info.code as 'UNAVAILABLE' | 'TIMEOUT',
          `verification waits for ${waitingFor.join(', ')}, which verifies every executed change: ${info.message}`,
          [],
          { details: { waiting_for: waitingFor }, cause: e },
        );
      }
      r.reason = {
        code: info.code,
        message: `quality assurance could not verify the change: ${info.message}`,
      };
      return undefined;
    }
  }

  /** Verification artifacts the signal carried (scan, signature, provenance, tests). */
  #artifacts(r: IncidentRecord): Record<string, unknown> {
    const meta =
      (r.transcript[0]?.payload as { metadata?: Record<string, unknown> } | undefined)?.metadata ?? {};
    return isObject(meta['verification_artifacts']) ? { artifacts: meta['verification_artifacts'] } : {};
  }

  async #seal(r: IncidentRecord): Promise<void> {
    const d = this.#d;
    const last = r.transcript[r.transcript.length - 1];
    let summary: EvidenceSummary;
    // The audit step ran already (a retry): its EvidenceBundleRef, from the party in the audit role
    // (whatever its id), is the last envelope; running it again would add a second one.
    const fromAudit = async (source: string) =>
      (await d.coordinator.keys()).parties.some((p) => p.role === 'audit' && p.id === source);
    if (last?.meta.message_type === 'EvidenceBundleRef' && (await fromAudit(last.meta.source_agent))) {
      summary = last.payload as unknown as EvidenceSummary;
    } else {
      const [env] = await this.#agent(r, 'audit', { audit: this.#auditInput(r) });
      summary = env?.payload as unknown as EvidenceSummary;
      r.pending = 'evidence';
      await d.store.putIncident(r);
    }
    // The signed bundle is stored with the record before it goes into the log, and the log takes a
    // bundle it holds already once (appendOnce): a crash anywhere after the signing resumes with
    // the same bundle and the same log entry, never a second one.
    let sealing = r.sealing;
    let draft = sealing === undefined ? undefined : await d.store.getEvidence(sealing.evidence_id);
    if (sealing === undefined || draft === undefined) {
      const signed = await d.evidence.sign(r, summary);
      sealing = { evidence_id: signed.evidenceId };
      draft = signed.bundle;
      r.sealing = sealing;
      await d.store.putEvidence(sealing.evidence_id, draft, r);
    }
    const bundle = await d.evidence.publish(draft, sealing.log_index);
    const sealed = { evidenceId: sealing.evidence_id, bundle };
    r.evidence_id = sealed.evidenceId;
    delete r.pending;
    delete r.sealing;
    r.updated_at = d.now().toISOString();
    await d.store.putEvidence(sealed.evidenceId, sealed.bundle, r);
    const entry = r.timeline[r.timeline.length - 1];
    if (entry) d.events.publish({ incident_id: r.id, state: r.state, entry });
    const started = Date.parse(r.created_at);
    d.metrics?.incidentSeconds.observe(Math.max(0, (d.now().getTime() - started) / 1000), { type: r.type });
    d.metrics?.sealed.inc({ state: r.state });
    d.logger.info('evidence.sealed', { incident_id: r.id, evidence_id: sealed.evidenceId, state: r.state });
  }

  #auditInput(r: IncidentRecord): AuditInput {
    const times: Record<string, string> = {};
    for (const e of r.timeline) if (!isTimelineNote(e.event)) times[e.event] ??= e.at;
    const triage = r.triage ?? (r.transcript[0]?.payload as unknown as TriagedSignal);
    const input: AuditInput = {
      incident_id: r.id,
      state: r.state,
      signal: triage,
      human_approvals: r.human_approvals,
      times,
    };
    if (r.rca) input.rca = r.rca;
    if (r.decision) input.decision = r.decision;
    if (r.approval) {
      input.approval = {
        signers: r.approval.signers,
        refusals: r.approval.refusals.map((x) => ({ party: x.party, rule: x.rule })),
        ...(r.approval.signature ? { signature: r.approval.signature } : {}),
      };
    }
    // The last ExecutionResult is where the change ended (a veto's undo that failed leaves the
    // record's status `succeeded`, its result says `failed`): the summary states that one, as the
    // evidence checks hold it to (docs/evidence.md `action`).
    const exec = lastPayload<Record<string, unknown>>(r.transcript, 'ExecutionResult');
    if (exec && r.execution) {
      const rollback = exec['rollback'] as { done: boolean; detail: string } | undefined;
      input.execution = {
        incident_id: r.id,
        proposal_digest: String(exec['proposal_digest'] ?? ''),
        status: (exec['status'] as ExecutionStatus | undefined) ?? r.execution.status,
        executor: typeof exec['executor'] === 'string' ? exec['executor'] : r.execution.executor,
        post_checks: r.execution.post_checks,
        ...(rollback === undefined ? {} : { rollback }),
      };
    }
    if (r.verification) input.verification = r.verification;
    return toJson(input);
  }
}
