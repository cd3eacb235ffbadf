/**
 * The GitOps executor when things go wrong: a refused or uncertain push, a gateway that stopped
 * mid-execution, a revert that conflicts, a manifest that is a symbolic link, applies at the same
 * time. Real temporary git repositories (a working copy and a bare remote), real maintenance check.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createGitopsExecutor } from './gitops.js';
import { executeOrder } from './maintenance.js';
import { signedOrder as signedProposal, signedQuotaOrder, trustedGroup } from './test-helpers/quota-order.js';

let repo: string;
let bare: string;
const git = (...args: string[]) => execFileSync('git', args, { cwd: repo, encoding: 'utf8' }).trim();
const quotaFile = (name = 'compute') => join(repo, 'shop', 'resourcequota', `${name}.json`);
const cpu = (name = 'compute') => JSON.parse(readFileSync(quotaFile(name), 'utf8')).spec.hard['limits.cpu'];
const remoteGit = (...args: string[]) =>
  execFileSync('git', ['--git-dir', bare, ...args], { encoding: 'utf8' }).trim();
const remoteCpu = () =>
  JSON.parse(remoteGit('show', 'main:shop/resourcequota/compute.json')).spec.hard['limits.cpu'];

beforeEach(() => {
  repo = mkdtempSync(join(tmpdir(), 'aaps-gitops-rev-'));
  bare = mkdtempSync(join(tmpdir(), 'aaps-gitops-rev-bare-'));
  execFileSync('git', ['init', '--quiet', '--bare', '--initial-branch=main', bare]);
  git('init', '--quiet', '--initial-branch=main');
  git('config', 'user.email', 'test@example.invalid');
  git('config', 'user.name', 'test');
  mkdirSync(join(repo, 'shop', 'resourcequota'), { recursive: true });
  for (const name of ['compute', 'other', 'third', 'fourth', 'q5', 'q6', 'q7', 'q8']) {
    writeFileSync(
      quotaFile(name),
      `${JSON.stringify({ apiVersion: 'v1', kind: 'ResourceQuota', metadata: { name, namespace: 'shop' }, spec: { hard: { 'limits.cpu': '4', pods: '20' } } }, null, 2)}\n`,
    );
  }
  git('add', '.');
  git('commit', '--quiet', '-m', 'initial');
  git('remote', 'add', 'origin', bare);
  git('push', '--quiet', 'origin', 'main');
});
afterEach(() => {
  rmSync(repo, { recursive: true, force: true });
  rmSync(bare, { recursive: true, force: true });
});

const signedOrder = (target?: string, id = 'inc-gitops-rev') => signedQuotaOrder(target, id);
const trusted = trustedGroup;

describe('gitops executor failures', () => {
  it('a refused push is rolled back: neither the commit nor the edit stays in the working copy', async () => {
    // The remote refuses this push (a pre-receive hook: a protected branch, a lost race...).
    writeFileSync(join(bare, 'hooks', 'pre-receive'), '#!/bin/sh\nexit 1\n', { mode: 0o755 });
    const head = git('rev-parse', 'HEAD');
    const executor = createGitopsExecutor({
      repoDir: repo,
      remote: 'origin',
      branch: 'main',
      now: () => new Date(),
    });
    const { record } = await executeOrder(await signedOrder(), executor, await trusted());
    expect(record).toMatchObject({
      status: 'rolled_back',
      rollback: { done: true },
      error: expect.stringContaining('UNAVAILABLE'),
    });
    // Reported rolled back: the change is in neither the branch nor the files.
    expect(cpu()).toBe('4');
    expect(git('rev-parse', 'HEAD')).toBe(head);
    expect(git('status', '--porcelain')).toBe('');
  });

  it('the change of an execution whose push was refused is not pushed by the next execution', async () => {
    const hook = join(bare, 'hooks', 'pre-receive');
    writeFileSync(hook, '#!/bin/sh\nexit 1\n', { mode: 0o755 });
    const executor = createGitopsExecutor({
      repoDir: repo,
      remote: 'origin',
      branch: 'main',
      now: () => new Date(),
    });
    const t = await trusted();
    const first = await executeOrder(
      await signedOrder('resourcequota://shop/compute', 'inc-refused'),
      executor,
      t,
    );
    expect(first.record.status).toBe('rolled_back');
    rmSync(hook);
    const second = await executeOrder(
      await signedOrder('resourcequota://shop/other', 'inc-next'),
      executor,
      t,
    );
    expect(second.record.status).toBe('succeeded');
    const remoteLog = execFileSync('git', ['--git-dir', bare, 'log', '--format=%B', 'main'], {
      encoding: 'utf8',
    });
    expect(remoteLog).toContain('Incident: inc-next');
    expect(remoteLog).not.toContain('Incident: inc-refused');
  });

  it("after a stop mid-execution, rollback without the applied change finds the incident's commit and reverts it", async () => {
    const order = await signedOrder();
    const executor = createGitopsExecutor({ repoDir: repo, now: () => new Date() });
    // The gateway committed, then stopped before it saved the result: on restart the runner's
    // `executing` case calls rollback(order, undefined) and records `rolled_back` if it says done.
    const applied = await executor.apply(order);
    expect(cpu()).toBe('5');
    const undone = await executor.rollback(order, undefined);
    expect(undone).toMatchObject({ done: true, detail: expect.stringContaining(`reverted ${applied.ref}`) });
    expect(cpu()).toBe('4');
    expect(git('log', '-1', '--format=%B')).toContain(`This reverts commit ${applied.ref}.`);
    // Asked again (a second stop, before the first rollback was recorded): nothing more to do.
    const head = git('rev-parse', 'HEAD');
    expect(await executor.rollback(order, undefined)).toMatchObject({
      done: true,
      detail: expect.stringContaining('already reverted'),
    });
    expect(await executor.rollback(order, applied)).toMatchObject({ done: true });
    expect(git('rev-parse', 'HEAD')).toBe(head);
  });

  it('a rollback whose revert conflicts fails and abandons the revert, leaving the working copy clean', async () => {
    const order = await signedOrder();
    const executor = createGitopsExecutor({ repoDir: repo, now: () => new Date() });
    const applied = await executor.apply(order);
    // Someone (or a later incident) changes the same line afterwards.
    const m = JSON.parse(readFileSync(quotaFile(), 'utf8'));
    m.spec.hard['limits.cpu'] = '6';
    writeFileSync(quotaFile(), `${JSON.stringify(m, null, 2)}\n`);
    git('commit', '--quiet', '-am', 'operator raises cpu to 6');
    // The runner records the rollback as not done; the repository stays usable: no revert in
    // progress, no conflict markers in the manifest.
    const head = git('rev-parse', 'HEAD');
    await expect(executor.rollback(order, applied)).rejects.toMatchObject({ code: 'CONFLICT' });
    expect(git('status', '--porcelain')).toBe('');
    expect(git('rev-parse', 'HEAD')).toBe(head);
    expect(cpu()).toBe('6');
    // The next execution goes through.
    const next = await executeOrder(
      await signedOrder('resourcequota://shop/other', 'inc-after-conflict'),
      executor,
      await trusted(),
    );
    expect(next.record.status).toBe('succeeded');
  });

  it('refuses a manifest that is a symbolic link, and writes nothing outside the repository', async () => {
    // A file on the gateway's host, outside the repository, that happens to be JSON.
    const outside = mkdtempSync(join(tmpdir(), 'aaps-gitops-outside-'));
    try {
      const victim = join(outside, 'victim.json');
      const original = `${JSON.stringify({ spec: { hard: { 'limits.cpu': '1' } } }, null, 2)}\n`;
      writeFileSync(victim, original);
      // Someone with push access to the GitOps repository commits a symlink as a manifest.
      mkdirSync(join(repo, 'evil', 'resourcequota'), { recursive: true });
      symlinkSync(victim, join(repo, 'evil', 'resourcequota', 'compute.json'));
      git('add', '.');
      git('commit', '--quiet', '-m', 'a manifest');
      const executor = createGitopsExecutor({ repoDir: repo, now: () => new Date() });
      const head = git('rev-parse', 'HEAD');
      const { record } = await executeOrder(
        await signedOrder('resourcequota://evil/compute'),
        executor,
        await trusted(),
      );
      expect(record).toMatchObject({
        status: 'rolled_back',
        error: expect.stringMatching(/^INVALID_ARGUMENT: .*symbolic link/),
      });
      expect(readFileSync(victim, 'utf8')).toBe(original);
      expect(git('rev-parse', 'HEAD')).toBe(head);
    } finally {
      rmSync(outside, { recursive: true, force: true });
    }
  });

  it('concurrent applies (orders already checked) on different manifests all land, one commit each', async () => {
    const executor = createGitopsExecutor({ repoDir: repo, now: () => new Date() });
    const names = ['compute', 'other', 'third', 'fourth', 'q5', 'q6', 'q7', 'q8'];
    const orders = await Promise.all(
      names.map((n, i) => signedOrder(`resourcequota://shop/${n}`, `inc-d${i}`)),
    );
    const results = await Promise.allSettled(orders.map((o) => executor.apply(o)));
    expect(
      results.map((r) => (r.status === 'fulfilled' ? 'ok' : String((r.reason as Error).message))),
    ).toEqual(names.map(() => 'ok'));
    expect(names.map((n) => cpu(n))).toEqual(names.map(() => '5'));
    expect(git('status', '--porcelain')).toBe('');
    expect(git('rev-list', '--count', 'HEAD')).toBe(String(names.length + 1));
  });

  it('a push that fails after the remote took it (a time limit) is not rolled back: the change stands', async () => {
    // The remote updates the branch, then keeps the connection past the executor's time limit.
    writeFileSync(join(bare, 'hooks', 'post-receive'), '#!/bin/sh\nsleep 8\n', { mode: 0o755 });
    const executor = createGitopsExecutor({
      repoDir: repo,
      remote: 'origin',
      branch: 'main',
      networkTimeoutMs: 4000,
      now: () => new Date(),
    });
    const { record } = await executeOrder(await signedOrder(), executor, await trusted());
    expect(record).toMatchObject({ status: 'succeeded', post_checks: [{ passed: true }] });
    expect(remoteCpu()).toBe('5');
    expect(git('rev-parse', 'HEAD')).toBe(record.ref);
  });

  it('after a stop between the push and the record, rollback reverts the pushed commit and pushes the revert', async () => {
    const order = await signedOrder();
    const executor = createGitopsExecutor({ repoDir: repo, remote: 'origin', now: () => new Date() });
    const applied = await executor.apply(order);
    expect(remoteCpu()).toBe('5');
    // While the remote cannot be read, nobody can say whether the change is live: not done.
    git('remote', 'set-url', 'origin', join(bare, 'gone'));
    await expect(executor.rollback(order, undefined)).rejects.toMatchObject({ code: 'UNAVAILABLE' });
    git('remote', 'set-url', 'origin', bare);
    const undone = await executor.rollback(order, undefined);
    expect(undone).toMatchObject({ done: true, detail: expect.stringContaining(`reverted ${applied.ref}`) });
    expect(remoteCpu()).toBe('4');
    expect(cpu()).toBe('4');
    expect(git('rev-parse', 'HEAD')).toBe(remoteGit('rev-parse', 'main'));
  });

  it('after a stop between the commit and the push, rollback drops the commit nobody saw', async () => {
    const order = await signedOrder();
    const head = git('rev-parse', 'HEAD');
    // The commit is made but not pushed (what a stop between the two leaves).
    await createGitopsExecutor({ repoDir: repo, now: () => new Date() }).apply(order);
    const executor = createGitopsExecutor({ repoDir: repo, remote: 'origin', now: () => new Date() });
    const undone = await executor.rollback(order, undefined);
    expect(undone).toMatchObject({ done: true, detail: expect.stringContaining('never pushed') });
    expect(git('rev-parse', 'HEAD')).toBe(head);
    expect(remoteGit('rev-parse', 'main')).toBe(head);
    expect(cpu()).toBe('4');
    expect(git('status', '--porcelain')).toBe('');
  });

  it('an execution catches up with a remote that moved, and refuses to build on local commits the remote lacks', async () => {
    // Someone else pushes a change to another manifest.
    const other = mkdtempSync(join(tmpdir(), 'aaps-gitops-other-'));
    try {
      execFileSync('git', ['clone', '--quiet', bare, other]);
      const path = join(other, 'shop', 'resourcequota', 'third.json');
      writeFileSync(path, readFileSync(path, 'utf8').replace('"pods": "20"', '"pods": "30"'));
      const inOther = (...args: string[]) => execFileSync('git', args, { cwd: other, encoding: 'utf8' });
      inOther(
        '-c',
        'user.name=o',
        '-c',
        'user.email=o@example.invalid',
        'commit',
        '--quiet',
        '-am',
        'pods 30',
      );
      inOther('push', '--quiet', 'origin', 'main');
    } finally {
      rmSync(other, { recursive: true, force: true });
    }
    const executor = createGitopsExecutor({ repoDir: repo, remote: 'origin', now: () => new Date() });
    const t = await trusted();
    const first = await executeOrder(await signedOrder(), executor, t);
    expect(first.record.status).toBe('succeeded');
    expect(remoteGit('log', '--format=%s', 'main')).toMatch(/^aaps: .*\npods 30\n/);
    // A local commit the remote lacks would ride along with the next push: refused, nothing written.
    git('commit', '--quiet', '--allow-empty', '-m', 'local only');
    const head = git('rev-parse', 'HEAD');
    const second = await executeOrder(await signedOrder('resourcequota://shop/other', 'inc-2'), executor, t);
    expect(second.record).toMatchObject({
      status: 'rolled_back',
      error: expect.stringContaining('CONFLICT'),
    });
    expect(git('rev-parse', 'HEAD')).toBe(head);
    expect(cpu('other')).toBe('4');
    expect(remoteGit('log', '--format=%s', 'main')).not.toContain('local only');
  });

  it('an action it cannot make as a manifest edit is recorded as not applied (failed), with no rollback, and the repository untouched', async () => {
    const executor = createGitopsExecutor({
      repoDir: repo,
      remote: 'origin',
      branch: 'main',
      now: () => new Date(),
    });
    const head = git('rev-parse', 'HEAD');
    const orders = [
      // A rollback with no history: `kubectl rollout undo`, which no manifest edit expresses.
      await signedProposal({
        incident_id: 'inc-gitops-undo',
        action: 'image_rollback',
        target: 'deployment://shop/web',
        parameters: { basis: 'previous_revision', to_revision: 'previous' },
        evidence_refs: ['event://shop/evt-1'],
      }),
    ];
    for (const order of orders) {
      const { record } = await executeOrder(order, executor, await trusted());
      expect(record, order.proposal.action).toEqual({
        executor: 'gitops',
        status: 'failed',
        change: {},
        post_checks: [],
        error: expect.stringMatching(
          new RegExp(
            `^NOT_APPLIED: gitops cannot carry out ${order.proposal.action} as a manifest edit .*nothing was changed`,
          ),
        ),
      });
    }
    expect(orders[0] && (await executeOrder(orders[0], executor, await trusted())).record.error).toContain(
      'kubectl rollout undo deployment/web -n shop',
    );
    // A human-approval action (RBAC; the parties sign it only with a person's approval) likewise.
    const rbac = { ...orders[0]!, proposal: { ...orders[0]!.proposal, action: 'rbac_change' } };
    expect(executor.unsupported?.(rbac)).toMatch(
      /^gitops cannot carry out rbac_change .*carried out by a person/,
    );
    expect(git('rev-parse', 'HEAD')).toBe(head);
    expect(git('status', '--porcelain')).toBe('');
    expect(remoteGit('log', '--format=%s', 'main')).toBe('initial');
  });

  it('a rollback refuses to revert over changes staged in other files, and leaves them staged (git revert would not run; abandoning it unstaged them)', async () => {
    const executor = createGitopsExecutor({
      repoDir: repo,
      remote: 'origin',
      branch: 'main',
      now: () => new Date(),
    });
    const order = await signedOrder();
    const { record, applied } = await executeOrder(order, executor, await trusted());
    expect(record.status).toBe('succeeded');
    // A person stages an edit of another manifest meanwhile.
    writeFileSync(quotaFile('other'), readFileSync(quotaFile('other'), 'utf8').replace('"20"', '"30"'));
    git('add', 'shop/resourcequota/other.json');
    const head = git('rev-parse', 'HEAD');
    const outcome = await executor.rollback(order, applied).catch((e: unknown) => e);
    expect(String((outcome as Error).message)).toMatch(
      /^cannot revert [0-9a-f]{40}: shop\/resourcequota\/other\.json is staged in the working copy's index, by no execution/,
    );
    expect(git('rev-parse', 'HEAD')).toBe(head);
    expect(git('diff', '--cached', '--name-only')).toBe('shop/resourcequota/other.json');
    expect(cpu()).toBe('5');
  });
});
