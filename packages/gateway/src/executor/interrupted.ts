/**
 * What the GitOps executor does first, in each apply and rollback: it finds git operations left
 * in progress in the working copy and the step a stopped gateway noted (pending-edit.ts), and
 * finishes or undoes its own, so that the step can be done again from the start; it refuses to
 * touch anyone else's.
 *
 * - `index.lock` in the git directory: a git command is running there, or was killed. It is
 *   waited for a while (a gateway killed mid-command leaves its git child to finish), then
 *   refused (`UNAVAILABLE`): only a person can tell that no git runs.
 * - A revert, cherry-pick, merge or rebase in progress, or unmerged index entries: the executor's
 *   own only when a noted `revert` step names that revert (its `REVERT_HEAD`, conflicts in its
 *   files); anything else is refused (`CONFLICT`) in one line naming the working copy and what a
 *   person runs.
 * - A noted step, by how far it got: an `apply` stopped before its commit has its manifests put
 *   back as the branch head has them (after it, they already are); a `revert` stopped before its
 *   commit is abandoned (`git revert --quit`, its files put back); one committed is kept without a
 *   remote and taken off the branch with one (it may not have been pushed: the rollback that
 *   follows catches up with the remote and reverts again only if the remote lacks it); a `drop`
 *   (`git reset`) has its files put back as the branch head has them, wherever it stopped. A
 *   branch moved elsewhere since the note is refused (`CONFLICT`): a person must look. A
 *   `catch-up` (the fast-forward to the remote's branch) that stopped before the branch moved has
 *   each file it had written (holding the remote's version) put back as the branch head has it;
 *   a file holding anything else is a person's, and left for the fast-forward to refuse.
 *
 * Returns what it did, for the caller to record, or undefined when there was nothing to do.
 * Errors name the working copy and the git files, never git's output.
 */
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { AapsError } from '@aaps/mpc-core';
import type { PendingEdit, PendingEditNote } from './pending-edit.js';
import { revertLine } from './working-copy.js';

export interface InterruptedDeps {
  /** The working copy, as messages name it. */
  repo: string;
  /** `git rev-parse --absolute-git-dir`. */
  gitDir: string;
  git(...args: string[]): Promise<string>;
  note: PendingEditNote;
  /** Whether executions push to a remote. */
  hasRemote: boolean;
  /** Whether a file or directory exists at `path`. */
  exists(path: string): Promise<boolean>;
  readFile(path: string, encoding: 'utf8'): Promise<string>;
  /** How long an `index.lock` is waited for before the step is refused. */
  lockWaitMs: number;
}

/** A git operation in progress, as git marks it in its git directory or index. */
interface InProgress {
  /** What it is, for a person ("a git revert"). */
  what: string;
  /** Where git marks it (a path in the git directory, or the unmerged paths). */
  where: string;
  /** What a person runs to finish or abandon it. */
  remedy: string;
  /** Whether it is the noted step's. */
  ours: boolean;
}

/** Marks in the git directory of operations a person finishes or abandons, and how. */
const MARKS: readonly { file: string; what: string; remedy: string }[] = [
  { file: 'REVERT_HEAD', what: 'a git revert', remedy: 'git revert --continue or git revert --abort' },
  {
    file: 'CHERRY_PICK_HEAD',
    what: 'a git cherry-pick',
    remedy: 'git cherry-pick --continue or git cherry-pick --abort',
  },
  { file: 'MERGE_HEAD', what: 'a git merge', remedy: 'git merge --continue or git merge --abort' },
  {
    file: 'sequencer',
    what: 'a git revert or cherry-pick of several commits',
    remedy: 'git revert (or cherry-pick) --continue or --abort',
  },
  { file: 'rebase-merge', what: 'a git rebase', remedy: 'git rebase --continue or git rebase --abort' },
  {
    file: 'rebase-apply',
    what: 'a git rebase or am',
    remedy: 'git rebase (or am) --continue or --abort',
  },
];

const POLL_MS = 100;

/** The paths (from the top directory) with unmerged index entries. */
async function unmergedPaths(d: InterruptedDeps): Promise<string[]> {
  // `<mode> <object> <stage>\t<path>` entries; `:(top)` and --full-name: the whole repository.
  const out = await d.git('ls-files', '--unmerged', '-z', '--full-name', '--', ':(top)');
  const paths = out
    .split('\0')
    .filter((e) => e !== '')
    .map((e) => e.slice(e.indexOf('\t') + 1));
  return [...new Set(paths)];
}

/** The git operations in progress, each told ours or not by `pending`. */
async function operationsInProgress(d: InterruptedDeps, pending: PendingEdit | undefined) {
  const reverting = pending?.step === 'revert' ? pending : undefined;
  const found: InProgress[] = [];
  for (const mark of MARKS) {
    const where = join(d.gitDir, mark.file);
    if (!(await d.exists(where))) continue;
    const ours =
      mark.file === 'REVERT_HEAD' &&
      reverting !== undefined &&
      (await d.readFile(where, 'utf8').catch(() => '')).trim() === reverting.commit;
    found.push({ what: mark.what, where, remedy: mark.remedy, ours });
  }
  const unmerged = await unmergedPaths(d);
  if (unmerged.length > 0) {
    found.push({
      what: `unmerged paths (${unmerged.join(', ')})`,
      where: 'the index',
      remedy: 'resolve them (git add) or check them out (git checkout HEAD -- <path>)',
      ours: reverting !== undefined && unmerged.every((p) => reverting.paths.includes(p)),
    });
  }
  return found;
}

/** Waits up to `lockWaitMs` for `index.lock` to go; refuses (`UNAVAILABLE`) if it stays. */
async function waitForIndexLock(d: InterruptedDeps): Promise<void> {
  const lock = join(d.gitDir, 'index.lock');
  for (let waited = 0; await d.exists(lock); waited += POLL_MS) {
    if (waited >= d.lockWaitMs) {
      throw new AapsError(
        'UNAVAILABLE',
        `${lock} exists: a git command is running in the working copy ${d.repo}, or was killed there; if none is running, a person removes ${lock}`,
      );
    }
    await sleep(POLL_MS);
  }
}

/** Puts `paths` (from the top directory) back as the branch head has them, in index and files. */
async function putBack(d: InterruptedDeps, paths: readonly string[]): Promise<void> {
  if (paths.length === 0) return;
  await d.git(
    'restore',
    '--source=HEAD',
    '--staged',
    '--worktree',
    '--',
    ...paths.map((p) => `:(top,literal)${p}`),
  );
}

/** The blob id of `path` (from the top directory) in `commit`, or '' if it holds none. */
const blobIn = (d: InterruptedDeps, commit: string, path: string) =>
  d.git('rev-parse', '--verify', '--quiet', `${commit}:${path}`).catch(() => '');

/**
 * Undoes what a fast-forward from the branch head to `target` wrote before it was stopped: each of
 * `paths` (from the top directory) whose file or index entry holds `target`'s version is put back
 * as the branch head has it (removed, if the head has none); a path holding anything else (a
 * person's edit) is left as it is, for the fast-forward to refuse as git does. Returns the paths
 * put back.
 */
async function undoFastForward(
  d: InterruptedDeps,
  target: string,
  paths: readonly string[],
): Promise<string[]> {
  const top = await d.git('rev-parse', '--show-toplevel');
  const undone: string[] = [];
  for (const path of paths) {
    const spec = `:(top,literal)${path}`;
    const [ours, base] = [await blobIn(d, target, path), await blobIn(d, 'HEAD', path)];
    const file = join(top, path);
    const inFiles = (await d.exists(file)) ? await d.git('hash-object', '--', file).catch(() => '?') : '';
    const staged = (await d.git('ls-files', '--stage', '-z', '--', spec)).split(' ')[1] ?? '';
    const written = (inFiles === ours && inFiles !== base) || (staged === ours && staged !== base);
    const untouchedOrOurs = (v: string) => v === ours || v === base;
    if (!written || !untouchedOrOurs(inFiles) || !untouchedOrOurs(staged)) continue;
    if (base !== '') {
      await d.git('restore', '--source=HEAD', '--staged', '--worktree', '--', spec);
    } else {
      await d.git('rm', '--cached', '--quiet', '--ignore-unmatch', '--', spec);
      if (inFiles !== '') await d.git('clean', '--force', '--quiet', '--', spec);
    }
    undone.push(path);
  }
  return undone;
}

/** Refuses (`CONFLICT`): the branch is neither where the noted step left it nor where it was going. */
function moved(d: InterruptedDeps, pending: PendingEdit, step: string, head: string): AapsError {
  return new AapsError(
    'CONFLICT',
    `the branch of the working copy ${d.repo} moved since incident ${pending.incident_id} stopped in ${step} (it was at ${pending.head}, it is at ${head}): a person must look, then remove ${d.note.file}`,
  );
}

/** Finishes or undoes `pending`, the step a stopped gateway noted; says what it did. */
async function settle(d: InterruptedDeps, pending: PendingEdit): Promise<string> {
  const head = await d.git('rev-parse', 'HEAD');
  const id = pending.incident_id;
  const files = pending.paths.join(', ');
  const { commit } = pending;
  if (pending.step === 'revert' && commit !== undefined) {
    if (head === pending.head) {
      // Conflicted or merely staged, REVERT_HEAD written or not: --quit forgets the revert (its
      // REVERT_HEAD, MERGE_MSG), and its files are put back.
      await d.git('revert', '--quit');
      await putBack(d, pending.paths);
      return `abandoned the revert of ${commit} that incident ${id} was making when the gateway stopped (put ${files} back as committed)`;
    }
    const parent = await d.git('rev-parse', '--verify', '--quiet', 'HEAD^').catch(() => '');
    const message = await d.git('log', '-1', '--format=%B', 'HEAD');
    // The line `git revert` writes, as a line of its own (as rollback reads it), not a mention.
    if (parent !== pending.head || !message.split('\n').includes(revertLine(commit))) {
      throw moved(d, pending, `the revert of ${commit}`, head);
    }
    if (!d.hasRemote) {
      return `kept ${head}, the revert of ${commit} that incident ${id} committed before the gateway stopped`;
    }
    await d.git('reset', '--quiet', '--keep', pending.head);
    return `took ${head}, the revert of ${commit} that incident ${id} committed before the gateway stopped, off the local branch: it may not have been pushed`;
  }
  if (pending.step === 'catch-up' && commit !== undefined) {
    if (head === commit) return `found the fast-forward to ${commit} that incident ${id} was making done`;
    if (head !== pending.head) throw moved(d, pending, `the fast-forward to ${commit}`, head);
    const undone = await undoFastForward(d, commit, pending.paths);
    // Nothing written: git refused the fast-forward before writing (a person's edit in its way).
    return undone.length === 0
      ? `found nothing written by the fast-forward to ${commit} that incident ${id} was making`
      : `put back ${undone.join(', ')} as committed in ${head}: incident ${id} stopped in the fast-forward to ${commit}`;
  }
  if (pending.step === 'drop' && commit !== undefined) {
    const target = await d.git('rev-parse', '--verify', '--quiet', `${commit}^`).catch(() => '');
    if (head !== commit && head !== target) throw moved(d, pending, `dropping ${commit}`, head);
    await putBack(d, pending.paths);
    return head === commit
      ? `abandoned dropping ${commit} that incident ${id} was doing when the gateway stopped (put ${files} back as committed)`
      : `finished dropping ${commit}, which incident ${id} had started when the gateway stopped (put ${files} back as committed)`;
  }
  // An apply's edit (a note with no step is one too).
  await putBack(d, pending.paths);
  return pending.head === undefined || head === pending.head
    ? `put ${files} back as committed (incident ${id} stopped before committing its edit)`
    : `put ${files} back as committed in ${head} (incident ${id} stopped after committing its edit)`;
}

/**
 * Settles what a stopped gateway left in the working copy (see the module comment); undefined
 * when nothing was left. Throws, changing nothing, on an operation that is not the executor's.
 */
export async function recoverInterrupted(d: InterruptedDeps): Promise<string | undefined> {
  await d.note.removeLeftover();
  await waitForIndexLock(d);
  const pending = await d.note.read();
  const operations = await operationsInProgress(d, pending);
  const theirs = operations.filter((o) => !o.ours);
  if (theirs.length > 0) {
    throw new AapsError(
      'CONFLICT',
      `the working copy ${d.repo} has ${theirs.map((o) => `${o.what} (${o.where})`).join(' and ')} in progress that the gateway did not start: a person finishes or abandons it (${theirs.map((o) => o.remedy).join('; ')}) before an execution runs there`,
    );
  }
  if (pending === undefined) return undefined;
  const did = await settle(d, pending);
  await d.note.clear();
  return did;
}
