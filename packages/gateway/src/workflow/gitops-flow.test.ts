/**
 * The whole workflow with the GitOps executor on a real temporary repository: the approved change
 * lands as a commit naming the incident, and the sealed evidence records the commit.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, expect, it } from 'vitest';
import { createGitopsExecutor } from '../executor/gitops.js';
import {
  fixture,
  incident,
  json,
  makeGateway,
  request,
  type TestGateway,
  TOKENS,
} from '../test-helpers/gateway.js';

let gw: TestGateway | undefined;
let repo = '';
afterEach(async () => {
  await gw?.cleanup();
  rmSync(repo, { recursive: true, force: true });
});

function manifest(path: string, value: unknown) {
  mkdirSync(join(repo, path, '..'), { recursive: true });
  writeFileSync(join(repo, path), `${JSON.stringify(value, null, 2)}\n`);
}

it('a quota incident becomes a commit in the GitOps repository', async () => {
  repo = mkdtempSync(join(tmpdir(), 'aaps-flow-'));
  const git = (...args: string[]) => execFileSync('git', args, { cwd: repo, encoding: 'utf8' }).trim();
  git('init', '--quiet', '--initial-branch=main');
  manifest('shop/resourcequota/compute-resources.json', {
    apiVersion: 'v1',
    kind: 'ResourceQuota',
    metadata: { name: 'compute-resources', namespace: 'shop' },
    spec: { hard: { 'limits.memory': '8Gi' } },
  });
  git('add', '.');
  git('-c', 'user.name=t', '-c', 'user.email=t@example.invalid', 'commit', '--quiet', '-m', 'initial');

  gw = await makeGateway({ executor: createGitopsExecutor({ repoDir: repo, now: () => new Date() }) });
  const res = await request(gw, 'POST', '/v1/webhooks/kubernetes', {
    token: TOKENS.submit,
    body: fixture('kubernetes/events-v1-quota-exceeded.json'),
  });
  const id = ((await json(res))['incidents'] as { incident_id: string }[])[0]!.incident_id;
  await gw.runner.idle();
  const inc = await incident(gw, id);
  expect(inc).toMatchObject({ state: 'resolved', execution: { executor: 'gitops', status: 'succeeded' } });
  const commit = (inc['execution'] as { ref: string }).ref;
  expect(git('rev-parse', 'HEAD')).toBe(commit);
  expect(git('log', '-1', '--format=%B')).toContain(`Incident: ${id}`);
  const quota = JSON.parse(readFileSync(join(repo, 'shop/resourcequota/compute-resources.json'), 'utf8'));
  const change = (inc['proposal'] as { parameters: { changes: { resource: string; new_hard: string }[] } })
    .parameters.changes[0];
  expect(change?.resource).toBe('limits.memory');
  expect(quota.spec.hard['limits.memory']).toBe(change?.new_hard);
  expect(change?.new_hard).not.toBe('8Gi');
});
