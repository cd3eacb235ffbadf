/**
 * A gateway killed in the middle of a GitOps apply or rollback: the built executor's `apply` or
 * `rollback` runs in a child process that a git hook kills with SIGKILL, at one of these points:
 * - `prepare-commit-msg`: the change written and staged, nothing committed (an apply's manifest
 *   edit; a rollback's `git revert`, which runs the hook before its commit);
 * - `post-commit`: the commit (or the revert) made, not yet recorded nor pushed;
 * - `revert-head-written`: `git revert` has written `REVERT_HEAD` (a `reference-transaction` hook),
 *   which it does when the revert conflicts, before the executor could abandon it;
 * - `branch-update`: a command is about to move a branch (`reference-transaction`, prepared), its
 *   files and index already changed; the hook also fails the update, so the branch stays where it
 *   was, as when git itself is killed there (a `git reset` that dropped a commit from the files,
 *   not yet from the branch).
 * `git commit --no-verify` skips pre-commit and commit-msg, not these. The git process that ran
 * the hook is waited for, so the working copy is as git leaves it when it ends.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { pathToFileURL } from 'node:url';
import type { GitopsOptions } from '../gitops.js';
import type { ExecutionOrderPayload } from '../types.js';

const GITOPS_DIST = join(import.meta.dirname, '..', '..', '..', 'dist', 'executor', 'gitops.js');

export type KillPoint = 'prepare-commit-msg' | 'post-commit' | 'revert-head-written' | 'branch-update';

/** Where the executor runs: its working copy (inside the repository whose git directory is `gitDir`). */
export interface KilledExecutor {
  gitDir: string;
  repoDir: string;
  remote?: string;
}

/** The hook file and its script, which kills the process whose id is in `pidFile`. */
function hookAt(point: KillPoint, gitDir: string, pidFile: string, gitPidFile: string) {
  // A hook's parent is the git command that runs it: the helper waits for it to end.
  const kill = `kill -9 "$(cat ${JSON.stringify(pidFile)})"; echo "$PPID" > ${JSON.stringify(gitPidFile)}`;
  if (point === 'revert-head-written') {
    // `<old> <new> <ref>` lines on stdin; only REVERT_HEAD set to a commit, once it is written.
    return {
      file: join(gitDir, 'hooks', 'reference-transaction'),
      script: `#!/bin/sh\nif [ "$1" = committed ] && grep -Eq '^[0-9a-f]+ 0*[1-9a-f][0-9a-f]* REVERT_HEAD$'; then ${kill}; fi\nexit 0\n`,
    };
  }
  if (point === 'branch-update') {
    return {
      file: join(gitDir, 'hooks', 'reference-transaction'),
      script: `#!/bin/sh\nif [ "$1" = prepared ] && grep -q ' refs/heads/'; then ${kill}; exit 1; fi\nexit 0\n`,
    };
  }
  return { file: join(gitDir, 'hooks', point), script: `#!/bin/sh\n${kill}\nexit 1\n` };
}

/** Waits (up to ten seconds) until process `pid` is gone or a zombie. */
async function waitForExit(pid: number): Promise<void> {
  for (let i = 0; i < 200; i++) {
    let state: string | undefined;
    try {
      state = /\) (\S)/.exec(readFileSync(`/proc/${pid}/stat`, 'utf8'))?.[1];
    } catch {
      return;
    }
    if (state === 'Z') return;
    await sleep(50);
  }
}

/**
 * Runs `call` (`apply(order)`, or `rollback(order, undefined)` as a restarted gateway asks it) of
 * an executor on `where` and kills it at `point`. Resolves with what the child printed and the
 * signal it died of.
 */
export async function executorKilledAt(
  point: KillPoint,
  where: KilledExecutor,
  call: 'apply' | 'rollback',
  order: ExecutionOrderPayload,
): Promise<{ out: string; signal: NodeJS.Signals | null }> {
  const work = mkdtempSync(join(tmpdir(), 'aaps-killed-executor-'));
  const pidFile = join(work, 'pid');
  const gitPidFile = join(work, 'git-pid');
  const hook = hookAt(point, where.gitDir, pidFile, gitPidFile);
  try {
    const orderFile = join(work, 'order.json');
    const script = join(work, 'run.mjs');
    const opts: Omit<GitopsOptions, 'now'> = {
      repoDir: where.repoDir,
      ...(where.remote === undefined ? {} : { remote: where.remote }),
    };
    writeFileSync(orderFile, JSON.stringify(order));
    writeFileSync(
      script,
      [
        `import { readFileSync, writeFileSync } from 'node:fs';`,
        `import { createGitopsExecutor } from ${JSON.stringify(pathToFileURL(GITOPS_DIST).href)};`,
        `writeFileSync(${JSON.stringify(pidFile)}, String(process.pid));`,
        `const order = JSON.parse(readFileSync(${JSON.stringify(orderFile)}, 'utf8'));`,
        `const executor = createGitopsExecutor({ ...${JSON.stringify(opts)}, now: () => new Date() });`,
        call === 'apply'
          ? 'await executor.apply(order);'
          : 'console.log(JSON.stringify(await executor.rollback(order, undefined)));',
        `console.log('${call === 'apply' ? 'applied' : 'rolled back'}');`,
      ].join('\n'),
    );
    writeFileSync(hook.file, hook.script, { mode: 0o755 });
    const child = spawn(process.execPath, [script], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (b: Buffer) => {
      out += b.toString();
    });
    const signal = await new Promise<NodeJS.Signals | null>((resolve) =>
      child.on('exit', (_c, s) => resolve(s)),
    );
    if (existsSync(gitPidFile)) await waitForExit(Number(readFileSync(gitPidFile, 'utf8').trim()));
    return { out, signal };
  } finally {
    rmSync(hook.file, { force: true });
    rmSync(work, { recursive: true, force: true });
  }
}

/** `apply(order)` of an executor on `repoDir` (in the repository of `gitDir`), killed at `hook`. */
export function applyKilledAt(
  hook: 'prepare-commit-msg' | 'post-commit',
  gitDir: string,
  repoDir: string,
  order: ExecutionOrderPayload,
): Promise<{ out: string; signal: NodeJS.Signals | null }> {
  return executorKilledAt(hook, { gitDir, repoDir }, 'apply', order);
}
