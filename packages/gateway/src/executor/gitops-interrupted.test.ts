/**
 * The GitOps executor after a gateway stopped mid-apply or mid-rollback (killed in a child process
 * at a git hook: in its commit, in its revert, in the reset that drops a commit), before a manifest
 * someone else left edited, and before a git operation someone else left in progress: it settles
 * only what it noted itself, and commits only what the parties signed. Real temporary git
 * repositories (and a bare remote where a push matters).
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createGitopsExecutor } from './gitops.js';
import { executeOrder } from './maintenance.js';
import { pushedFromElsewhere, quotaText } from './test-helpers/elsewhere.js';
import { applyKilledAt, executorKilledAt } from './test-helpers/killed-apply.js';
import { signedQuotaOrder, trustedGroup } from './test-helpers/quota-order.js';

let repo: string;
const git = (...args: string[]) => execFileSync('git', args, { cwd: repo, encoding: 'utf8' }).trim();
const QUOTA = join('shop', 'resourcequota', 'compute.json');
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
let bare: string | undefined;
afterEach(() => {
  rmSync(repo, { recursive: true, force: true });
  if (bare !== undefined) rmSync(bare, { recursive: true, force: true });
  bare = undefined;
});

/** A bare repository as the working copy's `origin`, holding its branch. */
const withRemote = () => {
  bare = mkdtempSync(join(tmpdir(), 'aaps-gitops-int-bare-'));
  execFileSync('git', ['init', '--quiet', '--bare', '--initial-branch=main', bare]);
  git('remote', 'add', 'origin', bare);
  git('push', '--quiet', 'origin', 'main');
};
const remoteGit = (...args: string[]) =>
  execFileSync('git', ['--git-dir', bare ?? '', ...args], { encoding: 'utf8' }).trim();

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

describe("gitops: a gateway killed in a rollback's git operation", () => {
  const here = () => ({ gitDir: join(repo, '.git'), repoDir: repo });
  const executor = (remote?: string) =>
    createGitopsExecutor({
      repoDir: repo,
      ...(remote === undefined ? {} : { remote }),
      now: () => new Date(),
    });
  /** An apply of incident `id` (limits.cpu 4 -> 5), committed (and pushed with `remote`). */
  const applied = async (id: string, remote?: string) => {
    const order = await signedQuotaOrder('resourcequota://shop/compute', id);
    const { ref } = await executor(remote).apply(order);
    return { order, commit: ref ?? '' };
  };
  const revertsOf = (commit: string, log = git) =>
    log('log', '--format=%H', '--fixed-strings', `--grep=This reverts commit ${commit}.`, 'main')
      .split('\n')
      .filter((l) => l !== '');
  const gitFile = (name: string) => existsSync(join(repo, '.git', name));

  it('before the revert commit: the next rollback abandons the half revert, then reverts', async () => {
    const { order, commit } = await applied('inc-killed-revert');
    const killed = await executorKilledAt('prepare-commit-msg', here(), 'rollback', order);
    expect(killed).toEqual({ out: '', signal: 'SIGKILL' });
    // As git leaves it: the revert staged, not committed, its message waiting in MERGE_MSG.
    expect(git('rev-parse', 'HEAD')).toBe(commit);
    expect(git('status', '--porcelain')).toBe(`M  ${QUOTA}`);
    expect(gitFile('MERGE_MSG')).toBe(true);
    expect(existsSync(note())).toBe(true);
    const undone = await executor().rollback(order, undefined);
    expect(undone.done).toBe(true);
    expect(git('rev-parse', 'HEAD^')).toBe(commit);
    expect(revertsOf(commit)).toHaveLength(1);
    expect(cpuAt('HEAD')).toBe('4');
    expect(git('status', '--porcelain')).toBe('');
    expect(gitFile('MERGE_MSG')).toBe(false);
    expect(existsSync(note())).toBe(false);
    expect(undone.detail).toMatch(
      new RegExp(
        `^abandoned the revert of ${commit} that incident inc-killed-revert was making .*; reverted ${commit} `,
      ),
    );
  });

  it('before the revert commit: the next apply, first, commits only its own change and records what it undid', async () => {
    writeFileSync(join(repo, 'shop', 'resourcequota', 'other.json'), quotaText('4'));
    git('add', '.');
    git('commit', '--quiet', '-m', 'another quota');
    const { order, commit } = await applied('inc-killed-revert');
    await executorKilledAt('prepare-commit-msg', here(), 'rollback', order);
    const next = await executeOrder(
      await signedQuotaOrder('resourcequota://shop/other', 'inc-next'),
      executor(),
      await trustedGroup(),
    );
    expect(next.record.status).toBe('succeeded');
    expect(next.record.change['recovered']).toMatch(new RegExp(`^abandoned the revert of ${commit} `));
    expect(git('show', '--name-only', '--format=', 'HEAD')).toBe('shop/resourcequota/other.json');
    // The killed incident's change is still on the branch, whole, for its rollback to revert.
    expect(cpuAt('HEAD')).toBe('5');
    expect(git('status', '--porcelain')).toBe('');
    expect(await executor().rollback(order, undefined)).toMatchObject({
      done: true,
      detail: expect.stringMatching(new RegExp(`^reverted ${commit} `)),
    });
    expect(cpuAt('HEAD')).toBe('4');
  });

  it('after the revert commit, before its push: the next rollback takes it off, then reverts and pushes once', async () => {
    withRemote();
    const { order, commit } = await applied('inc-killed-push', 'origin');
    const killed = await executorKilledAt('post-commit', { ...here(), remote: 'origin' }, 'rollback', order);
    expect(killed.signal).toBe('SIGKILL');
    // The revert is committed locally; the remote never got it.
    expect(revertsOf(commit)).toHaveLength(1);
    expect(remoteGit('rev-parse', 'main')).toBe(commit);
    const undone = await executor('origin').rollback(order, undefined);
    expect(undone.done).toBe(true);
    // Reported done: the remote no longer holds the change.
    expect(JSON.parse(remoteGit('show', `main:${QUOTA}`)).spec.hard['limits.cpu']).toBe('4');
    expect(revertsOf(commit, remoteGit)).toHaveLength(1);
    expect(git('rev-parse', 'HEAD')).toBe(remoteGit('rev-parse', 'main'));
    expect(undone.detail).toMatch(
      /^took [0-9a-f]{40}, the revert of .* off the local branch: it may not have been pushed; reverted /,
    );
    expect(git('status', '--porcelain')).toBe('');
    expect(existsSync(note())).toBe(false);
  });

  it('after the revert commit, without a remote: the revert is kept, and not made twice', async () => {
    const { order, commit } = await applied('inc-killed-kept');
    await executorKilledAt('post-commit', here(), 'rollback', order);
    const revert = git('rev-parse', 'HEAD');
    expect(revertsOf(commit)).toEqual([revert]);
    const undone = await executor().rollback(order, undefined);
    expect(undone).toEqual({
      done: true,
      detail: `kept ${revert}, the revert of ${commit} that incident inc-killed-kept committed before the gateway stopped; ${commit} was already reverted in ${revert}`,
    });
    expect(git('rev-parse', 'HEAD')).toBe(revert);
    expect(existsSync(note())).toBe(false);
  });

  it('in a revert that conflicts, before it was abandoned: the next apply abandons it and goes on', async () => {
    writeFileSync(join(repo, 'shop', 'resourcequota', 'other.json'), quotaText('4'));
    git('add', '.');
    git('commit', '--quiet', '-m', 'another quota');
    const { order } = await applied('inc-killed-conflict');
    // An operator raises the same limit afterwards: reverting the incident's commit conflicts.
    writeFileSync(join(repo, QUOTA), quotaText('6'));
    git('commit', '--quiet', '-am', 'operator raises cpu to 6');
    const head = git('rev-parse', 'HEAD');
    const killed = await executorKilledAt('revert-head-written', here(), 'rollback', order);
    expect(killed.signal).toBe('SIGKILL');
    // As git leaves a revert that conflicts: REVERT_HEAD, and the manifest unmerged.
    expect(gitFile('REVERT_HEAD')).toBe(true);
    expect(git('status', '--porcelain')).toBe(`UU ${QUOTA}`);
    const next = await executeOrder(
      await signedQuotaOrder('resourcequota://shop/other', 'inc-next'),
      executor(),
      await trustedGroup(),
    );
    expect(next.record.status).toBe('succeeded');
    expect(git('rev-parse', 'HEAD^')).toBe(head);
    expect(git('show', '--name-only', '--format=', 'HEAD')).toBe('shop/resourcequota/other.json');
    expect(gitFile('REVERT_HEAD')).toBe(false);
    expect(git('status', '--porcelain')).toBe('');
    expect(cpuAt('HEAD')).toBe('6');
    // The incident's own rollback conflicts again, and is abandoned as before.
    await expect(executor().rollback(order, undefined)).rejects.toMatchObject({ code: 'CONFLICT' });
    expect(git('status', '--porcelain')).toBe('');
  });

  it('in the reset that drops a commit never pushed: the next rollback puts the files back, then drops it', async () => {
    withRemote();
    const base = git('rev-parse', 'HEAD');
    // Committed but not pushed (an executor without the remote), as a stop before the push leaves.
    const { order, commit } = await applied('inc-killed-drop');
    const killed = await executorKilledAt(
      'branch-update',
      { ...here(), remote: 'origin' },
      'rollback',
      order,
    );
    expect(killed.signal).toBe('SIGKILL');
    // The files already as before the commit, the branch still on it.
    expect(git('rev-parse', 'HEAD')).toBe(commit);
    expect(git('status', '--porcelain')).toBe(`M  ${QUOTA}`);
    const undone = await executor('origin').rollback(order, undefined);
    expect(git('rev-parse', 'HEAD')).toBe(base);
    expect(git('status', '--porcelain')).toBe('');
    expect(cpuAt('HEAD')).toBe('4');
    expect(undone).toEqual({
      done: true,
      detail: `abandoned dropping ${commit} that incident inc-killed-drop was doing when the gateway stopped (put ${QUOTA} back as committed); dropped ${commit} of incident inc-killed-drop, which was never pushed`,
    });
  });
});

describe("gitops: a gateway killed in the fast-forward to the remote's branch", () => {
  it('files part-way between the two commits: the next apply puts them back, fast-forwards again, then commits', async () => {
    withRemote();
    // Someone else pushes a commit that adds two files and deletes one.
    pushedFromElsewhere(bare ?? '', (other, og) => {
      writeFileSync(join(other, 'shop', 'resourcequota', 'other.json'), quotaText('2'));
      og('rm', '--quiet', join('prod', QUOTA));
      writeFileSync(join(other, 'shop', 'resourcequota', 'moved.json'), quotaText('8'));
    });
    const theirs = remoteGit('rev-parse', 'main');
    const before = git('rev-parse', 'HEAD');
    const order = await signedQuotaOrder('resourcequota://shop/compute', 'inc-killed-catch-up');
    const here = { gitDir: join(repo, '.git'), repoDir: repo, remote: 'origin' };
    const killed = await executorKilledAt('branch-update', here, 'apply', order);
    expect(killed.signal).toBe('SIGKILL');
    expect(git('rev-parse', 'HEAD')).toBe(before);
    // Killed there, git has written the files and the index, which a fast-forward takes as they
    // are. Killed a moment before, while it wrote the files, the index is still the branch
    // head's: as here once the index is read back from it. A fast-forward then refuses.
    git('read-tree', 'HEAD');
    const status = execFileSync('git', ['status', '--porcelain'], { cwd: repo, encoding: 'utf8' });
    expect(
      status
        .split('\n')
        .filter((l) => l !== '')
        .sort(),
    ).toEqual([` D prod/${QUOTA}`, '?? shop/resourcequota/moved.json', '?? shop/resourcequota/other.json']);

    const executor = createGitopsExecutor({ repoDir: repo, remote: 'origin', now: () => new Date() });
    const done = await executeOrder(order, executor, await trustedGroup());
    expect(done.record.status).toBe('succeeded');
    expect(done.record.change['recovered']).toMatch(
      new RegExp(
        `^put back .* as committed in ${before}: incident inc-killed-catch-up stopped in the fast-forward to ${theirs}`,
      ),
    );
    // On top of the other commit, with only its own change; nothing left over.
    expect(git('rev-parse', 'HEAD^')).toBe(theirs);
    expect(git('show', '--name-only', '--format=', 'HEAD')).toBe(QUOTA);
    expect(remoteGit('rev-parse', 'main')).toBe(git('rev-parse', 'HEAD'));
    expect(cpuAt('HEAD')).toBe('5');
    expect(cpuAt('HEAD', 'shop/resourcequota/other.json')).toBe('2');
    expect(cpuAt('HEAD', 'shop/resourcequota/moved.json')).toBe('8');
    expect(existsSync(join(repo, 'prod', QUOTA))).toBe(false);
    expect(git('status', '--porcelain')).toBe('');
    expect(existsSync(note())).toBe(false);
  });
});

describe("gitops: a fast-forward a person's edit is in the way of", () => {
  it('fails, leaving the edit as it is; once the person is done, the next apply goes on', async () => {
    withRemote();
    const rel = join('shop', 'resourcequota', 'other.json');
    writeFileSync(join(repo, rel), quotaText('4'));
    git('add', '.');
    git('commit', '--quiet', '-m', 'another quota');
    git('push', '--quiet', 'origin', 'main');
    // Someone else changes that file on the remote; a person here edits it, uncommitted.
    pushedFromElsewhere(bare ?? '', (other) => writeFileSync(join(other, rel), quotaText('2')));
    const theirs = remoteGit('rev-parse', 'main');
    writeFileSync(join(repo, rel), quotaText('3'));
    const order = await signedQuotaOrder('resourcequota://shop/compute', 'inc-in-the-way');
    const executor = createGitopsExecutor({ repoDir: repo, remote: 'origin', now: () => new Date() });
    const first = await executeOrder(order, executor, await trustedGroup());
    expect(first.record.status).toBe('failed');
    expect(readFileSync(join(repo, rel), 'utf8')).toBe(quotaText('3'));
    // Settled at once: git wrote nothing, and no note says that something stopped.
    expect(existsSync(note())).toBe(false);

    git('checkout', '--', rel); // the person is done
    const next = await executeOrder(order, executor, await trustedGroup());
    expect(next.record.status).toBe('succeeded');
    expect(next.record.change['recovered']).toBeUndefined();
    expect(git('rev-parse', 'HEAD^')).toBe(theirs);
    expect(cpuAt('HEAD', rel)).toBe('2');
    expect(git('status', '--porcelain')).toBe('');
    expect(existsSync(note())).toBe(false);
  });
});

describe('gitops: a git operation the gateway did not start', () => {
  it('a revert in progress is refused in one line naming the working copy, and left as it is', async () => {
    const executor = createGitopsExecutor({ repoDir: repo, now: () => new Date() });
    const order = await signedQuotaOrder('resourcequota://shop/compute', 'inc-foreign');
    const { ref } = await executor.apply(order);
    // A person starts reverting the commit by hand (as git leaves `git revert --no-commit`).
    git('revert', '--no-commit', ref ?? '');
    const status = git('status', '--porcelain');
    const other = await signedQuotaOrder('resourcequota://shop/compute', 'inc-other');
    for (const step of [() => executor.apply(other), () => executor.rollback(order, undefined)]) {
      const refused = await step().then(
        () => undefined,
        (e: unknown) => e as { code: string; message: string },
      );
      expect(refused?.code).toBe('CONFLICT');
      expect(refused?.message).not.toContain('\n');
      expect(refused?.message).toContain(`the working copy ${repo} has a git revert`);
      expect(refused?.message).toContain('git revert --abort');
    }
    expect(git('rev-parse', 'HEAD')).toBe(ref);
    expect(git('status', '--porcelain')).toBe(status);
    expect(existsSync(join(repo, '.git', 'REVERT_HEAD'))).toBe(true);
    expect(existsSync(note())).toBe(false);
    // Once the person abandons it, executions run again.
    git('revert', '--abort');
    expect(await executor.rollback(order, undefined)).toMatchObject({ done: true });
    expect(cpuAt('HEAD')).toBe('4');
  });

  it('an index.lock that stays is refused, naming it; the lock is left for a person', async () => {
    const lock = join(repo, '.git', 'index.lock');
    writeFileSync(lock, '');
    const executor = createGitopsExecutor({ repoDir: repo, lockWaitMs: 300, now: () => new Date() });
    const head = git('rev-parse', 'HEAD');
    await expect(
      executor.apply(await signedQuotaOrder('resourcequota://shop/compute', 'inc-locked')),
    ).rejects.toMatchObject({
      code: 'UNAVAILABLE',
      message: expect.stringContaining(
        `${lock} exists: a git command is running in the working copy ${repo}`,
      ),
    });
    expect(existsSync(lock)).toBe(true);
    expect(git('rev-parse', 'HEAD')).toBe(head);
    expect(readFileSync(join(repo, QUOTA), 'utf8')).toBe(quotaText('4'));
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
