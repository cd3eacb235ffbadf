/**
 * The GitOps executor after a gateway stopped mid-apply (killed in a child process at a git hook),
 * and before a manifest someone else left edited: it puts back only its own uncommitted edits,
 * and commits only what the parties signed; a temporary note a crash left. Real temporary git
 * repositories.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createGitopsExecutor } from './gitops.js';
import { executeOrder } from './maintenance.js';
import { applyKilledAt } from './test-helpers/killed-apply.js';
import { signedQuotaOrder, trustedGroup } from './test-helpers/quota-order.js';

let repo: string;
const git = (...args: string[]) => execFileSync('git', args, { cwd: repo, encoding: 'utf8' }).trim();
const QUOTA = join('shop', 'resourcequota', 'compute.json');
const quotaText = (cpu: string) =>
  `${JSON.stringify({ apiVersion: 'v1', kind: 'ResourceQuota', metadata: { name: 'compute', namespace: 'shop' }, spec: { hard: { 'limits.cpu': cpu, pods: '20' } } }, null, 2)}\n`;
const cpuAt = (rev: string, rel = QUOTA) =>
  (JSON.parse(git('show', `${rev}:${rel}`)) as { spec: { hard: Record<string, string> } }).spec.hard[
    'limits.cpu'
  ];
const note = () => join(repo, '.git', 'aaps-gitops-pending.json');

beforeEach(() => {
  repo = mkdtempSync(join(tmpdir(), 'aaps-gitops-int-'));
  git('init', '--quiet', '--initial-branch=main');
  git('config', 'user.email', 'test@example.invalid');
  git('config', 'user.name', 'test');
  for (const dir of ['', 'prod']) {
    mkdirSync(join(repo, dir, 'shop', 'resourcequota'), { recursive: true });
    writeFileSync(join(repo, dir, QUOTA), quotaText('4'));
  }
  git('add', '.');
  git('commit', '--quiet', '-m', 'initial');
});
afterEach(() => rmSync(repo, { recursive: true, force: true }));

describe('gitops: after a gateway stopped mid-apply', () => {
  it('a stop after the commit: rollback without the applied change finds the commit and reverts it', async () => {
    const order = await signedQuotaOrder('resourcequota://shop/compute', 'inc-after-commit');
    const killed = await applyKilledAt('post-commit', join(repo, '.git'), repo, order);
    expect(killed.signal).toBe('SIGKILL');
    expect(git('log', '-1', '--format=%B')).toContain('Incident: inc-after-commit');
    expect(existsSync(note())).toBe(true);
    const executor = createGitopsExecutor({ repoDir: repo, now: () => new Date() });
    const undone = await executor.rollback(order, undefined);
    expect(undone).toMatchObject({ done: true, detail: expect.stringContaining('reverted') });
    expect(cpuAt('HEAD')).toBe('4');
    expect(git('status', '--porcelain')).toBe('');
    expect(existsSync(note())).toBe(false);
  });

  it('in a working copy that is a directory of the repository, the edit under it is put back', async () => {
    const prod = join(repo, 'prod');
    const order = await signedQuotaOrder('resourcequota://shop/compute', 'inc-subdir');
    const killed = await applyKilledAt('prepare-commit-msg', join(repo, '.git'), prod, order);
    expect(killed.signal).toBe('SIGKILL');
    expect(git('status', '--porcelain')).toBe(`M  prod/${QUOTA}`);
    const undone = await createGitopsExecutor({ repoDir: prod, now: () => new Date() }).rollback(
      order,
      undefined,
    );
    expect(undone.done).toBe(true);
    expect(undone.detail).toContain(`put prod/${QUOTA} back as committed`);
    expect(git('status', '--porcelain')).toBe('');
    expect(readFileSync(join(prod, QUOTA), 'utf8')).toBe(quotaText('4'));
  });

  it("the next apply, before the stopped incident's rollback, commits only its own change", async () => {
    writeFileSync(join(repo, 'shop', 'resourcequota', 'other.json'), quotaText('4'));
    git('add', '.');
    git('commit', '--quiet', '-m', 'another quota');
    const killed = await signedQuotaOrder('resourcequota://shop/compute', 'inc-stopped');
    await applyKilledAt('prepare-commit-msg', join(repo, '.git'), repo, killed);
    expect(git('status', '--porcelain')).toBe(`M  ${QUOTA}`);
    const executor = createGitopsExecutor({ repoDir: repo, now: () => new Date() });
    // Another incident, on another quota, applied first.
    const next = await executeOrder(
      await signedQuotaOrder('resourcequota://shop/other', 'inc-next'),
      executor,
      await trustedGroup(),
    );
    expect(next.record.status).toBe('succeeded');
    expect(git('show', '--name-only', '--format=', 'HEAD')).toBe('shop/resourcequota/other.json');
    expect(cpuAt('HEAD')).toBe('4');
    expect(git('status', '--porcelain')).toBe('');
    // The stopped incident's rollback, when it comes, has nothing left to do.
    expect(await executor.rollback(killed, undefined)).toEqual({
      done: true,
      detail: 'no commit of incident inc-stopped is on the branch',
    });
  });

  it("a note that is not the executor's is left for a person: nothing is put back or applied", async () => {
    writeFileSync(note(), '{"paths": "shop"}');
    writeFileSync(join(repo, QUOTA), quotaText('7'));
    const executor = createGitopsExecutor({ repoDir: repo, now: () => new Date() });
    const order = await signedQuotaOrder('resourcequota://shop/compute', 'inc-odd-note');
    for (const step of [() => executor.apply(order), () => executor.rollback(order, undefined)]) {
      await expect(step()).rejects.toMatchObject({
        code: 'INTERNAL',
        message: expect.stringContaining('is not a note of the GitOps executor'),
      });
    }
    expect(readFileSync(join(repo, QUOTA), 'utf8')).toBe(quotaText('7'));
    expect(existsSync(note())).toBe(true);
  });
});

describe('gitops: a manifest left edited by someone else', () => {
  it('is refused, and neither committed nor discarded: by the apply or by its rollback', async () => {
    const edited = quotaText('7');
    writeFileSync(join(repo, QUOTA), edited);
    const head = git('rev-parse', 'HEAD');
    const executor = createGitopsExecutor({ repoDir: repo, now: () => new Date() });
    const { record } = await executeOrder(
      await signedQuotaOrder('resourcequota://shop/compute', 'inc-dirty'),
      executor,
      await trustedGroup(),
    );
    expect(record).toMatchObject({
      status: 'rolled_back',
      error: expect.stringMatching(/^CONFLICT: shop\/resourcequota\/compute\.json has changes not committed/),
    });
    expect(git('rev-parse', 'HEAD')).toBe(head);
    expect(readFileSync(join(repo, QUOTA), 'utf8')).toBe(edited);
    expect(existsSync(note())).toBe(false);
  });

  it('an untracked manifest is refused the same way', async () => {
    writeFileSync(join(repo, 'shop', 'resourcequota', 'new.json'), quotaText('4'));
    const executor = createGitopsExecutor({ repoDir: repo, now: () => new Date() });
    await expect(
      executor.apply(await signedQuotaOrder('resourcequota://shop/new', 'inc-untracked')),
    ).rejects.toMatchObject({ code: 'CONFLICT', message: expect.stringContaining('not committed') });
    expect(git('status', '--porcelain')).toBe('?? shop/resourcequota/new.json');
  });
});

describe('gitops: the pending note after a crash', () => {
  it('a temporary note a crash left mid-write is never read, and is removed when the next step starts', async () => {
    const tmp = `${note()}.tmp`;
    writeFileSync(tmp, '{"incident_id": "inc-half');
    const executor = createGitopsExecutor({ repoDir: repo, now: () => new Date() });
    // A rollback with nothing to do still starts by settling what a stop left.
    const order = await signedQuotaOrder('resourcequota://shop/compute', 'inc-tmp');
    expect(await executor.rollback(order, undefined)).toEqual({
      done: true,
      detail: 'no commit of incident inc-tmp is on the branch',
    });
    expect(existsSync(tmp)).toBe(false);
    writeFileSync(tmp, '{"incident_id": "inc-half');
    const { change } = await executor.apply(
      await signedQuotaOrder('resourcequota://shop/compute', 'inc-tmp'),
    );
    expect(change['recovered']).toBeUndefined();
    expect(cpuAt('HEAD')).toBe('5');
    expect(existsSync(tmp)).toBe(false);
    expect(existsSync(note())).toBe(false);
  });
});
