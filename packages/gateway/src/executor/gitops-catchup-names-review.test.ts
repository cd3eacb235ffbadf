/**
 * Review of 653a120 (fixed in the commit that adds this file; this says what was found): the catch-up note lists the files that differ between the branch head and the
 * remote's, read with `git diff --name-only -z` through the executor's `git()`, which trims its
 * output. A first path that starts with a space loses it: a gateway killed in the fast-forward
 * leaves that file behind, and the next step's fast-forward refuses to overwrite it.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createGitopsExecutor } from './gitops.js';
import { executeOrder } from './maintenance.js';
import { pushedFromElsewhere, quotaText } from './test-helpers/elsewhere.js';
import { executorKilledAt } from './test-helpers/killed-apply.js';
import { signedQuotaOrder, trustedGroup } from './test-helpers/quota-order.js';

let repo: string;
let bare: string;
const run = (cwd: string, ...args: string[]) => execFileSync('git', args, { cwd, encoding: 'utf8' }).trim();
const git = (...args: string[]) => run(repo, ...args);
const QUOTA = join('shop', 'resourcequota', 'compute.json');
const ODD = ' lead.txt';
const note = () => join(repo, '.git', 'aaps-gitops-pending.json');

beforeEach(() => {
  repo = mkdtempSync(join(tmpdir(), 'aaps-rev-names-'));
  git('init', '--quiet', '--initial-branch=main');
  git('config', 'user.email', 'test@example.invalid');
  git('config', 'user.name', 'test');
  mkdirSync(join(repo, 'shop', 'resourcequota'), { recursive: true });
  writeFileSync(join(repo, QUOTA), quotaText('4'));
  git('add', '.');
  git('commit', '--quiet', '-m', 'initial');
  bare = mkdtempSync(join(tmpdir(), 'aaps-rev-names-bare-'));
  execFileSync('git', ['init', '--quiet', '--bare', '--initial-branch=main', bare]);
  git('remote', 'add', 'origin', bare);
  git('push', '--quiet', 'origin', 'main');
});
afterEach(() => {
  for (const d of [repo, bare]) rmSync(d, { recursive: true, force: true });
});

describe('gitops catch-up review: a path that starts with a space', () => {
  it('a gateway killed in the fast-forward: the next apply puts the file back and goes on', async () => {
    // Someone else pushes a commit adding ` lead.txt` (the first path of the diff).
    const theirs = pushedFromElsewhere(bare, (other) => writeFileSync(join(other, ODD), 'from elsewhere\n'));
    const before = git('rev-parse', 'HEAD');

    const order = await signedQuotaOrder('resourcequota://shop/compute', 'inc-killed-odd');
    const killed = await executorKilledAt(
      'branch-update',
      { gitDir: join(repo, '.git'), repoDir: repo, remote: 'origin' },
      'apply',
      order,
    );
    expect(killed.signal).toBe('SIGKILL');
    expect(git('rev-parse', 'HEAD')).toBe(before);
    // The note names the file the fast-forward wrote, as git names it.
    const noted = JSON.parse(readFileSync(note(), 'utf8')) as { paths: string[] };
    expect(noted.paths).toContain(ODD);
    // Killed a moment earlier, while git wrote the files, the index is still the head's (as in
    // gitops-interrupted.test.ts).
    git('read-tree', 'HEAD');
    expect(existsSync(join(repo, ODD))).toBe(true);

    const executor = createGitopsExecutor({ repoDir: repo, remote: 'origin', now: () => new Date() });
    const done = await executeOrder(order, executor, await trustedGroup());
    expect(done.record.error ?? null).toBeNull();
    expect(done.record.status).toBe('succeeded');
    expect(git('rev-parse', 'HEAD^')).toBe(theirs);
  }, 60_000);
});
