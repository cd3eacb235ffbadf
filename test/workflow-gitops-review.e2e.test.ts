/**
 * Review: `aaps up --executor gitops` across real processes (gateway plus five parties), killed
 * with SIGKILL while the GitOps executor commits an incident's fix, and started again on the same
 * data directory. The resumed incident says its change was rolled back; what the working copy and
 * the next incident's commit hold is checked against what the parties signed.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from '@aaps/agents';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type AapsProcess,
  gatewayApi,
  isAlive,
  killAllAaps,
  startAaps,
  waitSettled,
} from './helpers/aaps.js';

const fixture = (rel: string) =>
  readFileSync(join(import.meta.dirname, '..', 'packages', 'gateway', 'test-fixtures', rel), 'utf8');

let dir: string;
let repo: string;
let port: number;
const git = (...args: string[]) => execFileSync('git', args, { cwd: repo, encoding: 'utf8' }).trim();
const QUOTA = join('shop', 'resourcequota', 'compute-resources.json');
const hardAt = (rev: string) =>
  (JSON.parse(git('show', `${rev}:${QUOTA}`)) as { spec: { hard: Record<string, string> } }).spec.hard;

/** A quota Event of the compute-resources quota, for `resource`, as the fixture is for memory. */
function quotaEvent(uid: string, note: string): string {
  const event = JSON.parse(fixture('kubernetes/events-v1-quota-exceeded.json')) as Record<string, unknown>;
  const meta = event['metadata'] as Record<string, unknown>;
  meta['uid'] = uid;
  meta['name'] = `web-7d9f8b6c5.${uid.slice(0, 12)}`;
  event['note'] = note;
  return JSON.stringify(event);
}

const gitopsArgs = () => ['--executor', 'gitops', '--gitops-repo-dir', repo];

describe('aaps up --executor gitops, killed while it commits a fix', () => {
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'aaps-review-gitops-e2e-'));
    repo = join(dir, 'deploy');
    mkdirSync(join(repo, 'shop', 'resourcequota'), { recursive: true });
    git('init', '--quiet', '--initial-branch=main');
    git('config', 'user.email', 'test@example.invalid');
    git('config', 'user.name', 'test');
    writeFileSync(
      join(repo, QUOTA),
      `${JSON.stringify(
        {
          apiVersion: 'v1',
          kind: 'ResourceQuota',
          metadata: { name: 'compute-resources', namespace: 'shop' },
          spec: { hard: { 'limits.cpu': '4', 'limits.memory': '8Gi' } },
        },
        null,
        2,
      )}\n`,
    );
    git('add', '.');
    git('commit', '--quiet', '-m', 'initial');
  });

  afterAll(async () => {
    await killAllAaps();
    rmSync(dir, { recursive: true, force: true });
  });

  it('the incident resumed as rolled_back leaves nothing of its change behind, and the next commit holds only its own', async () => {
    port = await freePort();
    const data = join(dir, 'data');
    let up: AapsProcess = await startAaps({ command: 'up', dataDir: data, port, args: gitopsArgs() });
    // `git commit --no-verify` still runs prepare-commit-msg: the gateway is killed right there,
    // after its manifest edit is written and staged, before anything is committed.
    const hook = join(repo, '.git', 'hooks', 'prepare-commit-msg');
    writeFileSync(hook, `#!/bin/sh\nkill -9 ${up.pid}\nexit 1\n`, { mode: 0o755 });
    let api = gatewayApi(up.url, up.token);
    const first = await api.post<{ incidents: { incident_id: string }[] }>(
      '/v1/webhooks/kubernetes',
      quotaEvent(
        'a7c4e2f1-0d3b-4e96-8f25-c1b9d7e3a461',
        'Error creating: pods "web-7d9f8b6c5-5vz8k" is forbidden: exceeded quota: compute-resources, requested: limits.memory=2Gi, used: limits.memory=7Gi, limited: limits.memory=8Gi',
      ),
    );
    expect(first.status, first.text).toBe(202);
    const killedId = first.body.incidents[0]!.incident_id;
    const deadline = Date.now() + 90_000;
    while (isAlive(up.pid) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 200));
    expect(isAlive(up.pid), 'the gateway died in its commit').toBe(false);
    rmSync(hook);
    await up.kill9();
    for (const p of up.childPids) if (isAlive(p)) process.kill(p, 'SIGKILL');
    await new Promise((r) => setTimeout(r, 500));
    expect(git('rev-list', '--count', 'HEAD')).toBe('1');

    up = await startAaps({ command: 'up', dataDir: data, port, args: gitopsArgs() });
    api = gatewayApi(up.url, up.token);
    const resumed = (await waitSettled(api, [killedId], 90_000, { evidence: true })).get(killedId)!;
    // What the resumed incident says: its change was rolled back.
    expect(resumed.state).toBe('rolled_back');

    // Another incident on the same quota, signed to raise limits.cpu only.
    const second = await api.post<{ incidents: { incident_id: string }[] }>(
      '/v1/webhooks/kubernetes',
      quotaEvent(
        'b8d5f3a2-1e4c-4fa7-9a36-d2cae8f4b572',
        'Error creating: pods "web-7d9f8b6c5-6wx9m" is forbidden: exceeded quota: compute-resources, requested: limits.cpu=2, used: limits.cpu=3, limited: limits.cpu=4',
      ),
    );
    expect(second.status, second.text).toBe(202);
    const nextId = second.body.incidents[0]!.incident_id;
    const next = (await waitSettled(api, [nextId], 90_000, { evidence: true })).get(nextId)!;
    expect(next.state).toBe('resolved');
    const proposal = (
      await api.get<{ proposal: { parameters: { changes: { resource: string }[] } } }>(
        `/v1/incidents/${nextId}`,
      )
    ).body.proposal;
    expect(proposal.parameters.changes.map((c) => c.resource)).toEqual(['limits.cpu']);
    expect(git('log', '-1', '--format=%B')).toContain(`Incident: ${nextId}`);
    expect(hardAt('HEAD')['limits.cpu']).toBe('5');
    // limits.memory 8Gi -> 9Gi was the killed incident's change, which it reports rolled back, and
    // no party signed it for this one.
    expect(hardAt('HEAD')['limits.memory']).toBe('8Gi');
    expect(git('status', '--porcelain')).toBe('');
  }, 300_000);
});
