import { ProtocolError } from '@aaps/mpc-core';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  INCIDENT_EVENTS,
  INCIDENT_STATES,
  INITIAL_STATE,
  type IncidentEvent,
  type IncidentState,
  isTerminal,
  nextState,
  TERMINAL_STATES,
  transition,
} from './machine.js';

/** The workflow as DESIGN.md draws it, written out independently of the table under test. */
const SPEC = `
received -triaged-> triaged
triaged -proposed-> proposed
triaged -human_required-> awaiting_human
proposed -approval_requested-> awaiting_approval
proposed -human_required-> awaiting_human
proposed -rejected-> rejected
awaiting_approval -approved-> approved
awaiting_approval -human_required-> awaiting_human
awaiting_approval -rejected-> rejected
awaiting_human -approved-> approved
awaiting_human -approval_requested-> awaiting_approval
awaiting_human -rejected-> rejected
approved -execution_started-> executing
executing -executed-> verifying
executing -rolled_back-> rolled_back
executing -failed-> failed
verifying -verification_passed-> resolved
verifying -verification_failed-> failed
verifying -rolled_back-> rolled_back
verifying -failed-> failed
received -resolved_by_source-> resolved
triaged -resolved_by_source-> resolved
proposed -resolved_by_source-> resolved
awaiting_approval -resolved_by_source-> resolved
awaiting_human -resolved_by_source-> resolved
approved -resolved_by_source-> resolved
received -failed-> failed
triaged -failed-> failed
proposed -failed-> failed
awaiting_approval -failed-> failed
awaiting_human -failed-> failed
approved -failed-> failed
`;
const ALLOWED = new Map<string, string>(
  SPEC.trim()
    .split('\n')
    .map((line) => {
      const m = /^(\w+) -(\w+)-> (\w+)$/.exec(line.trim());
      if (m === null) throw new Error(`bad spec line ${line}`);
      return [`${m[1]}|${m[2]}`, m[3] ?? ''];
    }),
);

const stateArb = fc.constantFrom(...INCIDENT_STATES);
const eventArb = fc.constantFrom(...INCIDENT_EVENTS);

function tryTransition(s: IncidentState, e: IncidentEvent): IncidentState | undefined {
  try {
    return transition(s, e);
  } catch (err) {
    expect(err).toBeInstanceOf(ProtocolError);
    if (err instanceof ProtocolError) expect(err.code).toBe('ROUND_ORDER');
    return undefined;
  }
}

describe('incident state machine laws', () => {
  it('allows exactly the specified edges, to the specified states', () => {
    fc.assert(
      fc.property(stateArb, eventArb, (s, e) => {
        expect(tryTransition(s, e)).toBe(ALLOWED.get(`${s}|${e}`));
      }),
    );
  });

  it('never leaves a terminal state, whatever events follow', () => {
    fc.assert(
      fc.property(fc.array(eventArb, { maxLength: 60 }), (events) => {
        let s: IncidentState = INITIAL_STATE;
        let ended = false;
        for (const e of events) {
          const to = tryTransition(s, e);
          if (ended) expect(to).toBeUndefined();
          if (to !== undefined) s = to;
          if (isTerminal(s)) ended = true;
        }
      }),
    );
  });

  it('reaches every state from received, and a terminal state from every state', () => {
    const reach = (from: IncidentState): Set<IncidentState> => {
      const seen = new Set<IncidentState>([from]);
      const queue = [from];
      for (let s = queue.shift(); s !== undefined; s = queue.shift()) {
        for (const e of INCIDENT_EVENTS) {
          const to = nextState(s, e);
          if (to !== undefined && !seen.has(to)) {
            seen.add(to);
            queue.push(to);
          }
        }
      }
      return seen;
    };
    expect([...reach(INITIAL_STATE)].sort()).toEqual([...INCIDENT_STATES].sort());
    for (const s of INCIDENT_STATES) {
      expect(TERMINAL_STATES.some((t) => reach(s).has(t))).toBe(true);
    }
  });
});
