/**
 * What the problem solver does not roll back: a workload whose update never reached the cluster, a
 * policy report that blocked nothing, and a workload only guessed from a pod's name that no
 * deployment-history line confirms. And the init container an image rollback sets.
 */
import type { IncidentSignalPayload } from '@aaps/mpc-core';
import { describe, expect, it } from 'vitest';
import { defaultPolicy } from '../policy/defaults.js';
import { parseActionParameters } from '../policy/parameters.js';
import { runMonitoringStep } from './monitoring.js';
import { policyReport, refusedSync } from './not-applied.js';
import { type DeploymentRecord, runProblemSolverStep } from './problem-solver.js';
import { initContainerNamed } from './rollback-target.js';
import { CONTEXT } from './test-helpers/signals.js';

const TARGET = { kind: 'deployment', namespace: 'shop', name: 'web' } as const;
const GOOD = `registry.example/shop/web:1.4.0@sha256:${'ab'.repeat(32)}`;

function solve(signal: IncidentSignalPayload, deployment_history?: DeploymentRecord[]) {
  const triaged = runMonitoringStep({ incident_id: 'inc-1', context: CONTEXT, signal });
  return runProblemSolverStep({
    incident_id: 'inc-1',
    signal: triaged,
    policy: defaultPolicy('problem-solver'),
    ...(deployment_history === undefined ? {} : { deployment_history }),
  });
}

function signal(messages: string[], affected: string[], metadata: Record<string, unknown> = {}) {
  return {
    incident_type: 'unknown' as const,
    severity: 'high' as const,
    affected_resources: affected,
    evidence_refs: ['event://shop/evt-1'],
    metadata: { namespace: 'shop', reason: 'Failed', messages, ...metadata },
  };
}

const history = (container: string): DeploymentRecord[] => [
  {
    workload: 'deployment://shop/web',
    container,
    image: GOOD,
    revision: 3,
    deployed_at: '2026-11-20T00:00:00Z',
    outcome: 'healthy',
  },
];

const kyverno =
  'admission webhook "mutate.kyverno.svc-fail" denied the request: resource Deployment/shop/web was blocked due to the following policies verify-release-signatures: autogen-check-signature: \'failed to verify image registry.example/shop/web:3.8.1: .attestors[0].entries[0].keys: no matching signatures\'';

const argoSignal = (kind: string, extra: Record<string, unknown> = {}) =>
  signal([kyverno], ['application://argocd/shop-web', `${kind.toLowerCase()}://shop/web`], {
    source: 'argocd',
    reason: 'SyncFailed',
    revision: 'b7d30f9e41c6a2d85e0b3f71c9a4d6e28f15c0a3',
    argo_resources: [{ kind, namespace: 'shop', name: 'web', group: 'apps', message: kyverno }],
    ...extra,
  });

describe('an Argo CD sync that failed to apply the workload itself', () => {
  it('rolls nothing back: the live workload still runs its previous revision', () => {
    const { fix, rca } = solve(argoSignal('Deployment', { health_status: 'Healthy' }), history('web'));
    expect(fix.proposals).toEqual([]);
    expect(fix.escalations).toEqual([
      {
        kind: 'not_applied',
        detail: expect.stringContaining('deployment://shop/web'),
      },
    ]);
    expect(fix.escalations[0]!.detail).toContain('Argo CD health: Healthy');
    expect(rca.findings.map((f) => f.statement).join('\n')).toContain(
      'failed to apply deployment://shop/web',
    );
  });

  it('nor a StatefulSet, with or without the health in the notification', () => {
    const { fix } = solve(argoSignal('StatefulSet'));
    expect(fix.escalations.map((e) => e.kind)).toEqual(['not_applied']);
  });

  it('a sync whose failed resource is another object (its ReplicaSet’s pods refused) still rolls back', () => {
    const s = argoSignal('Deployment');
    (s.metadata as Record<string, unknown>)['argo_resources'] = [
      { kind: 'Service', namespace: 'shop', name: 'web', message: 'invalid' },
    ];
    const { fix } = solve(s, history('web'));
    expect(fix.proposals[0]).toMatchObject({ action: 'image_rollback', target: 'deployment://shop/web' });
  });

  it('refusedSync reads only Argo CD signals and workload kinds of the apps group', () => {
    expect(refusedSync({ source: 'kubernetes', argo_resources: [{ kind: 'Deployment' }] })).toBeUndefined();
    expect(
      refusedSync({
        source: 'argocd',
        argo_resources: [
          { kind: 'Deployment', group: 'example.com', namespace: 'shop', name: 'x' },
          { kind: 'Deployment', namespace: 'shop', name: 'web' },
          { kind: 'DaemonSet', group: 'apps', name: 'no-namespace' },
        ],
        health_status: 'Degraded',
      }),
    ).toEqual({ workloads: ['deployment://shop/web'], health: 'Degraded' });
  });
});

describe('a policy report', () => {
  it('proposes nothing, whatever its type: a person reads it', () => {
    const { fix, rca } = solve(
      signal(
        [
          'policy verify-image-signature/verify-image-signature fail: failed to verify image registry.example/shop/web:1.4.0: .attestors[0].entries[0].keys: no matching signatures',
        ],
        ['deployment://shop/web'],
        { reason: 'PolicyViolation', policy_report: { reason: 'PolicyViolation', reporter: 'kyverno-scan' } },
      ),
      history('web'),
    );
    expect(fix.proposals).toEqual([]);
    expect(fix.escalations).toEqual([
      { kind: 'policy_report', detail: expect.stringContaining('PolicyViolation by kyverno-scan') },
    ]);
    expect(rca.root_cause).toBe('a policy report (PolicyViolation), not a failure');
  });

  it('policyReport reads only the intake mark', () => {
    expect(policyReport({ reason: 'PolicyViolation' })).toBeUndefined();
    expect(policyReport({ policy_report: { reason: 'AuditViolation' } })).toEqual({
      reason: 'AuditViolation',
    });
  });
});

describe('a Deployment the intake read from a pod name', () => {
  const pull = 'Failed to pull image "registry.example/shop/web:v2": manifest unknown';
  const inferred = (metadata: Record<string, unknown> = {}) =>
    signal([pull], ['pod://shop/web-7d9f8b6c5-x2x4k', 'deployment://shop/web'], {
      workload: { kind: 'Deployment', name: 'web', inferred: true },
      object: { kind: 'Pod', namespace: 'shop', name: 'web-7d9f8b6c5-x2x4k', container: 'web' },
      ...metadata,
    });

  // Read from the pod-template hash (a ReplicaSet's pods): taken as named, the RCA saying how.
  it('is rolled back a revision with no history, the RCA saying how the intake read it', () => {
    const { fix, rca } = solve(inferred());
    expect(fix.escalations).toEqual([]);
    expect(fix.proposals[0]).toMatchObject({
      action: 'image_rollback',
      target: 'deployment://shop/web',
      parameters: { basis: 'previous_revision' },
    });
    expect(rca.findings.map((f) => f.statement).join('\n')).toContain(
      'the intake read deployment://shop/web from the pod-template hash',
    );
  });

  it('is set back to a digest when the history has a healthy line of the failing container', () => {
    const { fix } = solve(inferred(), history('web'));
    expect(fix.proposals[0]).toMatchObject({
      action: 'image_rollback',
      target: 'deployment://shop/web',
      parameters: { basis: 'deployment_history', container: 'web', to_image: GOOD },
    });
  });
});

describe('an init container', () => {
  it('is named so in the rollback, and the parameter check accepts it', () => {
    const { fix } = solve(
      signal(
        ['Failed to pull image "registry.example/shop/web:v2": manifest unknown'],
        ['deployment://shop/web'],
        {
          object: { kind: 'Deployment', name: 'web', container: 'migrate', init_container: true },
        },
      ),
      history('migrate'),
    );
    const p = fix.proposals[0]!;
    expect(p.parameters).toMatchObject({ container: 'migrate', init_container: true });
    const parsed = parseActionParameters('image_rollback', TARGET, p.parameters);
    expect(parsed.params).toMatchObject({ init_container: true });
  });

  it('a container of the same name in spec.containers is not one', () => {
    expect(initContainerNamed({ object: { container: 'web' } }, 'web')).toBe(false);
    expect(initContainerNamed({ messages: ['spec.initContainers{migrate}: x'] }, 'migrate')).toBe(true);
    expect(initContainerNamed({ object: { container: 'web', init_container: true } }, 'migrate')).toBe(false);
  });

  it('the parameter check refuses it with a previous_revision rollback, or as anything but a boolean', () => {
    for (const params of [
      { basis: 'previous_revision', to_revision: 'previous', init_container: true },
      { basis: 'deployment_history', container: 'migrate', to_image: GOOD, init_container: 'yes' },
    ]) {
      expect(() => parseActionParameters('image_rollback', TARGET, params)).toThrow(/init_container/);
    }
  });
});
