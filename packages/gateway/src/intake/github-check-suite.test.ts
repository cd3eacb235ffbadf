/**
 * From the intake review: docs/api.md "GitHub" tells users to subscribe to both Workflow runs and Check
 * runs. One failed GitHub Actions job is reported by GitHub twice: a `check_run` completed/failure
 * for the job (app github-actions, check_suite.id S) and a `workflow_run` completed/failure for
 * its run (check_suite_id S, same head_sha). The gateway opens two independent incidents for that
 * one failure (neither a duplicate nor joined), each going through the workflow on its own.
 * Since: the check run answers to its check suite too (`github:<repo>:check_suite:<id>`), which the
 * workflow run correlates by, so the workflow run joins; a second failing job's check run of the same
 * suite is its own failure and opens its own incident (the session review found the first fix
 * joined every check run of a suite).
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { fixture, githubDelivery, json, makeGateway, type TestGateway } from '../test-helpers/gateway.js';

let gw: TestGateway;
beforeAll(async () => {
  gw = await makeGateway();
  await gw.runner.close(); // intake only
});
afterAll(async () => gw.cleanup());

it('one failed Actions job (its check_run and its workflow_run) is one incident, not two', async () => {
  const job = fixture('github/check-run-failure.json') as {
    check_run: { head_sha: string; check_suite: { id: number; head_branch: string } };
  };
  // The workflow run that job belongs to: same commit, same check suite.
  const run = fixture('github/workflow-run-failure.json') as {
    workflow_run: Record<string, unknown>;
  };
  run.workflow_run['head_sha'] = job.check_run.head_sha;
  run.workflow_run['head_branch'] = job.check_run.check_suite.head_branch;
  run.workflow_run['check_suite_id'] = job.check_run.check_suite.id;
  (run.workflow_run['head_commit'] as Record<string, unknown>)['id'] = job.check_run.head_sha;

  const a = await githubDelivery(
    gw,
    JSON.stringify(job),
    'check_run',
    '6b1c8e20-cb00-11ef-8a7e-5c2e4a1d6f30',
  );
  const b = await githubDelivery(
    gw,
    JSON.stringify(run),
    'workflow_run',
    '6b1c8e21-cb00-11ef-8a7e-5c2e4a1d6f30',
  );
  expect([a.status, b.status]).toEqual([202, 202]);
  const first = ((await json(a))['incidents'] as { incident_id: string }[])[0]!;
  const second = ((await json(b))['incidents'] as { incident_id: string; duplicate: boolean }[])[0]!;

  const listed = (await gw.store.listIncidents({ limit: 10 })).incidents;
  // Before the fix: 2 incidents, types image_signature_failed and unknown, for one failed job.
  expect(listed.map((i) => `${i.source}:${i.type}`)).toHaveLength(1);
  expect(second).toMatchObject({ incident_id: first.incident_id, duplicate: true });
});

it('two different failed check runs of one check suite (two jobs) are two incidents', async () => {
  const lint = fixture('github/check-run-failure.json') as { check_run: Record<string, unknown> };
  const build = structuredClone(lint);
  build.check_run['id'] = (lint.check_run['id'] as number) + 1;
  build.check_run['name'] = 'build';
  const a = await githubDelivery(
    gw,
    JSON.stringify(lint),
    'check_run',
    '7b1c8e20-cb00-11ef-8a7e-5c2e4a1d6f30',
  );
  const b = await githubDelivery(
    gw,
    JSON.stringify(build),
    'check_run',
    '7b1c8e21-cb00-11ef-8a7e-5c2e4a1d6f30',
  );
  expect([a.status, b.status]).toEqual([202, 202]);
  const first = ((await json(a))['incidents'] as { incident_id: string }[])[0]!;
  const second = ((await json(b))['incidents'] as { incident_id: string; joined?: boolean }[])[0]!;
  expect(second.incident_id).not.toBe(first.incident_id);
});
