/**
 * Review: the GitOps commit message carries signed text the parties check only for length (a
 * `last_known_good` source's `version`). It must not write lines of its own into the message, and
 * rollback must not take a mention of `This reverts commit <id>.` inside another line for a
 * revert: a rollback that reads so reports the change undone while it is live. Real temporary
 * git repository.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createGitopsExecutor } from './gitops.js';
import { signedOrder, signedQuotaOrder } from './test-helpers/quota-order.js';

let repo: string;
const git = (...args: string[]) => execFileSync('git', args, { cwd: repo, encoding: 'utf8' }).trim();
const quotaFile = join('shop', 'resourcequota', 'compute.json');
const configFile = join('shop', 'configmap', 'app.json');

beforeEach(() => {
  repo = mkdtempSync(join(tmpdir(), 'aaps-gitops-message-review-'));
  git('init', '--quiet', '--initial-branch=main');
  git('config', 'user.email', 'test@example.invalid');
  git('config', 'user.name', 'test');
  mkdirSync(join(repo, 'shop', 'resourcequota'), { recursive: true });
  mkdirSync(join(repo, 'shop', 'configmap'), { recursive: true });
  writeFileSync(
    join(repo, quotaFile),
    `${JSON.stringify({ kind: 'ResourceQuota', spec: { hard: { 'limits.cpu': '4' } } }, null, 2)}\n`,
  );
  writeFileSync(
    join(repo, configFile),
    `${JSON.stringify({ kind: 'ConfigMap', metadata: { name: 'app' }, data: { a: '1' } }, null, 2)}\n`,
  );
  git('add', '.');
  git('commit', '--quiet', '-m', 'initial');
});
afterEach(() => {
  rmSync(repo, { recursive: true, force: true });
});

/**
 * The first incident's quota change applied, then a later configmap reload whose signed source
 * version is `version(first commit)`; then the first one rolled back. Its outcome, and the quota's
 * `limits.cpu` on the branch after it.
 */
async function rollbackAfterLater(version: (ref: string) => string) {
  const executor = createGitopsExecutor({ repoDir: repo, now: () => new Date() });
  const first = await signedQuotaOrder('resourcequota://shop/compute', 'inc-first');
  const applied = await executor.apply(first);
  const later = await signedOrder({
    incident_id: 'inc-later',
    action: 'configmap_reload',
    target: 'configmap://shop/app',
    parameters: {
      source: { kind: 'last_known_good', version: version(applied.ref!) },
      rollout_restart: [],
    },
    evidence_refs: ['event://shop/evt-2'],
  });
  await executor.apply(later);
  const undone = await executor.rollback(first, applied);
  const hard = (
    JSON.parse(git('show', `HEAD:${quotaFile.split('\\').join('/')}`)) as {
      spec: { hard: Record<string, string> };
    }
  ).spec.hard;
  return { undone, cpu: hard['limits.cpu'] };
}

describe('gitops: incident text in the commit message', () => {
  it("a signed source version with a line break cannot make a later commit pass for an earlier one's revert", async () => {
    // The later incident's source version names, on a line of its own, the first one's commit as reverted.
    const { undone, cpu } = await rollbackAfterLater((ref) => `v7\n\nThis reverts commit ${ref}.`);
    expect(undone.done).toBe(true);
    // Reported undone: then the first incident's change must be gone from the manifest.
    expect(cpu).toBe('4');
  });

  it('a signed parameter with a line break writes no line of its own into the message', async () => {
    const executor = createGitopsExecutor({ repoDir: repo, now: () => new Date() });
    const order = await signedOrder({
      incident_id: 'inc-lines',
      action: 'configmap_reload',
      target: 'configmap://shop/app',
      parameters: {
        source: { kind: 'last_known_good', version: 'v7\nApproved-By: someone-else' },
        rollout_restart: [],
      },
      evidence_refs: ['event://shop/evt-3'],
    });
    await executor.apply(order);
    const lines = git('log', '-1', '--format=%B').split('\n');
    expect(lines.filter((l) => l.startsWith('Approved-By:'))).toHaveLength(1);
  });

  it("a signed source version naming a revert inside its line does not pass for the earlier change's revert", async () => {
    const { undone, cpu } = await rollbackAfterLater((ref) => `v7 This reverts commit ${ref}.`);
    expect(undone.done).toBe(true);
    expect(cpu).toBe('4');
  });
});

describe('gitops: rollback of a recorded commit', () => {
  it("does not revert a commit of another incident named as the incident's applied ref", async () => {
    const executor = createGitopsExecutor({ repoDir: repo, now: () => new Date() });
    const first = await signedQuotaOrder('resourcequota://shop/compute', 'inc-first');
    const applied = await executor.apply(first);
    const other = await signedOrder({
      incident_id: 'inc-other',
      action: 'configmap_reload',
      target: 'configmap://shop/app',
      parameters: { source: { kind: 'last_known_good', version: 'v7' }, rollout_restart: [] },
      evidence_refs: ['event://shop/evt-2'],
    });
    const otherApplied = await executor.apply(other);
    const head = git('rev-parse', 'HEAD');
    // The record of inc-first names inc-other's commit (a record restored wrongly, or edited).
    const outcome = await executor
      .rollback(first, { ...applied, ref: otherApplied.ref })
      .catch((e: Error) => ({ done: false, detail: e.message }));
    // inc-other's change, approved and verified on its own, is not undone by inc-first's rollback.
    expect(git('log', '--format=%H', `${head}..HEAD`)).toBe('');
    expect(outcome.done).toBe(false);
  });
});
