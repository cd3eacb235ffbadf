/**
 * The git working copy the GitOps executor edits: `git` run through the `execFile` it is given
 * (never a shell; the executor owns the process I/O), the questions the executor asks of history
 * (is one commit in another's history, what is the remote branch's head), and a queue that runs
 * one task at a time.
 *
 * Errors name the git subcommand, never its output: git prints remote URLs, and a URL can carry a
 * token.
 */
import { AapsError } from '@aaps/mpc-core';

/** `promisify(execFile)` of `node:child_process`, narrowed to what is used here. */
export type ExecFile = (
  file: string,
  args: readonly string[],
  options: { cwd: string; maxBuffer: number; timeout?: number },
) => Promise<{ stdout: string | Buffer }>;

/** `remote` as messages name it: a URL without its user and password (a token, maybe). */
export function shownRemote(remote: string): string {
  return remote.replace(/\/\/[^/@]*@/, '//');
}

/** The line `git revert` writes into its commit message for `commit` (rollback and recovery look for it). */
export function revertLine(commit: string): string {
  return `This reverts commit ${commit}.`;
}

/** Subcommands that talk to a remote: these get a time limit, local ones do not. */
const NETWORK = new Set(['push', 'fetch', 'ls-remote']);

export interface WorkingCopyOptions {
  dir: string;
  author: { name: string; email: string };
  /** Time limit for `push`, `fetch` and `ls-remote`. */
  networkTimeoutMs: number;
  execFile: ExecFile;
}

export interface WorkingCopy {
  /**
   * Runs `git <args>` in the working copy; its stdout, trimmed unless NUL-separated (`-z`). Throws
   * `UNAVAILABLE` on failure.
   */
  git(...args: string[]): Promise<string>;
  /** Whether commit `ancestor` is in the history of `of` (a commit is in its own history). */
  isAncestor(ancestor: string, of: string): Promise<boolean>;
  /**
   * The commit `branch` of `remote` points at, fetched so that it can be compared with local
   * commits; undefined when the remote has no such branch. Throws `UNAVAILABLE` when the remote
   * cannot be read.
   */
  remoteHead(remote: string, branch: string): Promise<string | undefined>;
}

export function openWorkingCopy(opts: WorkingCopyOptions): WorkingCopy {
  const exec = (args: string[]) =>
    opts.execFile(
      'git',
      ['-c', `user.name=${opts.author.name}`, '-c', `user.email=${opts.author.email}`, ...args],
      {
        cwd: opts.dir,
        maxBuffer: 4 * 1024 * 1024,
        ...(NETWORK.has(args[0] ?? '') ? { timeout: opts.networkTimeoutMs } : {}),
      },
    );
  const git = async (...args: string[]) => {
    try {
      const out = String((await exec(args)).stdout);
      // NUL-separated output (`-z`) is paths as they are: a first one may start with a space.
      return args.includes('-z') ? out : out.trim();
    } catch (cause) {
      throw new AapsError('UNAVAILABLE', `git ${args[0]} failed`, { cause });
    }
  };
  const hasCommit = async (id: string) => {
    try {
      await exec(['cat-file', '-e', `${id}^{commit}`]);
      return true;
    } catch {
      return false;
    }
  };
  return {
    git,
    async isAncestor(ancestor, of) {
      try {
        await exec(['merge-base', '--is-ancestor', ancestor, of]);
        return true;
      } catch (cause) {
        // Exit status 1 is the answer "no"; anything else is a failure (an unknown commit...).
        if ((cause as { code?: unknown }).code === 1) return false;
        throw new AapsError('UNAVAILABLE', 'git merge-base failed', { cause });
      }
    },
    async remoteHead(remote, branch) {
      const ref = `refs/heads/${branch}`;
      const listed = await git('ls-remote', remote, ref);
      const line = listed.split('\n').find((l) => l.endsWith(`\t${ref}`));
      if (line === undefined) return undefined;
      const head = line.slice(0, line.indexOf('\t'));
      if (!(await hasCommit(head))) await git('fetch', '--quiet', remote, ref);
      if (!(await hasCommit(head))) {
        throw new AapsError('UNAVAILABLE', `${shownRemote(remote)} ${branch} moved while it was being read`);
      }
      return head;
    },
  };
}

/**
 * Runs the tasks given to it one at a time, in the order given, whether earlier ones succeed or
 * fail.
 */
export function serialQueue(): <T>(task: () => Promise<T>) => Promise<T> {
  let tail: Promise<unknown> = Promise.resolve();
  return <T>(task: () => Promise<T>): Promise<T> => {
    const result = tail.then(task);
    tail = result.catch(() => undefined);
    return result;
  };
}
