/** Git repositories the GitOps tests build: a quota manifest, and a commit pushed from elsewhere. */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** The text of the `shop/compute` ResourceQuota manifest with `limits.cpu` set to `cpu`. */
export const quotaText = (cpu: string) =>
  `${JSON.stringify({ apiVersion: 'v1', kind: 'ResourceQuota', metadata: { name: 'compute', namespace: 'shop' }, spec: { hard: { 'limits.cpu': cpu, pods: '20' } } }, null, 2)}\n`;

/**
 * Someone else's commit on `bare`'s main: a clone of it gets `change(dir, git)`, everything in it
 * is committed ("someone else") and pushed, and the clone removed. Returns the pushed commit.
 */
export function pushedFromElsewhere(
  bare: string,
  change: (dir: string, git: (...args: string[]) => string) => void,
): string {
  const dir = mkdtempSync(join(tmpdir(), 'aaps-gitops-elsewhere-'));
  const git = (...args: string[]) => execFileSync('git', args, { cwd: dir, encoding: 'utf8' }).trim();
  try {
    git('clone', '--quiet', bare, '.');
    git('config', 'user.email', 'other@example.invalid');
    git('config', 'user.name', 'other');
    change(dir, git);
    git('add', '--all');
    git('commit', '--quiet', '-m', 'someone else');
    git('push', '--quiet', 'origin', 'main');
    return git('rev-parse', 'HEAD');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
