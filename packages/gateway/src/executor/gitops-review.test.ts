/**
 * Review: the GitOps executor against what the parties signed, when the gateway dies mid-apply
 * and when a pinned revision is not a commit id. Real temporary git repositories; the apply that
 * dies runs in a child process (the built executor) killed between its manifest write and its
 * commit, as a gateway killed at that moment is.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createGitopsExecutor } from './gitops.js';
import { executeOrder } from './maintenance.js';
import { applyKilledAt } from './test-helpers/killed-apply.js';
import { signedOrder, signedQuotaOrder, trustedGroup } from './test-helpers/quota-order.js';
import type { ExecutionOrderPayload } from './types.js';

let repo: string;
const git = (...args: string[]) => execFileSync('git', args, { cwd: repo, encoding: 'utf8' }).trim();
const quotaFile = join('shop', 'resourcequota', 'compute.json');
const hardAt = (rev: string) =>
  (JSON.parse(git('show', `${rev}:${quotaFile}`)) as { spec: { hard: Record<string, string> } }).spec.hard;

beforeEach(() => {
  repo = mkdtempSync(join(tmpdir(), 'aaps-gitops-review-'));
  git('init', '--quiet', '--initial-branch=main');
  git('config', 'user.email', 'test@example.invalid');
  git('config', 'user.name', 'test');
  mkdirSync(join(repo, 'shop', 'resourcequota'), { recursive: true });
  writeFileSync(
    join(repo, quotaFile),
    `${JSON.stringify(
      {
        apiVersion: 'v1',
        kind: 'ResourceQuota',
        metadata: { name: 'compute', namespace: 'shop' },
        spec: { hard: { 'limits.cpu': '4', pods: '20' } },
      },
      null,
      2,
    )}\n`,
  );
  git('add', '.');
  git('commit', '--quiet', '-m', 'initial');
});
afterEach(() => {
  rmSync(repo, { recursive: true, force: true });
});

/**
 * Runs `apply(order)` of the built GitOps executor in a child process that is killed (SIGKILL) at
 * the moment git starts the commit: its manifest edit is written and staged, nothing committed.
 */
async function applyKilledBeforeCommit(order: ExecutionOrderPayload): Promise<void> {
  const { out, signal } = await applyKilledAt('prepare-commit-msg', join(repo, '.git'), repo, order);
  expect(out).not.toContain('applied');
  expect(signal).toBe('SIGKILL');
}

describe('gitops: a gateway killed between the manifest write and the commit', () => {
  it('the restart rollback reports the change undone, and the working copy no longer holds it', async () => {
    const order = await signedQuotaOrder('resourcequota://shop/compute', 'inc-killed');
    const head = git('rev-parse', 'HEAD');
    await applyKilledBeforeCommit(order);
    expect(git('rev-parse', 'HEAD')).toBe(head);
    // The next process: the runner's `executing` case asks the executor to roll back.
    const executor = createGitopsExecutor({ repoDir: repo, now: () => new Date() });
    const undone = await executor.rollback(order, undefined);
    expect(undone.done).toBe(true);
    // Reported undone: then the incident's edit must not be left in the working copy.
    expect(git('status', '--porcelain')).toBe('');
  });

  it("the next incident's commit carries only its own signed change, not the killed incident's edit", async () => {
    const killed = await signedQuotaOrder('resourcequota://shop/compute', 'inc-killed');
    await applyKilledBeforeCommit(killed);
    const executor = createGitopsExecutor({ repoDir: repo, now: () => new Date() });
    const undone = await executor.rollback(killed, undefined);
    expect(undone.done).toBe(true);
    // Another incident, signed to raise pods only, on the same quota.
    const next = await signedQuotaOrder('resourcequota://shop/compute', 'inc-next', {
      resource: 'pods',
      current_hard: '20',
      new_hard: '30',
      used: '20',
      requested: '10',
    });
    const { record } = await executeOrder(next, executor, await trustedGroup());
    expect(record.status).toBe('succeeded');
    expect(hardAt('HEAD').pods).toBe('30');
    // limits.cpu 4 -> 5 was signed for inc-killed (reported rolled back), never for inc-next.
    expect(hardAt('HEAD')['limits.cpu']).toBe('4');
  });
});

describe('gitops: a quota adjustment against the manifest it edits', () => {
  it('does not lower a hard limit that is already above what the parties signed to raise it from', async () => {
    // Someone (an operator, an earlier incident) raised limits.cpu to 8 since the signal was read.
    const file = join(repo, quotaFile);
    writeFileSync(file, readFileSync(file, 'utf8').replace('"limits.cpu": "4"', '"limits.cpu": "8"'));
    git('commit', '--quiet', '-am', 'operator raises limits.cpu to 8');
    // The parties signed "limits.cpu: current 4, new 5" (an increase within 2x and the cap).
    const order = await signedQuotaOrder('resourcequota://shop/compute', 'inc-stale');
    expect(order.proposal.parameters['changes']).toEqual([
      expect.objectContaining({ resource: 'limits.cpu', current_hard: '4', new_hard: '5' }),
    ]);
    const executor = createGitopsExecutor({ repoDir: repo, now: () => new Date() });
    await executor.apply(order).catch(() => undefined);
    // Executing it as signed would be a raise; executed on this manifest it cuts 8 to 5.
    expect(hardAt('HEAD')['limits.cpu']).toBe('8');
  });
});

describe('gitops: a re-render pinned to a revision', () => {
  it('reads the manifest at the signed commit id, not at a ref that merely has that name', async () => {
    // A ConfigMap manifest, good at `good`, broken at the head.
    mkdirSync(join(repo, 'shop', 'configmap'), { recursive: true });
    const cm = join(repo, 'shop', 'configmap', 'checkout-config.json');
    const manifest = (value: string) =>
      `${JSON.stringify({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'checkout-config', namespace: 'shop' }, data: { DATABASE_URL: value } }, null, 2)}\n`;
    writeFileSync(cm, manifest('postgres://good'));
    git('add', '.');
    git('commit', '--quiet', '-m', 'good config');
    writeFileSync(cm, manifest('postgres://attacker'));
    git('commit', '--quiet', '-am', 'someone else');
    const other = git('rev-parse', 'HEAD');
    writeFileSync(cm, 'not json');
    git('commit', '--quiet', '-am', 'broken');
    // A tag (anyone who can push tags) whose name is hex, as a short commit id is.
    git('tag', 'deadbeef', other);
    const order = await signedOrder({
      incident_id: 'inc-pinned',
      action: 'configmap_reload',
      target: 'configmap://shop/checkout-config',
      parameters: {
        source: {
          kind: 'gitops',
          repo: 'https://git.example/deploy.git',
          path: 'shop/configmap/checkout-config.json',
          revision: 'deadbeef',
        },
        rollout_restart: [],
      },
      evidence_refs: ['event://shop/evt-3'],
    });
    const executor = createGitopsExecutor({ repoDir: repo, now: () => new Date() });
    const { record } = await executeOrder(order, executor, await trustedGroup());
    // "deadbeef" names no commit: the executor must refuse it rather than follow the tag, whose
    // manifest no party ever saw.
    expect(readFileSync(cm, 'utf8')).not.toContain('postgres://attacker');
    expect(record.status).not.toBe('succeeded');
  });
});

describe('gitops: a working copy that is a directory of a larger repository', () => {
  it('a pinned re-render reads the manifest under --gitops-repo-dir, not the same path at the repository root', async () => {
    // One repository: staging manifests at the root, production ones under prod/ (the gateway's
    // --gitops-repo-dir). The same relative path exists in both.
    const manifest = (value: string) =>
      `${JSON.stringify({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'checkout-config', namespace: 'shop' }, data: { DATABASE_URL: value } }, null, 2)}\n`;
    const rel = join('shop', 'configmap', 'checkout-config.json');
    mkdirSync(join(repo, 'shop', 'configmap'), { recursive: true });
    mkdirSync(join(repo, 'prod', 'shop', 'configmap'), { recursive: true });
    writeFileSync(join(repo, rel), manifest('postgres://staging'));
    writeFileSync(join(repo, 'prod', rel), manifest('postgres://prod-good'));
    git('add', '.');
    git('commit', '--quiet', '-m', 'configs that deployed');
    const good = git('rev-parse', 'HEAD');
    writeFileSync(join(repo, 'prod', rel), 'not json');
    git('commit', '--quiet', '-am', 'broken prod config');
    const order = await signedOrder({
      incident_id: 'inc-subdir',
      action: 'configmap_reload',
      target: 'configmap://shop/checkout-config',
      parameters: {
        source: { kind: 'gitops', repo: 'https://git.example/deploy.git', path: rel, revision: good },
        rollout_restart: [],
      },
      evidence_refs: ['event://shop/evt-4'],
    });
    const executor = createGitopsExecutor({ repoDir: join(repo, 'prod'), now: () => new Date() });
    const { record } = await executeOrder(order, executor, await trustedGroup());
    // Production's manifest must not become staging's.
    expect(readFileSync(join(repo, 'prod', rel), 'utf8')).not.toContain('postgres://staging');
    expect(record.status).toBe('succeeded');
    expect(readFileSync(join(repo, 'prod', rel), 'utf8')).toContain('postgres://prod-good');
  });
});
