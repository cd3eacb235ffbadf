/** The GitOps executor against a real temporary git repository, behind maintenance's signature check. */
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { bytesToHex, generateIdentityKey, hexToBytes, VerificationError } from '@aaps/mpc-core';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { LocalCoordinator } from '../coordinator-local.js';
import { createGitopsExecutor } from './gitops.js';
import { executeOrder } from './maintenance.js';
import { signedQuotaOrder, trustedGroup } from './test-helpers/quota-order.js';

let repo: string;
const git = (...args: string[]) => execFileSync('git', args, { cwd: repo, encoding: 'utf8' }).trim();
const quotaFile = () => join(repo, 'shop', 'resourcequota', 'compute.json');

beforeEach(() => {
  repo = mkdtempSync(join(tmpdir(), 'aaps-gitops-'));
  git('init', '--quiet', '--initial-branch=main');
  git('config', 'user.email', 'test@example.invalid');
  git('config', 'user.name', 'test');
  mkdirSync(join(repo, 'shop', 'resourcequota'), { recursive: true });
  writeFileSync(
    quotaFile(),
    `${JSON.stringify({ apiVersion: 'v1', kind: 'ResourceQuota', metadata: { name: 'compute', namespace: 'shop' }, spec: { hard: { 'limits.cpu': '4', pods: '20' } } }, null, 2)}\n`,
  );
  git('add', '.');
  git('commit', '--quiet', '-m', 'initial');
});
afterEach(() => rmSync(repo, { recursive: true, force: true }));

const signedOrder = (target?: string) => signedQuotaOrder(target);
const trusted = trustedGroup;

describe('gitops executor', () => {
  it('commits the patched manifest with a message naming the incident and its evidence; rollback reverts', async () => {
    const order = await signedOrder();
    const executor = createGitopsExecutor({ repoDir: repo, now: () => new Date() });
    const { record, applied } = await executeOrder(order, executor, await trusted());
    expect(record).toMatchObject({
      status: 'succeeded',
      executor: 'gitops',
      post_checks: [{ passed: true }],
    });
    expect(JSON.parse(readFileSync(quotaFile(), 'utf8')).spec.hard).toEqual({
      'limits.cpu': '5',
      pods: '20',
    });
    expect(git('rev-parse', 'HEAD')).toBe(record.ref);
    const message = git('log', '-1', '--format=%B');
    expect(message).toContain('Incident: inc-gitops-1');
    expect(message).toContain(`Proposal-Digest: ${order.proposal.proposal_digest}`);
    expect(message).toContain('Evidence: event://shop/evt-1');
    expect(git('status', '--porcelain')).toBe('');

    const undone = await executor.rollback(order, applied);
    expect(undone.done).toBe(true);
    expect(JSON.parse(readFileSync(quotaFile(), 'utf8')).spec.hard['limits.cpu']).toBe('4');
    expect(git('log', '--format=%s')).toMatch(/^Revert/);
  });

  it('refuses an order whose threshold signature does not verify, and touches nothing', async () => {
    const order = await signedOrder();
    const forged = { ...order, proposal: { ...order.proposal, parameters: { changes: [] } } };
    const head = git('rev-parse', 'HEAD');
    const executor = createGitopsExecutor({ repoDir: repo, now: () => new Date() });
    await expect(executeOrder(forged, executor, await trusted())).rejects.toSatisfy(
      (e) => e instanceof VerificationError && e.check === 'execution.order',
    );
    const other = new LocalCoordinator({
      gateway: { id: 'gateway', identity_key: bytesToHex(generateIdentityKey().publicKey) },
    });
    const otherKey = {
      ciphersuite: 'FROST-ED25519-SHA512-v1' as const,
      groupPublicKey: hexToBytes((await other.keys()).group_public_key),
    };
    await expect(executeOrder(order, executor, otherKey)).rejects.toBeInstanceOf(VerificationError);
    expect(git('rev-parse', 'HEAD')).toBe(head);
  });

  it('a failed apply rolls back and says so, leaving the working copy clean', async () => {
    const order = await signedOrder('resourcequota://shop/missing');
    const executor = createGitopsExecutor({ repoDir: repo, now: () => new Date() });
    const head = git('rev-parse', 'HEAD');
    const { record } = await executeOrder(order, executor, await trusted());
    expect(record).toMatchObject({
      status: 'rolled_back',
      rollback: { done: true },
      error: expect.stringContaining('NOT_FOUND'),
    });
    expect(git('rev-parse', 'HEAD')).toBe(head);
    expect(git('status', '--porcelain')).toBe('');
  });
});
