/**
 * A configuration fix for an Argo CD sync that failed in the very Git repository the fix would
 * re-render from: monitoring reads the failed sync and the application's history, the problem
 * solver pins the re-render to the last revision Argo CD deployed successfully or asks a person.
 */
import { describe, expect, it } from 'vitest';
import { defaultPolicy } from '../policy/defaults.js';
import type { SourceOfTruth } from '../policy/parameters.js';
import { normaliseGitUrl, sameGitRepository } from './git-repo.js';
import { runMonitoringStep } from './monitoring.js';
import { runProblemSolverStep } from './problem-solver.js';
import { monitoringInput, SIGNALS } from './test-helpers/signals.js';

const REPO = 'https://git.example.net/platform/shop-deploy.git';
const FAILED = '9c41e07b2d5a8f36e1c0b4d7a29f5e8c3b6d1a07';
const GOOD = '0d5e8b2c7f41a396e5b0c8d2f7a41e63b9c05d18';
const OLDER = '5a1c9e0f3b7d2a6e8c4f1b0d9e7a3c5f2b8d6e41';
const TARGET = 'configmap://shop/app-config';
const PATH = 'shop/configmap/app-config.json';

function argoSignal(extra: Record<string, unknown> = {}, source = 'argocd') {
  return {
    ...SIGNALS.yamlSyntax,
    metadata: {
      ...SIGNALS.yamlSyntax.metadata,
      source,
      revision: FAILED,
      git_source: { repoURL: REPO, path: 'apps/checkout/overlays/prod', targetRevision: 'main' },
      ...extra,
    },
  };
}

const entry = (revision: string, repoURL = REPO) => ({
  revision,
  deployed_at: '2026-11-24T10:00:00Z',
  source: { repoURL, path: 'apps/checkout/overlays/prod' },
});

function solve(signal: ReturnType<typeof argoSignal>, source: SourceOfTruth) {
  return runProblemSolverStep({
    incident_id: 'inc-0001',
    policy: defaultPolicy('problem-solver'),
    signal: runMonitoringStep(monitoringInput(signal)),
    sources: { [TARGET]: source },
  });
}

describe('monitoring: the failed Argo CD sync', () => {
  it('names the repository, the failing revision and the newest one deployed from that repository', () => {
    const facts = runMonitoringStep(
      monitoringInput(
        argoSignal({
          sync_history: [
            entry(OLDER),
            entry(GOOD),
            entry('ee'.repeat(20), 'https://git.example.net/other.git'),
          ],
        }),
      ),
    ).triage.facts;
    expect(facts.argocd_sync).toEqual({
      repo: REPO,
      path: 'apps/checkout/overlays/prod',
      revision: FAILED,
      last_deployed: { revision: GOOD, deployed_at: '2026-11-24T10:00:00Z' },
    });
  });

  it('is absent for another source, and has no last deployment without a usable history', () => {
    expect(runMonitoringStep(monitoringInput(argoSignal({}, 'alertmanager'))).triage.facts.argocd_sync).toBe(
      undefined,
    );
    const chart = runMonitoringStep(monitoringInput(argoSignal({ sync_history: [{ revision: '1.4.2' }] })));
    expect(chart.triage.facts.argocd_sync).toEqual({
      repo: REPO,
      path: 'apps/checkout/overlays/prod',
      revision: FAILED,
    });
  });
});

describe('problem solver: a source of truth whose Argo CD sync failed', () => {
  const gitops: SourceOfTruth = { kind: 'gitops', repo: REPO, path: PATH };

  it('pins the re-render to the last revision Argo CD deployed successfully, citing it', () => {
    const { rca, fix } = solve(argoSignal({ sync_history: [entry(OLDER), entry(GOOD)] }), gitops);
    expect(fix.escalations).toEqual([]);
    expect(fix.proposals[0]).toMatchObject({
      action: 'configmap_reload',
      target: TARGET,
      parameters: { source: { kind: 'gitops', repo: REPO, path: PATH, revision: GOOD } },
      rationale: expect.stringContaining('the last revision Argo CD deployed successfully'),
    });
    expect(fix.proposals[0]?.evidence_refs).toContain(`git://${REPO}/${PATH}@${GOOD}`);
    expect(rca.evidence_refs).toContain(`git://${REPO}/apps/checkout/overlays/prod@${FAILED}`);
  });

  it.each([
    ['no history', {}],
    [
      'a history whose newest deployment is the failing revision',
      { sync_history: [entry(GOOD), entry(FAILED)] },
    ],
    [
      'a history from another repository only',
      { sync_history: [entry(GOOD, 'https://git.example.net/old.git')] },
    ],
  ])('with %s, escalates source_failing and proposes nothing', (_what, extra) => {
    const { rca, fix } = solve(argoSignal(extra), gitops);
    expect(fix.proposals).toEqual([]);
    expect(fix.escalations).toEqual([
      { kind: 'source_failing', detail: expect.stringContaining(`failed at ${FAILED}`) },
    ]);
    expect(rca.root_cause).toContain('Argo CD sync failed');
  });

  it('a source pinned to the failing revision is the failing source too', () => {
    const { fix } = solve(argoSignal({ sync_history: [entry(GOOD)] }), { ...gitops, revision: FAILED });
    expect(fix.proposals[0]?.parameters).toMatchObject({ source: { revision: GOOD } });
  });

  it('leaves alone a source pinned elsewhere, one in another repository, and a known-good version', () => {
    const pinned = { ...gitops, revision: OLDER };
    expect(solve(argoSignal(), pinned).fix.proposals[0]?.parameters).toMatchObject({ source: pinned });
    const other: SourceOfTruth = {
      kind: 'gitops',
      repo: 'https://git.example/platform/deploy.git',
      path: PATH,
    };
    expect(solve(argoSignal(), other).fix.proposals[0]?.parameters['source']).toEqual(other);
    const version: SourceOfTruth = { kind: 'last_known_good', version: '41' };
    expect(solve(argoSignal(), version).fix.proposals[0]?.parameters['source']).toEqual(version);
  });

  it('a signal from another source keeps the unpinned re-render', () => {
    const { fix } = solve(argoSignal({}, 'alertmanager'), gitops);
    expect(fix.proposals[0]?.parameters['source']).toEqual(gitops);
  });
});

describe('one Git repository, spelled several ways', () => {
  it.each([
    'https://git.example.net/platform/shop-deploy.git',
    'https://git.example.net/platform/shop-deploy',
    'https://Git.Example.net/platform/shop-deploy/',
    'ssh://git@git.example.net:22/platform/shop-deploy.git',
    'git@git.example.net:platform/shop-deploy.git',
  ])('%s', (url) => {
    expect(normaliseGitUrl(url)).toBe('git.example.net/platform/shop-deploy');
    expect(sameGitRepository(url, REPO)).toBe(true);
  });

  it('other repositories differ', () => {
    expect(sameGitRepository('https://git.example.net/platform/shop-deploy-2.git', REPO)).toBe(false);
    expect(sameGitRepository('https://git.example.org/platform/shop-deploy.git', REPO)).toBe(false);
    expect(sameGitRepository('', '')).toBe(false);
  });
});
