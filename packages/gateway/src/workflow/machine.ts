/**
 * The incident state machine (DESIGN.md "Incident workflow"). Pure: a table of allowed edges,
 * `transition(state, event)`, and the timeline entry each step appends. An event the table does
 * not allow in a state is a `ProtocolError` with code `ROUND_ORDER`; terminal states allow none.
 */
import { ProtocolError } from '@aaps/mpc-core';

export const INCIDENT_STATES = [
  'received',
  'triaged',
  'proposed',
  'awaiting_approval',
  'awaiting_human',
  'approved',
  'rejected',
  'executing',
  'verifying',
  'resolved',
  'failed',
  'rolled_back',
] as const;
export type IncidentState = (typeof INCIDENT_STATES)[number];

export const INCIDENT_EVENTS = [
  /** Monitoring normalised, deduplicated and classified the signal. */
  'triaged',
  /** The problem solver's RCA and fix proposals are in. */
  'proposed',
  /** The decision goes to the parties for a k-of-n FROST signature. */
  'approval_requested',
  /** Policy (or an `unknown` incident type) needs a signed human approval. */
  'human_required',
  /** The decision carries the threshold signature (and the human approval where required). */
  'approved',
  /** Strategy, the parties or a human said no. */
  'rejected',
  /** Maintenance accepted the `ExecutionOrder` after checking its threshold signature. */
  'execution_started',
  /** The change is applied (or recorded, for dry-run); quality assurance verifies it. */
  'executed',
  'verification_passed',
  /** Quality assurance vetoed (or could not verify the change) and nothing could be rolled back. */
  'verification_failed',
  /** A failed execution or a vetoed change was undone. */
  'rolled_back',
  /** Anything else went wrong (quorum unreachable, executor error without rollback...). */
  'failed',
  /** The source system reported the problem gone (e.g. Alertmanager `resolved`) before any change. */
  'resolved_by_source',
] as const;
export type IncidentEvent = (typeof INCIDENT_EVENTS)[number];

export const INITIAL_STATE: IncidentState = 'received';
export const TERMINAL_STATES: readonly IncidentState[] = ['resolved', 'failed', 'rolled_back', 'rejected'];

type Edges = Readonly<Partial<Record<IncidentEvent, IncidentState>>>;

const BEFORE_CHANGE = { resolved_by_source: 'resolved', failed: 'failed' } as const;

/** Every allowed edge: `TRANSITIONS[from][event] = to`. */
export const TRANSITIONS: Readonly<Record<IncidentState, Edges>> = Object.freeze({
  received: { triaged: 'triaged', ...BEFORE_CHANGE },
  triaged: { proposed: 'proposed', human_required: 'awaiting_human', ...BEFORE_CHANGE },
  proposed: {
    approval_requested: 'awaiting_approval',
    human_required: 'awaiting_human',
    rejected: 'rejected',
    ...BEFORE_CHANGE,
  },
  awaiting_approval: {
    approved: 'approved',
    human_required: 'awaiting_human',
    rejected: 'rejected',
    ...BEFORE_CHANGE,
  },
  awaiting_human: {
    approved: 'approved',
    approval_requested: 'awaiting_approval',
    rejected: 'rejected',
    ...BEFORE_CHANGE,
  },
  approved: { execution_started: 'executing', ...BEFORE_CHANGE },
  executing: { executed: 'verifying', rolled_back: 'rolled_back', failed: 'failed' },
  verifying: {
    verification_passed: 'resolved',
    verification_failed: 'failed',
    rolled_back: 'rolled_back',
    failed: 'failed',
  },
  resolved: {},
  failed: {},
  rolled_back: {},
  rejected: {},
});

export function isTerminal(state: IncidentState): boolean {
  return TERMINAL_STATES.includes(state);
}

/** The state `event` leads to from `state`, or `undefined` when the edge is not allowed. */
export function nextState(state: IncidentState, event: IncidentEvent): IncidentState | undefined {
  return TRANSITIONS[state][event];
}

export function canTransition(state: IncidentState, event: IncidentEvent): boolean {
  return nextState(state, event) !== undefined;
}

/** The events allowed in `state` (none in a terminal state). */
export function allowedEvents(state: IncidentState): IncidentEvent[] {
  return INCIDENT_EVENTS.filter((e) => TRANSITIONS[state][e] !== undefined);
}

/** `state` after `event`; throws `ProtocolError` `ROUND_ORDER` for an edge the table does not allow. */
export function transition(state: IncidentState, event: IncidentEvent): IncidentState {
  const to = nextState(state, event);
  if (to === undefined) {
    const why = isTerminal(state) ? `${state} is terminal` : `allowed: ${allowedEvents(state).join(', ')}`;
    throw new ProtocolError('ROUND_ORDER', `event ${event} is not allowed in state ${state} (${why})`, [], {
      details: { state, event },
    });
  }
  return to;
}

/**
 * Timeline entries that record something besides a state change (`state` stays the incident's
 * state):
 * - `step.retrying` while a step is tried again after a transient failure, `evidence.retrying`
 *   while an ended incident's sealing is: `{code, message, attempt, next_in_ms}` (sealing adds
 *   `refused`, `party:rule` of each party that refused to sign), plus
 *   `waiting_for` (the party ids) when an approval or a verification waits for an unreachable veto
 *   holder;
 * - `occurrence.joined`: another occurrence of the problem (a new delivery, not a redelivery)
 *   joined the open incident: `{source, ref, occurrence_key, occurrence, evidence_refs, message}`;
 * - `source.resolved`: the source reported the problem gone after the incident had changed
 *   something (or had ended), too late to end it: `{source_ended_at}`;
 * - `risk.repooled`: parties refused the approval's pooled-risk reference as stale
 *   (`risk.aggregation_stale`), so the gateway pooled again and strategy decided anew:
 *   `{because, refused_by, previous: {session_id, value}, decision, rule, risk_score, pooled}`.
 * The evidence's step times leave them out, and {@link replayTimeline} checks them as notes.
 */
export const TIMELINE_NOTES = [
  'step.retrying',
  'evidence.retrying',
  'occurrence.joined',
  'source.resolved',
  'risk.repooled',
] as const;
export type TimelineNote = (typeof TIMELINE_NOTES)[number];

export function isTimelineNote(event: string): event is TimelineNote {
  return (TIMELINE_NOTES as readonly string[]).includes(event);
}

/** One line of an incident's timeline. The first line has event `received`. */
export interface TimelineEntry {
  /** RFC 3339 time. */
  at: string;
  /** The state after this step. */
  state: IncidentState;
  event: IncidentEvent | TimelineNote | 'received';
  /** Who caused it: an agent role, a party id, `gateway`, `source:alertmanager`, a human approver. */
  actor: string;
  detail?: Record<string, unknown>;
}

export interface StepInput {
  at: string;
  actor: string;
  detail?: Record<string, unknown>;
}

/** The first timeline entry of a new incident. */
export function startTimeline(input: StepInput): TimelineEntry {
  return { at: input.at, state: INITIAL_STATE, event: 'received', actor: input.actor, ...detailOf(input) };
}

/** Applies `event` to the incident whose latest state is `state`, giving the entry to append. */
export function step(state: IncidentState, event: IncidentEvent, input: StepInput): TimelineEntry {
  return { at: input.at, state: transition(state, event), event, actor: input.actor, ...detailOf(input) };
}

/**
 * Checks a stored timeline from its first entry on (every edge allowed, each recorded state the
 * one its event leads to; a note records the state it was written in) and returns the
 * current state.
 */
export function replayTimeline(entries: readonly TimelineEntry[]): IncidentState {
  const [first, ...rest] = entries;
  if (first === undefined || first.event !== 'received' || first.state !== INITIAL_STATE) {
    throw new ProtocolError('INCONSISTENT_TRANSCRIPT', 'a timeline starts with one received entry', [], {
      details: { index: 0 },
    });
  }
  let state: IncidentState = first.state;
  rest.forEach((entry, i) => {
    if (entry.event === 'received') {
      throw new ProtocolError('INCONSISTENT_TRANSCRIPT', 'received appears after the first entry', [], {
        details: { index: i + 1 },
      });
    }
    // A note keeps the state it was written in.
    const to = isTimelineNote(entry.event) ? state : transition(state, entry.event);
    if (to !== entry.state) {
      throw new ProtocolError(
        'INCONSISTENT_TRANSCRIPT',
        `entry ${i + 1} records ${entry.state}, expected ${to}`,
        [],
        {
          details: { index: i + 1 },
        },
      );
    }
    state = to;
  });
  return state;
}

function detailOf(input: StepInput): { detail?: Record<string, unknown> } {
  return input.detail === undefined ? {} : { detail: input.detail };
}
