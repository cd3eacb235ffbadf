/**
 * The GitOps executor carrying out a re-render pinned to a Git revision (`source.revision`): the
 * ConfigMap's manifest as committed at that revision replaces the head's, which is the one that
 * failed (here it does not even parse). Real temporary git repository; the order is handed to the
 * executor directly (maintenance's signature check is tested elsewhere).
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildApprovalProposal, computeRiskScore } from '@aaps/agents';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createDryRunExecutor } from './dry-run.js';
import { createGitopsExecutor } from './gitops.js';
import type { ExecutionOrderPayload } from './types.js';

let repo: string;
let good: string;
const git = (...args: string[]) => execFileSync('git', args, { cwd: repo, encoding: 'utf8' }).trim();
const CONFIG = join('shop', 'configmap', 'checkout-config.json');
const DEPLOYMENT = join('shop', 'deployment', 'checkout.json');
const read = (rel: string) => readFileSync(join(repo, rel), 'utf8');
const GOOD_CONFIG = {
  apiVersion: 'v1',
  kind: 'ConfigMap',
  metadata: { name: 'checkout-config', namespace: 'shop' },
  data: { 'app.yaml': 'payments:\n  provider: stripe\n' },
};
const BROKEN =
  '{"apiVersion": "v1", "kind": "ConfigMap", "data": {"app.yaml": "payments: provider: stripe"\n';

beforeEach(() => {
  repo = mkdtempSync(join(tmpdir(), 'aaps-gitops-pin-'));
  git('init', '--quiet', '--initial-branch=main');
  git('config', 'user.email', 'test@example.invalid');
  git('config', 'user.name', 'test');
  mkdirSync(join(repo, 'shop', 'configmap'), { recursive: true });
  mkdirSync(join(repo, 'shop', 'deployment'), { recursive: true });
  writeFileSync(join(repo, CONFIG), `${JSON.stringify(GOOD_CONFIG, null, 2)}\n`);
  const deployment = {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: 'checkout', namespace: 'shop' },
    spec: { template: { spec: { containers: [{ name: 'checkout', image: 'shop/checkout:1' }] } } },
  };
  writeFileSync(join(repo, DEPLOYMENT), `${JSON.stringify(deployment, null, 2)}\n`);
  git('add', '.');
  git('commit', '--quiet', '-m', 'checkout: config that deployed');
  good = git('rev-parse', 'HEAD');
  // The revision whose sync failed: its ConfigMap does not parse.
  writeFileSync(join(repo, CONFIG), BROKEN);
  git('commit', '--quiet', '-am', 'checkout: broken config');
});
afterEach(() => rmSync(repo, { recursive: true, force: true }));

function reloadOrder(source: Record<string, string>, rolloutRestart: string[] = []): ExecutionOrderPayload {
  const factors = {
    blast_radius: 1 + rolloutRestart.length,
    urgency: 'P2' as const,
    environment: 'staging' as const,
  };
  const proposal = buildApprovalProposal({
    incident_id: 'inc-pinned-1',
    action: 'configmap_reload',
    target: 'configmap://shop/checkout-config',
    parameters: {
      source: { kind: 'gitops', repo: 'https://git.example/platform/deploy.git', ...source },
      rollout_restart: rolloutRestart,
    },
    evidence_refs: [`git://https://git.example/platform/deploy.git/${CONFIG}@${source['revision'] ?? ''}`],
    risk: { score: computeRiskScore('configmap_reload', factors), method: 'aaps.risk.v1', factors },
  });
  return {
    incident_id: 'inc-pinned-1',
    proposal,
    approval: {
      ciphersuite: 'FROST-ED25519-SHA512-v1',
      group_public_key: '',
      signature: '',
      signers: ['p1', 'p2', 'p3'],
    },
    executor: 'gitops',
  };
}

const executor = () => createGitopsExecutor({ repoDir: repo, now: () => new Date('2026-11-25T15:00:00Z') });

describe('gitops re-render pinned to a revision', () => {
  it('replaces the failing manifest with its text at that revision, restarts the readers; rollback puts the head back', async () => {
    const ex = executor();
    const order = reloadOrder({ path: CONFIG, revision: good }, ['deployment://shop/checkout']);
    const failing = git('rev-parse', 'HEAD');
    const applied = await ex.apply(order);
    expect(JSON.parse(read(CONFIG))).toEqual(GOOD_CONFIG);
    expect(JSON.parse(read(DEPLOYMENT)).spec.template.metadata.annotations).toEqual({
      'aaps.dev/restarted-at': '2026-11-25T15:00:00.000Z',
    });
    expect(applied.post_checks).toEqual([
      { name: `manifest.${CONFIG}`, passed: true, detail: `as at revision ${good}` },
      { name: `manifest.${DEPLOYMENT}`, passed: true, detail: 'fields set' },
    ]);
    expect(applied.change).toMatchObject({
      mode: 'gitops',
      files: [CONFIG, DEPLOYMENT],
      summary: expect.stringContaining(`at ${good}`),
      resources: [
        { resource: 'configmap://shop/checkout-config', restore: { revision: good, path: CONFIG } },
        {},
      ],
    });
    expect(git('rev-parse', 'HEAD^')).toBe(failing);
    expect(git('log', '-1', '--format=%B')).toContain('Incident: inc-pinned-1');
    expect(git('status', '--porcelain')).toBe('');

    const undone = await ex.rollback(order, applied);
    expect(undone.done).toBe(true);
    expect(read(CONFIG)).toBe(BROKEN);
  });

  it('the dry-run executor records the pinned revision', async () => {
    const applied = await createDryRunExecutor({ now: () => new Date() }).apply(
      reloadOrder({ path: CONFIG, revision: good }),
    );
    expect(applied.change).toMatchObject({
      resources: [
        { resource: 'configmap://shop/checkout-config', set: [], restore: { revision: good, path: CONFIG } },
      ],
      notes: [],
    });
  });

  it.each([
    [
      'a revision that is no commit id',
      () => ({ path: CONFIG, revision: 'main' }),
      'INVALID_ARGUMENT',
      'not a commit id',
    ],
    [
      'a commit id cut short (a ref may bear that name, or another commit later)',
      () => ({ path: CONFIG, revision: good.slice(0, 12) }),
      'INVALID_ARGUMENT',
      'not a commit id',
    ],
    [
      'the full id of an object that is no commit (a tree)',
      () => ({ path: CONFIG, revision: git('rev-parse', `${good}^{tree}`) }),
      'NOT_FOUND',
      'or is no commit',
    ],
    [
      'a revision the working copy lacks',
      () => ({ path: CONFIG, revision: 'ab'.repeat(20) }),
      'NOT_FOUND',
      'not in the working copy',
    ],
    [
      'a source path other than the manifest',
      () => ({ path: 'apps/checkout/overlays/prod', revision: good }),
      'INVALID_ARGUMENT',
      'only from its own file',
    ],
  ])('refuses %s, leaving the working copy as it was', async (_what, source, code, words) => {
    const head = git('rev-parse', 'HEAD');
    const err = await executor()
      .apply(reloadOrder(source()))
      .then(
        () => undefined,
        (e: unknown) => e as { code?: string; message?: string },
      );
    expect(err?.code).toBe(code);
    expect(err?.message).toContain(words);
    expect(git('rev-parse', 'HEAD')).toBe(head);
    expect(read(CONFIG)).toBe(BROKEN);
    expect(git('status', '--porcelain')).toBe('');
  });

  it('refuses a revision at which the manifest did not exist yet', async () => {
    git('rm', '--quiet', '-r', 'shop/configmap');
    git('commit', '--quiet', '-m', 'drop');
    const none = git('rev-parse', 'HEAD');
    git('revert', '--no-edit', 'HEAD');
    const err = await executor()
      .apply(reloadOrder({ path: CONFIG, revision: none }))
      .catch((e: { code?: string; message?: string }) => e);
    expect(err).toMatchObject({
      code: 'NOT_FOUND',
      message: expect.stringContaining(`missing at revision ${none}`),
    });
  });

  it('refuses a re-render that would change nothing', async () => {
    git('revert', '--no-edit', 'HEAD');
    const head = git('rev-parse', 'HEAD');
    const err = await executor()
      .apply(reloadOrder({ path: CONFIG, revision: good }))
      .catch((e: { code?: string; message?: string }) => e);
    expect(err).toMatchObject({ code: 'CONFLICT', message: expect.stringContaining('nothing to commit') });
    expect(git('rev-parse', 'HEAD')).toBe(head);
  });
});
