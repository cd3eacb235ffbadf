/**
 * Two incidents (each under its own lock) that roll back the same workload at the same time both
 * record their rollout in the deployment history: each rollout keeps its own revision, and each
 * is marked healthy once verified, so a later image failure can roll back to either. The history
 * changes through one serialised read-modify-write (`updateDeploymentHistory`).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { createDryRunExecutor } from '../executor/dry-run.js';
import type { Executor } from '../executor/types.js';
import { json, makeGateway, request, SIGNALS, type TestGateway, TOKENS } from '../test-helpers/gateway.js';

const open: TestGateway[] = [];
afterEach(async () => {
  for (const g of open.splice(0)) await g.cleanup();
});

describe('the deployment history under concurrent incidents', () => {
  it('keeps the rollout of each of two incidents that roll back one workload at once', async () => {
    // Both executions are let go together, once both have been handed to the executor: the two
    // runs then record their rollouts at the same time (no timing: a barrier of two arrivals).
    const dry = createDryRunExecutor({ now: () => new Date() });
    let arrived = 0;
    let both: () => void = () => {};
    const barrier = new Promise<void>((r) => {
      both = r;
    });
    const executor: Executor = {
      name: dry.name,
      async apply(order) {
        if (++arrived === 2) both();
        await barrier;
        return dry.apply(order);
      },
      rollback: (order, applied) => dry.rollback(order, applied),
    };
    const gw = await makeGateway({ executor });
    open.push(gw);
    const submit = async () => {
      const res = await request(gw, 'POST', '/v1/incidents', {
        token: TOKENS.submit,
        body: SIGNALS.imageSignature(),
      });
      expect(res.status).toBe(202);
      return String((await json(res))['incident_id']);
    };
    const ids = await Promise.all([submit(), submit()]);
    await gw.runner.idle();
    for (const id of ids) {
      const r = await gw.store.getIncidentSummary(id);
      expect(r?.state).toBe('resolved');
      expect(r?.decision?.proposal.action).toBe('image_rollback');
    }
    const history = await gw.store.deploymentHistory('deployment://shop/web');
    // One record per executed rollout, each with its own revision, each healthy once verified.
    expect(history.map((h) => h.incident_id).sort()).toEqual([...ids].sort());
    expect(new Set(history.map((h) => h.revision)).size).toBe(2);
    expect(history.every((h) => h.outcome === 'healthy')).toBe(true);
  });
});
