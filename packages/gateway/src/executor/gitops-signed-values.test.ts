/**
 * The GitOps executor writes an edit only over the value the parties signed it against: a quota's
 * `current_hard`, an image rollback's `from_image`. Real temporary git repository; orders are
 * handed to the executor directly (maintenance's signature check is tested elsewhere).
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildApprovalProposal, computeRiskScore } from '@aaps/agents';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createGitopsExecutor } from './gitops.js';
import { planChange } from './plan.js';
import type { ExecutionOrderPayload } from './types.js';

let repo: string;
const git = (...args: string[]) => execFileSync('git', args, { cwd: repo, encoding: 'utf8' }).trim();
const QUOTA = join('shop', 'resourcequota', 'compute.json');
const DEPLOYMENT = join('shop', 'deployment', 'web.json');
const GOOD = `registry.example/shop/web@sha256:${'ab'.repeat(32)}`;
const FAILING = 'registry.example/shop/web:1.5.0';

function commitManifests(hard: Record<string, string>, image: string) {
  writeFileSync(
    join(repo, QUOTA),
    `${JSON.stringify({ apiVersion: 'v1', kind: 'ResourceQuota', metadata: { name: 'compute', namespace: 'shop' }, spec: { hard } }, null, 2)}\n`,
  );
  writeFileSync(
    join(repo, DEPLOYMENT),
    `${JSON.stringify({ apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'web', namespace: 'shop' }, spec: { template: { spec: { containers: [{ name: 'web', image }] } } } }, null, 2)}\n`,
  );
  git('add', '.');
  git('commit', '--quiet', '-m', 'manifests');
}

beforeEach(() => {
  repo = mkdtempSync(join(tmpdir(), 'aaps-gitops-signed-'));
  git('init', '--quiet', '--initial-branch=main');
  git('config', 'user.email', 'test@example.invalid');
  git('config', 'user.name', 'test');
  mkdirSync(join(repo, 'shop', 'resourcequota'), { recursive: true });
  mkdirSync(join(repo, 'shop', 'deployment'), { recursive: true });
});
afterEach(() => rmSync(repo, { recursive: true, force: true }));

function order(action: string, target: string, parameters: Record<string, unknown>): ExecutionOrderPayload {
  const factors = { blast_radius: 1, urgency: 'P2' as const, environment: 'staging' as const };
  const proposal = buildApprovalProposal({
    incident_id: 'inc-signed-1',
    action: action as 'image_rollback',
    target,
    parameters: parameters as never,
    evidence_refs: ['event://shop/evt-1'],
    risk: { score: computeRiskScore(action as 'image_rollback', factors), method: 'aaps.risk.v1', factors },
  });
  return {
    incident_id: 'inc-signed-1',
    proposal,
    approval: {
      ciphersuite: 'FROST-ED25519-SHA512-v1',
      group_public_key: '',
      signature: '',
      signers: ['p1'],
    },
    executor: 'gitops',
  };
}

const quotaOrder = (current: string) =>
  order('resource_quota_adjust', 'resourcequota://shop/compute', {
    changes: [{ resource: 'limits.cpu', current_hard: current, new_hard: '5', used: '3', requested: '2' }],
  });
const rollbackOrder = (from?: string) =>
  order('image_rollback', 'deployment://shop/web', {
    basis: 'deployment_history',
    container: 'web',
    to_image: GOOD,
    ...(from === undefined ? {} : { from_image: from }),
  });
const executor = () => createGitopsExecutor({ repoDir: repo, now: () => new Date() });
const hard = () => JSON.parse(readFileSync(join(repo, QUOTA), 'utf8')).spec.hard as Record<string, string>;
const image = () =>
  JSON.parse(readFileSync(join(repo, DEPLOYMENT), 'utf8')).spec.template.spec.containers[0].image as string;

describe('gitops: quota adjustments against current_hard', () => {
  it('the plan carries what was signed as the current value', () => {
    expect(planChange(quotaOrder('4').proposal, '2026-11-25T15:00:00Z').resources[0]?.set).toEqual([
      { path: ['spec', 'hard', 'limits.cpu'], value: '5', was: { value: '4', as: 'quantity' } },
    ]);
  });

  it('writes over the same quantity however it is spelled (4000m is 4)', async () => {
    commitManifests({ 'limits.cpu': '4000m', pods: '20' }, FAILING);
    await executor().apply(quotaOrder('4'));
    expect(hard()).toEqual({ 'limits.cpu': '5', pods: '20' });
    expect(git('status', '--porcelain')).toBe('');
  });

  it.each([
    ['another value', { 'limits.cpu': '8', pods: '20' }, 'is 8, not 4 as the parties signed'],
    ['no such limit', { pods: '20' }, 'is absent, not 4 as the parties signed'],
  ])('refuses a manifest holding %s, writing nothing', async (_what, before, words) => {
    commitManifests(before, FAILING);
    const head = git('rev-parse', 'HEAD');
    await expect(executor().apply(quotaOrder('4'))).rejects.toMatchObject({
      code: 'CONFLICT',
      message: `manifest ${QUOTA}: spec.hard.limits.cpu ${words}: refusing to set it to 5 over a change they were not shown`,
    });
    expect(hard()).toEqual(before);
    expect(git('rev-parse', 'HEAD')).toBe(head);
    expect(git('status', '--porcelain')).toBe('');
  });
});

describe('gitops: a manifest that gives a key twice', () => {
  it('is refused naming the manifest and the key, writing nothing: the edit would drop the value it was not shown', async () => {
    commitManifests({ pods: '20' }, FAILING);
    // JSON.parse keeps the last limits.cpu (4, as signed); kubectl's strict decoding, or a person, reads 8 too.
    const text = readFileSync(join(repo, QUOTA), 'utf8').replace(
      '"pods": "20"',
      '"limits.cpu": "8", "limits.cpu": "4", "pods": "20"',
    );
    writeFileSync(join(repo, QUOTA), text);
    git('commit', '--quiet', '-am', 'limits.cpu twice');
    const head = git('rev-parse', 'HEAD');
    await expect(executor().apply(quotaOrder('4'))).rejects.toMatchObject({
      code: 'DECODE_FAILED',
      message: `manifest ${QUOTA}: spec.hard.limits.cpu is given twice in one object (JSON parsers differ on which one counts): refusing to edit it`,
    });
    expect(readFileSync(join(repo, QUOTA), 'utf8')).toBe(text);
    expect(git('rev-parse', 'HEAD')).toBe(head);
    expect(git('status', '--porcelain')).toBe('');
  });
});

describe('gitops: image rollbacks against from_image', () => {
  it.each([
    ['the failing image itself', FAILING],
    [
      'a digest of its repository (a tag may be that digest)',
      `registry.example/shop/web@sha256:${'9e'.repeat(32)}`,
    ],
  ])('sets the known-good image over %s', async (_what, current) => {
    commitManifests({ pods: '20' }, current);
    await executor().apply(rollbackOrder(FAILING));
    expect(image()).toBe(GOOD);
  });

  it('refuses a container now running another image (a newer deploy), writing nothing', async () => {
    commitManifests({ pods: '20' }, 'registry.example/shop/web:1.6.0');
    const head = git('rev-parse', 'HEAD');
    await expect(executor().apply(rollbackOrder(FAILING))).rejects.toMatchObject({
      code: 'CONFLICT',
      message: expect.stringContaining(
        `spec.template.spec.containers.[name=web].image is registry.example/shop/web:1.6.0, not ${FAILING} as the parties signed`,
      ),
    });
    expect(image()).toBe('registry.example/shop/web:1.6.0');
    expect(git('rev-parse', 'HEAD')).toBe(head);
  });

  it('without from_image, sets the known-good image whatever runs', async () => {
    commitManifests({ pods: '20' }, 'registry.example/shop/web:1.6.0');
    await executor().apply(rollbackOrder());
    expect(image()).toBe(GOOD);
  });
});
