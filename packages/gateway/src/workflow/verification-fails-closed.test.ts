/**
 * An executed change stays in place only once quality assurance has verified it (fail closed).
 * While quality assurance is unreachable the incident waits for it in `verifying`, with no budget,
 * as an approval waits for it; a verification that fails otherwise undoes the change, as a veto
 * does, and the incident ends `rolled_back` (or `failed` when the rollback cannot be done).
 */
import { AapsError, ValidationError } from '@aaps/mpc-core';
import { afterEach, describe, expect, it } from 'vitest';
import { createDryRunExecutor } from '../executor/dry-run.js';
import {
  delegating,
  incident,
  json,
  makeGateway,
  request,
  SIGNALS,
  type TestGateway,
  TOKENS,
} from '../test-helpers/gateway.js';

const open: TestGateway[] = [];
afterEach(async () => {
  for (const gw of open.splice(0)) await gw.cleanup();
});

type Entry = { event: string; state: string; detail?: Record<string, unknown> };

/** A dry-run executor that counts rollbacks, and fails them when `rollbackFails`. */
function countingExecutor(rollbackFails = false) {
  const dry = createDryRunExecutor({ now: () => new Date() });
  const counts = { rollbacks: 0 };
  const executor = {
    ...dry,
    name: dry.name,
    rollback: async (...a: Parameters<typeof dry.rollback>) => {
      counts.rollbacks++;
      return rollbackFails ? { done: false, detail: 'revert did not apply' } : dry.rollback(...a);
    },
  };
  return { executor, counts };
}

async function submitQuota(gw: TestGateway): Promise<string> {
  const res = await request(gw, 'POST', '/v1/incidents', { token: TOKENS.submit, body: SIGNALS.quota() });
  return String((await json(res))['incident_id']);
}

describe('verification of an executed change', () => {
  it('waits for an unreachable quality assurance past the step budget, change in place, then verifies', async () => {
    const { executor, counts } = countingExecutor();
    let qaDown = true;
    const gw = await makeGateway({
      executor,
      config: { stepRetrySeconds: 0.3 },
      wrap: (c) =>
        delegating(c, {
          agentStep: async (role, input) => {
            if (role === 'quality-assurance' && qaDown)
              throw new AapsError('UNAVAILABLE', 'quality-assurance is unreachable (agent.step)');
            return c.agentStep(role, input);
          },
        }),
    });
    open.push(gw);
    const id = await submitQuota(gw);
    // Until the fourth try (1.75 s after the first failure, past the 0.3 s budget of a step).
    let waiting: Record<string, unknown> = {};
    let notes: Entry[] = [];
    for (let i = 0; i < 200 && !notes.some((e) => Number(e.detail?.['attempt']) >= 4); i++) {
      await new Promise((r) => setTimeout(r, 50));
      waiting = await incident(gw, id);
      notes = (waiting['timeline'] as Entry[]).filter((e) => e.event === 'step.retrying');
    }
    expect(waiting['state']).toBe('verifying');
    expect(counts.rollbacks).toBe(0);
    expect(notes.at(-1)).toMatchObject({
      state: 'verifying',
      detail: { code: 'UNAVAILABLE', attempt: 4, waiting_for: ['quality-assurance'] },
    });
    qaDown = false;
    await gw.runner.idle();
    const done = await incident(gw, id);
    expect({ state: done['state'], rollbacks: counts.rollbacks }).toEqual({
      state: 'resolved',
      rollbacks: 0,
    });
    expect(done['evidence_id']).toEqual(expect.any(String));
  });

  it.each([
    [
      'refuses its input',
      async () => {
        throw new ValidationError('INVALID_ARGUMENT', 'input: malformed for this step', ['input']);
      },
      'INVALID_ARGUMENT',
    ],
    ['sends no report', async () => [], 'INCONSISTENT_TRANSCRIPT'],
  ])(
    'undoes the change when quality assurance %s',
    async (_what, failure, code) => {
      const { executor, counts } = countingExecutor();
      const gw = await makeGateway({
        executor,
        wrap: (c) =>
          delegating(c, {
            agentStep: (role, input) => (role === 'quality-assurance' ? failure() : c.agentStep(role, input)),
          }),
      });
      open.push(gw);
      const id = await submitQuota(gw);
      await gw.runner.idle();
      const done = await incident(gw, id);
      const timeline = done['timeline'] as Entry[];
      expect(timeline.map((e) => e.event)).toContain('executed');
      expect({
        state: done['state'],
        execution: (done['execution'] as Record<string, unknown>)['status'],
        rollbacks: counts.rollbacks,
      }).toEqual({ state: 'rolled_back', execution: 'rolled_back', rollbacks: 1 });
      expect(timeline.at(-1)).toMatchObject({
        event: 'rolled_back',
        detail: { verification: 'not completed', code },
      });
      expect(done['reason']).toMatchObject({ code, message: expect.stringContaining('could not verify') });
      expect(done['evidence_id']).toEqual(expect.any(String));
    },
    30_000,
  );

  it('ends failed, saying so, when that rollback cannot be done', async () => {
    const { executor, counts } = countingExecutor(true);
    const gw = await makeGateway({
      executor,
      wrap: (c) =>
        delegating(c, {
          agentStep: async (role, input) => {
            if (role === 'quality-assurance') throw new AapsError('INTERNAL', 'quality assurance crashed');
            return c.agentStep(role, input);
          },
        }),
    });
    open.push(gw);
    const id = await submitQuota(gw);
    await gw.runner.idle();
    const done = await incident(gw, id);
    expect({ state: done['state'], rollbacks: counts.rollbacks }).toEqual({ state: 'failed', rollbacks: 1 });
    expect((done['timeline'] as Entry[]).at(-1)).toMatchObject({
      event: 'verification_failed',
      detail: { verification: 'not completed', code: 'INTERNAL', rollback: 'revert did not apply' },
    });
  });

  it('a rollback that throws is recorded with its reason, not only as failed', async () => {
    const dry = createDryRunExecutor({ now: () => new Date() });
    const executor = {
      ...dry,
      rollback: async () => {
        throw new AapsError('CONFLICT', 'git revert of the change did not apply: a person must look');
      },
    };
    const gw = await makeGateway({
      executor,
      wrap: (c) =>
        delegating(c, {
          agentStep: async (role, input) => {
            if (role === 'quality-assurance') throw new AapsError('INTERNAL', 'quality assurance crashed');
            return c.agentStep(role, input);
          },
        }),
    });
    open.push(gw);
    const id = await submitQuota(gw);
    await gw.runner.idle();
    const done = await incident(gw, id);
    expect(done['state']).toBe('failed');
    const reason = 'rollback failed: CONFLICT: git revert of the change did not apply: a person must look';
    expect((done['timeline'] as Entry[]).at(-1)).toMatchObject({ detail: { rollback: reason } });
    expect(done['execution']).toMatchObject({ rollback: { done: false, detail: reason } });
  });
});
