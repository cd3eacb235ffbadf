import { EXECUTION_STEPS } from '@aaps/evidence';
import { ProtocolError } from '@aaps/mpc-core';
import { describe, expect, it } from 'vitest';
import {
  INCIDENT_EVENTS,
  INITIAL_STATE,
  type IncidentEvent,
  type IncidentState,
  isTerminal,
  replayTimeline,
  startTimeline,
  step,
  type TimelineEntry,
  TRANSITIONS,
  transition,
} from './machine.js';

function run(events: readonly IncidentEvent[]): IncidentState {
  return events.reduce<IncidentState>((s, e) => transition(s, e), INITIAL_STATE);
}

function codeOf(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(ProtocolError);
    if (e instanceof ProtocolError) return e.code;
  }
  return 'no error';
}

describe('incident state machine', () => {
  it('walks the automatic path to resolved', () => {
    const s = run([
      'triaged',
      'proposed',
      'approval_requested',
      'approved',
      'execution_started',
      'executed',
      'verification_passed',
    ]);
    expect(s).toBe('resolved');
    expect(isTerminal(s)).toBe(true);
  });

  it('waits for a human, then executes', () => {
    expect(run(['triaged', 'proposed', 'approval_requested', 'human_required'])).toBe('awaiting_human');
    expect(run(['triaged', 'proposed', 'approval_requested', 'human_required', 'approved'])).toBe('approved');
    expect(run(['triaged', 'human_required', 'rejected'])).toBe('rejected');
  });

  it('rolls back after a QA veto or a failed execution', () => {
    const approved: IncidentEvent[] = [
      'triaged',
      'proposed',
      'approval_requested',
      'approved',
      'execution_started',
    ];
    expect(run([...approved, 'executed', 'rolled_back'])).toBe('rolled_back');
    expect(run([...approved, 'rolled_back'])).toBe('rolled_back');
    expect(run([...approved, 'executed', 'verification_failed'])).toBe('failed');
  });

  it('closes an incident the source resolved before any change, but not during one', () => {
    expect(run(['triaged', 'proposed', 'resolved_by_source'])).toBe('resolved');
    expect(codeOf(() => transition('executing', 'resolved_by_source'))).toBe('ROUND_ORDER');
  });

  it('refuses illegal and post-terminal events with ROUND_ORDER', () => {
    expect(codeOf(() => transition('received', 'approved'))).toBe('ROUND_ORDER');
    expect(codeOf(() => transition('resolved', 'triaged'))).toBe('ROUND_ORDER');
    expect(codeOf(() => transition('rejected', 'failed'))).toBe('ROUND_ORDER');
  });

  it('builds and replays a timeline', () => {
    const t0 = startTimeline({ at: '2026-01-01T00:00:00Z', actor: 'source:kubernetes' });
    const t1 = step(t0.state, 'triaged', {
      at: '2026-01-01T00:00:01Z',
      actor: 'monitoring',
      detail: { incident_type: 'resource_quota_exceeded' },
    });
    expect(t1).toEqual({
      at: '2026-01-01T00:00:01Z',
      state: 'triaged',
      event: 'triaged',
      actor: 'monitoring',
      detail: { incident_type: 'resource_quota_exceeded' },
    });
    expect(replayTimeline([t0, t1])).toBe('triaged');
  });

  it('replays notes (a joined occurrence, a late resolve) as keeping the state', () => {
    const t0 = startTimeline({ at: '2026-01-01T00:00:00Z', actor: 'source:argocd' });
    const joined: TimelineEntry = {
      at: '2026-01-01T00:00:01Z',
      state: 'received',
      event: 'occurrence.joined',
      actor: 'source:argocd',
      detail: { occurrence: 1 },
    };
    const t2 = step('received', 'triaged', { at: '2026-01-01T00:00:02Z', actor: 'monitoring' });
    const late: TimelineEntry = { ...joined, state: 'triaged', event: 'source.resolved' };
    expect(replayTimeline([t0, joined, t2, late])).toBe('triaged');
    const moved: TimelineEntry = { ...joined, state: 'triaged' };
    expect(codeOf(() => replayTimeline([t0, moved]))).toBe('INCONSISTENT_TRANSCRIPT');
  });

  it('rejects a timeline that skips a step or lies about a state', () => {
    const t0 = startTimeline({ at: '2026-01-01T00:00:00Z', actor: 'gateway' });
    const skip: TimelineEntry = { at: 'x', state: 'approved', event: 'approved', actor: 'a' };
    const lie: TimelineEntry = { at: 'x', state: 'proposed', event: 'triaged', actor: 'a' };
    expect(codeOf(() => replayTimeline([t0, skip]))).toBe('ROUND_ORDER');
    expect(codeOf(() => replayTimeline([t0, lie]))).toBe('INCONSISTENT_TRANSCRIPT');
    expect(codeOf(() => replayTimeline([]))).toBe('INCONSISTENT_TRANSCRIPT');
    expect(codeOf(() => replayTimeline([t0, t0]))).toBe('INCONSISTENT_TRANSCRIPT');
  });
});

describe('the steps evidence treats as an execution', () => {
  it('are exactly the events no incident can reach without execution_started', () => {
    // The states reachable before a change starts: every edge but execution_started.
    const before = new Set<IncidentState>([INITIAL_STATE]);
    for (let grew = true; grew; ) {
      grew = false;
      for (const s of [...before])
        for (const [event, to] of Object.entries(TRANSITIONS[s]))
          if (event !== 'execution_started' && !before.has(to)) {
            before.add(to);
            grew = true;
          }
    }
    const onlyAfter = INCIDENT_EVENTS.filter(
      (e) => e === 'execution_started' || ![...before].some((s) => TRANSITIONS[s][e] !== undefined),
    );
    // aaps-verify fails a bundle recording one of them without the ExecutionOrder that approved it.
    expect([...onlyAfter].sort()).toEqual([...EXECUTION_STEPS].sort());
  });
});
