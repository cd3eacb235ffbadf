/**
 * `--pool-risk` in the workflow, through the in-process coordinator: off, the coordinator is never
 * asked; on, its pooled reference goes to strategy, whose party accepts only aggregations it took
 * part in (so a coordinator cannot make one up); a pooling that fails fails the step.
 */
import type { AggregationRef, RiskSubject } from '@aaps/agents';
import { AapsError } from '@aaps/mpc-core';
import { afterEach, describe, expect, it } from 'vitest';
import type { Coordinator, PooledRisk } from '../coordinator.js';
import type { LocalCoordinator } from '../coordinator-local.js';
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
import { createIncidentEvents } from './events.js';
import { WorkflowRunner } from './runner.js';

const open: TestGateway[] = [];
const runners: WorkflowRunner[] = [];
afterEach(async () => {
  for (const r of runners.splice(0)) await r.close();
  for (const gw of open.splice(0)) await gw.cleanup();
});

/** The local coordinator with a `poolRisk` that records its subjects and answers with `answer`. */
function pooling(asked: RiskSubject[], answer: () => Promise<PooledRisk>) {
  return (c: LocalCoordinator): Coordinator =>
    delegating(c, {
      poolRisk: async (subject) => {
        asked.push(subject);
        return answer();
      },
    });
}

const FORGED: AggregationRef = {
  circuit: 'weighted-risk',
  session_id: 'risk-made-up',
  output_digest: 'ab'.repeat(32),
  value: 30,
};

/**
 * One quota incident through a gateway whose coordinator `wrap` makes. With `retryBudgetMs`, a
 * runner with that retry budget (and 1 ms waits) drives it instead of the gateway's own.
 */
async function run(poolRisk: boolean | undefined, wrap: ReturnType<typeof pooling>, retryBudgetMs?: number) {
  let coordinator: Coordinator | undefined;
  const gw = await makeGateway({
    wrap: (c) => {
      coordinator = wrap(c);
      return coordinator;
    },
    ...(poolRisk === undefined ? {} : { config: { poolRisk } }),
  });
  open.push(gw);
  let runner = gw.runner;
  if (retryBudgetMs !== undefined && coordinator !== undefined) {
    await gw.runner.close();
    const now = () => new Date();
    runner = new WorkflowRunner({
      store: gw.store,
      coordinator,
      executor: createDryRunExecutor({ now }),
      evidence: gw.evidence,
      logger: gw.logger,
      now,
      trust: async () => gw.coordinator.trustedKeys(),
      identity: { id: 'gateway', key: gw.gatewayKey },
      events: createIncidentEvents(),
      ...(poolRisk ? { poolRisk } : {}),
      retryDelayMs: 1,
      retryBudgetMs,
    });
    runners.push(runner);
  }
  const res = await request(gw, 'POST', '/v1/incidents', { token: TOKENS.submit, body: SIGNALS.quota() });
  expect(res.status).toBe(202);
  const id = String((await json(res))['incident_id']);
  runner.start(id);
  await runner.idle();
  return incident(gw, id);
}

describe('pooled risk in the workflow', () => {
  it('off by default: the coordinator is never asked, the incident resolves on the formula', async () => {
    const asked: RiskSubject[] = [];
    const inc = await run(
      false,
      pooling(asked, async () => ({ ref: FORGED, record: {} })),
    );
    expect(asked).toEqual([]);
    expect(inc['state']).toBe('resolved');
    expect((inc['proposal'] as { risk: Record<string, unknown> }).risk['aggregation_ref']).toBeUndefined();
  });

  it('on: the top fix is pooled, and a reference no party took part in is refused by strategy', async () => {
    const asked: RiskSubject[] = [];
    const inc = await run(
      true,
      pooling(asked, async () => ({ ref: FORGED, record: {} })),
    );
    expect(asked).toHaveLength(1);
    // With the namespace of the fix's target, so each party scores its own view of where it runs.
    expect(asked[0]).toMatchObject({
      action: 'resource_quota_adjust',
      namespace: 'shop',
      factors: { blast_radius: 1 },
    });
    expect(inc['state']).toBe('rejected');
    expect((inc['decision'] as { rule: string }).rule).toBe('risk.aggregation_unverified');
  });

  it('on: a pooling that keeps failing fails the incident (no silent fallback)', async () => {
    const asked: RiskSubject[] = [];
    const inc = await run(
      true,
      pooling(asked, async () => {
        throw new AapsError('UNAVAILABLE', 'a party did not deal');
      }),
      20,
    );
    expect(asked.length).toBeGreaterThan(1);
    expect(inc).toMatchObject({ state: 'failed', reason: { code: 'UNAVAILABLE' } });
  });
});
