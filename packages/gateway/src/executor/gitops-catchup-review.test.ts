/**
 * Review of 653a120 (fixed in the commit that adds this file; this says what was found): the fast-forward to the remote's branch is noted before `git merge --ff-only`
 * runs, and the note is cleared only after it returns. When git refuses the fast-forward (a
 * person's local change to a file the remote's commit also changes: git writes nothing), the note
 * stays, and the next step takes it for a gateway that stopped mid-fast-forward.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createGitopsExecutor } from './gitops.js';
import { executeOrder } from './maintenance.js';
import { pushedFromElsewhere, quotaText } from './test-helpers/elsewhere.js';
import { signedQuotaOrder, trustedGroup } from './test-helpers/quota-order.js';

let repo: string;
let bare: string;
const run = (cwd: string, ...args: string[]) => execFileSync('git', args, { cwd, encoding: 'utf8' }).trim();
const git = (...args: string[]) => run(repo, ...args);
const QUOTA = join('shop', 'resourcequota', 'compute.json');
const NOTES = join('prod', 'notes.txt');
const lines = (first: string, last: string) =>
  `${[first, ...Array.from({ length: 10 }, (_, i) => `line ${i + 2}`), last].join('\n')}\n`;
const note = () => join(repo, '.git', 'aaps-gitops-pending.json');

beforeEach(() => {
  repo = mkdtempSync(join(tmpdir(), 'aaps-rev-catchup-'));
  git('init', '--quiet', '--initial-branch=main');
  git('config', 'user.email', 'test@example.invalid');
  git('config', 'user.name', 'test');
  mkdirSync(join(repo, 'shop', 'resourcequota'), { recursive: true });
  mkdirSync(join(repo, 'prod'), { recursive: true });
  writeFileSync(join(repo, QUOTA), quotaText('4'));
  writeFileSync(join(repo, NOTES), lines('first', 'last'));
  git('add', '.');
  git('commit', '--quiet', '-m', 'initial');
  bare = mkdtempSync(join(tmpdir(), 'aaps-rev-catchup-bare-'));
  execFileSync('git', ['init', '--quiet', '--bare', '--initial-branch=main', bare]);
  git('remote', 'add', 'origin', bare);
  git('push', '--quiet', 'origin', 'main');
  // Someone else pushes a change to the last line of prod/notes.txt.
  pushedFromElsewhere(bare, (other) =>
    writeFileSync(join(other, NOTES), lines('first', 'last, from elsewhere')),
  );
  // A person on the gateway's working copy edits the first line of the same file, uncommitted.
  writeFileSync(join(repo, NOTES), lines('first, edited here', 'last'));
});
afterEach(() => {
  for (const d of [repo, bare]) rmSync(d, { recursive: true, force: true });
});

describe('gitops catch-up review: a fast-forward git refuses', () => {
  it('leaves no note of a stopped fast-forward (git wrote nothing, nothing stopped)', async () => {
    const executor = createGitopsExecutor({ repoDir: repo, remote: 'origin', now: () => new Date() });
    const order = await signedQuotaOrder('resourcequota://shop/compute', 'inc-ff-refused');
    // As the maintenance step runs it: the apply fails, then its rollback runs (and fails the same).
    const done = await executeOrder(order, executor, await trustedGroup());
    expect(done.record.status).not.toBe('succeeded');
    // Git refused before writing: the person's edit is intact, the branch where it was.
    expect(readFileSync(join(repo, NOTES), 'utf8')).toBe(lines('first, edited here', 'last'));
    expect(existsSync(note())).toBe(false);
  });

  it('once the person commits, rebases and pushes their edit, the next execution is not refused for a stop that never happened', async () => {
    const executor = createGitopsExecutor({ repoDir: repo, remote: 'origin', now: () => new Date() });
    const refused = await signedQuotaOrder('resourcequota://shop/compute', 'inc-ff-refused');
    expect((await executeOrder(refused, executor, await trustedGroup())).record.status).not.toBe('succeeded');
    // What a person does about "your local changes would be overwritten by merge".
    git('commit', '--quiet', '-am', 'my edit');
    git('pull', '--quiet', '--rebase', 'origin', 'main');
    git('push', '--quiet', 'origin', 'main');
    expect(git('status', '--porcelain')).toBe('');
    const next = await executeOrder(
      await signedQuotaOrder('resourcequota://shop/compute', 'inc-next'),
      executor,
      await trustedGroup(),
    );
    expect(next.record.error ?? null).toBeNull();
    expect(next.record.status).toBe('succeeded');
  });
});
