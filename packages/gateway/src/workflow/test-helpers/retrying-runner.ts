/**
 * Gateways whose incidents a test drives on its own `WorkflowRunner` with short retry settings
 * (the gateway's runner is closed: intake only records), as the runner tests share them.
 */
import { afterEach, expect } from 'vitest';
import type { Coordinator } from '../../coordinator.js';
import { LocalCoordinator } from '../../coordinator-local.js';
import { createDryRunExecutor } from '../../executor/dry-run.js';
import type { GatewayStore } from '../../store.js';
import {
  GITOPS_REPO,
  json,
  makeGateway,
  request,
  type TestGateway,
  TOKENS,
} from '../../test-helpers/gateway.js';
import { createIncidentEvents } from '../events.js';
import { type RunnerDeps, WorkflowRunner } from '../runner.js';

export type RetrySettings = Partial<
  Pick<
    RunnerDeps,
    | 'retryDelayMs'
    | 'retryMaxDelayMs'
    | 'retryBudgetMs'
    | 'sealRetryMaxDelayMs'
    | 'parkMs'
    | 'recurrenceWindowMs'
  >
>;

/**
 * The gateways and runners of one test file, closed after each test (call at the file's top
 * level): `gateway` makes one, `ownRunner` drives `gw`'s incidents with `settings`, `retrying`
 * does both, `wrap` making a party flaky for the runner and the evidence writer alike.
 */
export function retryHarness() {
  const open: TestGateway[] = [];
  const runners: WorkflowRunner[] = [];
  afterEach(async () => {
    for (const r of runners.splice(0)) await r.close();
    for (const gw of open.splice(0)) await gw.cleanup();
  });
  const gateway = async (...args: Parameters<typeof makeGateway>): Promise<TestGateway> => {
    const gw = await makeGateway(...args);
    open.push(gw);
    return gw;
  };
  const ownRunner = (
    gw: TestGateway,
    settings: RetrySettings,
    coordinator?: Coordinator,
    store: GatewayStore = gw.store,
  ): WorkflowRunner => {
    const now = () => new Date();
    const runner = new WorkflowRunner({
      store,
      coordinator: coordinator ?? gw.coordinator,
      executor: createDryRunExecutor({ now }),
      evidence: gw.evidence,
      logger: gw.logger,
      now,
      trust: async () => gw.coordinator.trustedKeys(),
      identity: { id: 'gateway', key: gw.gatewayKey },
      events: createIncidentEvents(),
      gitopsRepoUrl: GITOPS_REPO,
      ...settings,
    });
    runners.push(runner);
    return runner;
  };
  const retrying = async (
    settings: RetrySettings,
    wrap?: (c: LocalCoordinator) => Coordinator,
    options: Parameters<typeof makeGateway>[0] = {},
  ) => {
    let wrapped: Coordinator | undefined;
    const gw = await gateway(
      wrap === undefined
        ? options
        : {
            ...options,
            wrap: (c) => {
              wrapped = wrap(c);
              return wrapped;
            },
          },
    );
    await gw.runner.close();
    return { gw, runner: ownRunner(gw, settings, wrapped) };
  };
  return { gateway, ownRunner, retrying };
}

/**
 * The local coordinator with quality assurance (in every approval quorum) unreachable while
 * `down()` says so; `down` is asked once per call to it.
 */
export const qaDownWhile = (down: () => boolean) => (c: LocalCoordinator) => {
  const trusted = c.trustedKeys();
  return new LocalCoordinator({
    gateway: trusted.gateway,
    approvers: trusted.approvers,
    material: c.exportMaterial(),
    down: (party) => party === 'quality-assurance' && down(),
  });
};

/** A timeline entry as the API shows it. */
export type Note = { state: string; event: string; actor: string; detail: Record<string, unknown> };

/** The entries of incident `inc`'s timeline that are `event`. */
export const notes = (inc: Record<string, unknown>, event: string) =>
  (inc['timeline'] as Note[]).filter((e) => e.event === event);

/** Posts `body` to `POST /v1/incidents` (202 expected); the incident id. */
export async function submit(gw: TestGateway, body: unknown): Promise<string> {
  const res = await request(gw, 'POST', '/v1/incidents', { token: TOKENS.submit, body });
  expect(res.status).toBe(202);
  return String((await json(res))['incident_id']);
}
