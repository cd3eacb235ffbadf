/**
 * The GitOps executor: applies the change to the manifests in a git working copy and commits it
 * (optionally pushing), with a message naming the incident, the proposal digest, the signers and
 * the evidence references. Manifests are JSON files at `<namespace>/<kind>/<name>.json` (kubectl
 * and Argo CD read JSON manifests as they read YAML). Runs `git` with `execFile`, never a shell.
 * A failed apply restores the files; rollback reverts the commit.
 */
import { execFile } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import { join, resolve, sep } from 'node:path';
import { promisify } from 'node:util';
import { AapsError, isAapsError, ValidationError } from '@aaps/mpc-core';
import { applyFieldOps, planChange, type ResourceChange, readField } from './plan.js';
import type { ExecutionOrderPayload, Executor, PostCheck, RollbackOutcome } from './types.js';

const run = promisify(execFile);

export interface GitopsOptions {
  /** The git working copy holding the manifests. */
  repoDir: string;
  /** Push to this remote after committing (default: no push). */
  remote?: string;
  branch?: string;
  author?: { name: string; email: string };
  now: () => Date;
}

export function manifestPath(change: Pick<ResourceChange, 'namespace' | 'kind' | 'name'>): string {
  return join(change.namespace === '' ? '_cluster' : change.namespace, change.kind, `${change.name}.json`);
}

export function commitMessage(order: ExecutionOrderPayload, summary: string): string {
  const p = order.proposal;
  return [
    `aaps: ${p.action} ${p.target} (incident ${order.incident_id})`,
    '',
    summary,
    '',
    `Incident: ${order.incident_id}`,
    `Proposal-Digest: ${p.proposal_digest}`,
    `Approved-By: ${order.approval.signers.join(', ')}`,
    `Approval-Signature: ${order.approval.ciphersuite}:${order.approval.signature}`,
    ...p.evidence_refs.map((r) => `Evidence: ${r}`),
    `Evidence-Bundle: /v1/incidents/${order.incident_id} (evidence_id once sealed)`,
  ].join('\n');
}

export function createGitopsExecutor(opts: GitopsOptions): Executor {
  const repo = resolve(opts.repoDir);
  const author = opts.author ?? { name: 'aaps-maintenance', email: 'maintenance@aaps.invalid' };
  const git = async (...args: string[]) => {
    try {
      const { stdout } = await run(
        'git',
        ['-c', `user.name=${author.name}`, '-c', `user.email=${author.email}`, ...args],
        { cwd: repo, maxBuffer: 4 * 1024 * 1024 },
      );
      return stdout.trim();
    } catch (cause) {
      throw new AapsError('UNAVAILABLE', `git ${args[0]} failed`, { cause });
    }
  };
  const fileOf = (change: ResourceChange) => {
    const rel = manifestPath(change);
    const abs = resolve(repo, rel);
    if (!abs.startsWith(repo + sep)) {
      throw new ValidationError('INVALID_ARGUMENT', 'target: resolves outside the repository', ['target']);
    }
    return { rel, abs };
  };

  return {
    name: 'gitops',
    async apply(order) {
      const plan = planChange(order.proposal, opts.now().toISOString());
      if (plan.resources.length === 0) {
        throw new ValidationError(
          'INVALID_ARGUMENT',
          `gitops cannot carry out ${plan.action} as a manifest edit (${plan.notes.join('; ')})`,
          ['proposal.action'],
        );
      }
      const touched: string[] = [];
      try {
        for (const change of plan.resources) {
          const { rel, abs } = fileOf(change);
          let manifest: unknown;
          try {
            manifest = JSON.parse(await readFile(abs, 'utf8'));
          } catch (cause) {
            throw new ValidationError('NOT_FOUND', `manifest ${rel} is missing or not JSON`, [rel], {
              cause,
            });
          }
          const patched = applyFieldOps(manifest, change.set);
          await writeFile(abs, `${JSON.stringify(patched, null, 2)}\n`);
          touched.push(rel);
          await git('add', '--', rel);
        }
        await git('commit', '--no-verify', '-m', commitMessage(order, plan.summary), '--', ...touched);
        const commit = await git('rev-parse', 'HEAD');
        if (opts.remote !== undefined) await git('push', opts.remote, `HEAD:${opts.branch ?? 'main'}`);
        const post_checks: PostCheck[] = [];
        for (const change of plan.resources) {
          const { rel, abs } = fileOf(change);
          const now = JSON.parse(await readFile(abs, 'utf8')) as unknown;
          const ok = change.set.every((op) => readField(now, op.path) === op.value);
          post_checks.push({
            name: `manifest.${rel}`,
            passed: ok,
            detail: ok ? 'fields set' : 'fields differ',
          });
        }
        return { change: { mode: 'gitops', commit, files: touched, ...plan }, post_checks, ref: commit };
      } catch (e) {
        if (touched.length > 0) await git('checkout', 'HEAD', '--', ...touched).catch(() => undefined);
        await git('reset', '--quiet', 'HEAD', '--', ...touched).catch(() => undefined);
        throw isAapsError(e) ? e : new AapsError('INTERNAL', 'gitops apply failed', { cause: e });
      }
    },
    async rollback(order, applied): Promise<RollbackOutcome> {
      if (applied?.ref === undefined) return { done: true, detail: 'nothing was committed' };
      await git('revert', '--no-edit', applied.ref);
      const commit = await git('rev-parse', 'HEAD');
      if (opts.remote !== undefined) await git('push', opts.remote, `HEAD:${opts.branch ?? 'main'}`);
      return { done: true, detail: `reverted ${applied.ref} for incident ${order.incident_id} in ${commit}` };
    },
  };
}
