/**
 * A gateway killed in the middle of a GitOps apply: the built executor's `apply` runs in a child
 * process that a git hook kills with SIGKILL (`prepare-commit-msg`: the manifest edit written and
 * staged, nothing committed; `post-commit`: the commit made, not yet recorded). `git commit
 * --no-verify` skips pre-commit and commit-msg, not these.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { ExecutionOrderPayload } from '../types.js';

const GITOPS_DIST = join(import.meta.dirname, '..', '..', '..', 'dist', 'executor', 'gitops.js');

/**
 * Runs `apply(order)` of an executor on `repoDir` (inside the repository whose git directory is
 * `gitDir`) and kills it at `hook`. Resolves with what the child printed and the signal it died of.
 */
export async function applyKilledAt(
  hook: 'prepare-commit-msg' | 'post-commit',
  gitDir: string,
  repoDir: string,
  order: ExecutionOrderPayload,
): Promise<{ out: string; signal: NodeJS.Signals | null }> {
  const work = mkdtempSync(join(tmpdir(), 'aaps-killed-apply-'));
  const hookFile = join(gitDir, 'hooks', hook);
  try {
    const pidFile = join(work, 'pid');
    const orderFile = join(work, 'order.json');
    const script = join(work, 'apply.mjs');
    writeFileSync(orderFile, JSON.stringify(order));
    writeFileSync(
      script,
      [
        `import { readFileSync, writeFileSync } from 'node:fs';`,
        `import { createGitopsExecutor } from ${JSON.stringify(pathToFileURL(GITOPS_DIST).href)};`,
        `writeFileSync(${JSON.stringify(pidFile)}, String(process.pid));`,
        `const order = JSON.parse(readFileSync(${JSON.stringify(orderFile)}, 'utf8'));`,
        `await createGitopsExecutor({ repoDir: ${JSON.stringify(repoDir)}, now: () => new Date() }).apply(order);`,
        `console.log('applied');`,
      ].join('\n'),
    );
    writeFileSync(hookFile, `#!/bin/sh\nkill -9 "$(cat ${JSON.stringify(pidFile)})"\nexit 1\n`, {
      mode: 0o755,
    });
    const child = spawn(process.execPath, [script], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (b: Buffer) => {
      out += b.toString();
    });
    const signal = await new Promise<NodeJS.Signals | null>((resolve) =>
      child.on('exit', (_c, s) => resolve(s)),
    );
    return { out, signal };
  } finally {
    rmSync(hookFile, { force: true });
    rmSync(work, { recursive: true, force: true });
  }
}
