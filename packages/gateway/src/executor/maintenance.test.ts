/** Maintenance's checks on an execution order, with a real threshold signature and a real git repository. */
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  type ApprovalProposal,
  buildApprovalProposal,
  computeRiskScore,
  proposalSigningBytes,
} from '@aaps/agents';
import {
  AapsError,
  aggregate,
  bytesToHex,
  commit,
  getCiphersuite,
  signShare,
  trustedDealer,
  VerificationError,
} from '@aaps/mpc-core';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createDryRunExecutor } from './dry-run.js';
import { createGitopsExecutor } from './gitops.js';
import { checkExecutionOrder, executeOrder } from './maintenance.js';
import type { ExecutionOrderPayload } from './types.js';

const suite = getCiphersuite('FROST-ED25519-SHA512-v1');
const dealt = trustedDealer(suite, { min: 2, max: 3 });
const trusted = { ciphersuite: suite.id, groupPublicKey: dealt.publicPackage.groupPublicKey };

/** A 2-of-3 group signature over the proposal's signing bytes, from two dealt shares. */
function groupSign(proposal: ApprovalProposal): Uint8Array {
  const signers = dealt.keyPackages.slice(0, 2);
  const nonces = signers.map((kp) => commit(suite, kp));
  const pkg = { commitments: nonces.map((n) => n.commitment), message: proposalSigningBytes(proposal) };
  const shares = signers.map((kp, i) => signShare(suite, kp, nonces[i]!, pkg, dealt.publicPackage));
  return aggregate(suite, pkg, shares, dealt.publicPackage);
}

function proposalFor(incidentId: string): ApprovalProposal {
  const factors = { blast_radius: 1, urgency: 'P2' as const, environment: 'staging' as const };
  return buildApprovalProposal({
    incident_id: incidentId,
    action: 'resource_quota_adjust',
    target: 'resourcequota://shop/compute',
    parameters: {
      changes: [{ resource: 'limits.cpu', current_hard: '4', new_hard: '5', used: '3', requested: '2' }],
    },
    evidence_refs: ['event://shop/evt-1'],
    risk: { score: computeRiskScore('resource_quota_adjust', factors), method: 'aaps.risk.v1', factors },
  });
}

function orderFor(proposal: ApprovalProposal, incidentId = proposal.incident_id): ExecutionOrderPayload {
  return {
    incident_id: incidentId,
    proposal,
    approval: {
      ciphersuite: suite.id,
      group_public_key: bytesToHex(trusted.groupPublicKey),
      signature: bytesToHex(groupSign(proposal)),
      signers: ['p1', 'p2'],
    },
    executor: 'gitops',
  };
}

const checkOf = (f: () => unknown): string => {
  try {
    f();
    return 'ok';
  } catch (e) {
    if (e instanceof VerificationError) return `${e.code}:${e.check}`;
    throw e;
  }
};

describe('checkExecutionOrder', () => {
  it('accepts a signed order for its own incident', () => {
    expect(checkOf(() => checkExecutionOrder(orderFor(proposalFor('inc-1')), trusted))).toBe('ok');
  });

  it('refuses a validly signed order relabelled with another incident (execution.binding)', () => {
    const order = orderFor(proposalFor('inc-1'), 'inc-2');
    expect(checkOf(() => checkExecutionOrder(order, trusted))).toBe('VERIFICATION_FAILED:execution.binding');
  });

  it('still refuses a bad signature over a proposal for the same incident (execution.order)', () => {
    const order = orderFor(proposalFor('inc-1'));
    const forged = { ...order, incident_id: 'inc-1-other', proposal: proposalFor('inc-1-other') };
    expect(checkOf(() => checkExecutionOrder(forged, trusted))).toBe('INVALID_SIGNATURE:execution.order');
  });
});

describe('executeOrder', () => {
  let repo: string;
  const git = (...args: string[]) => execFileSync('git', args, { cwd: repo, encoding: 'utf8' }).trim();

  beforeEach(() => {
    repo = mkdtempSync(join(tmpdir(), 'aaps-maintenance-'));
    git('init', '--quiet', '--initial-branch=main');
    git('config', 'user.email', 'test@example.invalid');
    git('config', 'user.name', 'test');
    mkdirSync(join(repo, 'shop', 'resourcequota'), { recursive: true });
    const quota = {
      apiVersion: 'v1',
      kind: 'ResourceQuota',
      metadata: { name: 'compute', namespace: 'shop' },
      spec: { hard: { 'limits.cpu': '4' } },
    };
    writeFileSync(join(repo, 'shop', 'resourcequota', 'compute.json'), `${JSON.stringify(quota, null, 2)}\n`);
    git('add', '.');
    git('commit', '--quiet', '-m', 'initial');
  });
  afterEach(() => rmSync(repo, { recursive: true, force: true }));

  it('commits nothing under another incident’s name', async () => {
    const executor = createGitopsExecutor({ repoDir: repo, now: () => new Date() });
    const head = git('rev-parse', 'HEAD');
    const relabelled = orderFor(proposalFor('inc-1'), 'inc-2');
    await expect(executeOrder(relabelled, executor, trusted)).rejects.toSatisfy(
      (e) => e instanceof VerificationError && e.check === 'execution.binding',
    );
    expect(git('rev-parse', 'HEAD')).toBe(head);
    expect(git('status', '--porcelain')).toBe('');
    // The same proposal under its own incident goes through.
    const { record } = await executeOrder(orderFor(proposalFor('inc-1')), executor, trusted);
    expect(record.status).toBe('succeeded');
    expect(git('log', '-1', '--format=%B')).toContain('Incident: inc-1\n');
  });

  it('a rollback that throws is recorded with its code and message', async () => {
    const dry = createDryRunExecutor({ now: () => new Date() });
    const failing = (thrown: unknown) => ({
      ...dry,
      apply: async () => {
        throw new AapsError('UNAVAILABLE', 'git push failed');
      },
      rollback: async () => {
        throw thrown;
      },
    });
    const order = orderFor(proposalFor('inc-1'));
    const aaps = await executeOrder(
      order,
      failing(new AapsError('UNAVAILABLE', 'git ls-remote failed')),
      trusted,
    );
    expect(aaps.record).toMatchObject({
      status: 'failed',
      error: 'UNAVAILABLE: git push failed',
      rollback: { done: false, detail: 'rollback failed: UNAVAILABLE: git ls-remote failed' },
    });
    // Anything else says no more than that it failed.
    const other = await executeOrder(order, failing(new Error('token=s3cret')), trusted);
    expect(other.record.rollback).toEqual({ done: false, detail: 'rollback failed' });
  });

  it('the dry-run executor is behind the same check', async () => {
    const executor = createDryRunExecutor({ now: () => new Date() });
    await expect(executeOrder(orderFor(proposalFor('inc-1'), 'inc-2'), executor, trusted)).rejects.toSatisfy(
      (e) => e instanceof VerificationError && e.check === 'execution.binding',
    );
  });
});
