import { describe, expect, it } from 'vitest';
import { defaultPolicy } from '../policy/defaults.js';
import { runMonitoringStep } from './monitoring.js';
import { type DeploymentRecord, type ProblemSolverInput, runProblemSolverStep } from './problem-solver.js';
import { monitoringInput, SIGNALS } from './test-helpers/signals.js';

const policy = defaultPolicy('problem-solver');
const triage = (s: (typeof SIGNALS)[keyof typeof SIGNALS]) => runMonitoringStep(monitoringInput(s));
const GOOD = `registry.example/shop/web@sha256:${'ab'.repeat(32)}`;
const OLDER = `registry.example/shop/web@sha256:${'cd'.repeat(32)}`;

const history: DeploymentRecord[] = [
  {
    workload: 'deployment://shop/web',
    container: 'web',
    image: OLDER,
    revision: 3,
    deployed_at: '2026-11-01T00:00:00Z',
    outcome: 'healthy',
    signature_verified: true,
  },
  {
    workload: 'deployment://shop/web',
    container: 'web',
    image: GOOD,
    revision: 4,
    deployed_at: '2026-11-10T00:00:00Z',
    outcome: 'healthy',
    signature_verified: true,
  },
  {
    workload: 'deployment://shop/web',
    container: 'web',
    image: `registry.example/shop/web@sha256:${'ef'.repeat(32)}`,
    revision: 5,
    deployed_at: '2026-11-20T00:00:00Z',
    outcome: 'failed',
  },
];

function solve(over: Partial<ProblemSolverInput> & Pick<ProblemSolverInput, 'signal'>) {
  return runProblemSolverStep({ incident_id: 'inc-0001', policy, ...over });
}

describe('problem solver: ConfigMap/Secret', () => {
  it('re-renders from the GitOps source and restarts the workload that reads it', () => {
    const { rca, fix } = solve({
      signal: triage(SIGNALS.missingKey),
      sources: {
        'configmap://shop/checkout-config': {
          kind: 'gitops',
          repo: 'https://git.example/deploy.git',
          path: 'shop/checkout.yaml',
        },
      },
    });
    expect(rca.root_cause).toContain('DATABASE_URL');
    expect(rca.evidence_refs).toEqual(
      expect.arrayContaining(['event://shop/evt-1', 'incident://inc-0001/signal']),
    );
    expect(fix.proposals).toHaveLength(1);
    expect(fix.proposals[0]).toMatchObject({
      rank: 1,
      action: 'configmap_reload',
      target: 'configmap://shop/checkout-config',
      parameters: { rollout_restart: ['deployment://shop/checkout'] },
      executor: 'maintenance',
      requires_human_approval: false,
      blast_radius: 2,
    });
    expect(fix.rca_digest).toMatch(/^[0-9a-f]{64}$/);
  });

  it('escalates when no source of truth is known, proposing nothing', () => {
    const { fix } = solve({ signal: triage(SIGNALS.yamlSyntax) });
    expect(fix.proposals).toEqual([]);
    expect(fix.escalations.map((e) => e.kind)).toEqual(['no_source_of_truth']);
  });
});

describe('problem solver: images', () => {
  it('rolls back to the last digest known good from the deployment history', () => {
    const { fix } = solve({ signal: triage(SIGNALS.signatureDenied), deployment_history: history });
    expect(fix.proposals[0]).toMatchObject({
      action: 'image_rollback',
      target: 'deployment://shop/web',
      parameters: { basis: 'deployment_history', container: 'web', to_image: GOOD },
    });
  });

  it('with no history, rolls back to the previous revision and says so', () => {
    const named = { ...SIGNALS.pullFailed, affected_resources: ['deployment://shop/web'] };
    const { rca, fix } = solve({ signal: triage(named) });
    expect(fix.proposals[0]).toMatchObject({
      action: 'image_rollback',
      target: 'deployment://shop/web',
      parameters: {
        basis: 'previous_revision',
        to_revision: 'previous',
        from_image: 'registry.example/shop/web:v2',
      },
    });
    expect(fix.proposals[0]!.rationale).toContain('kubectl rollout undo');
    expect(rca.findings.map((f) => f.statement).join(' ')).toContain('no known-good digest');
  });
});

describe('problem solver: quota and RBAC', () => {
  it('raises the exceeded quota within the policy factor', () => {
    const { fix } = solve({ signal: triage(SIGNALS.quotaExceeded) });
    expect(fix.proposals[0]).toMatchObject({
      action: 'resource_quota_adjust',
      target: 'resourcequota://shop/compute',
      parameters: {
        changes: [{ resource: 'limits.cpu', current_hard: '4', new_hard: '5', used: '3', requested: '2' }],
      },
    });
  });

  it('asks a person for an expansion beyond the policy factor', () => {
    const tight = {
      ...policy,
      bounds: {
        ...policy.bounds,
        resource_quota: { ...policy.bounds.resource_quota, max_increase_factor: 1.1 },
      },
    };
    const { fix } = runProblemSolverStep({
      incident_id: 'inc-0001',
      policy: tight,
      signal: triage(SIGNALS.quotaExceeded),
    });
    expect(fix.proposals).toEqual([]);
    expect(fix.escalations.map((e) => e.kind)).toEqual(['quota_expansion']);
  });

  it('proposes RBAC changes only as a human-approval action', () => {
    const { fix } = solve({ signal: triage(SIGNALS.rbacDenied) });
    expect(fix.proposals[0]).toMatchObject({
      action: 'rbac_changes',
      target: 'rolebinding://shop/aaps-deployer-create-deployments',
      executor: 'human',
      requires_human_approval: true,
    });
  });

  it('fixes nothing it cannot classify', () => {
    const { rca, fix } = solve({ signal: triage(SIGNALS.probeFailed) });
    expect(rca.confidence).toBe('low');
    expect(fix.proposals).toEqual([]);
    expect(fix.escalations.map((e) => e.kind)).toEqual(['unclassified']);
  });
});
