/** What the problem solver targets: the right image, the right binding, never a guessed place. */
import type { IncidentSignalPayload } from '@aaps/mpc-core';
import { describe, expect, it } from 'vitest';
import { defaultPolicy } from '../policy/defaults.js';
import { runMonitoringStep } from './monitoring.js';
import { type DeploymentRecord, runProblemSolverStep } from './problem-solver.js';
import { CONTEXT } from './test-helpers/signals.js';

const BAD = `sha256:${'9e'.repeat(32)}`;
const OLDER = `sha256:${'ab'.repeat(32)}`;

function solve(signal: IncidentSignalPayload, deployment_history?: DeploymentRecord[]) {
  const triaged = runMonitoringStep({ incident_id: 'inc-1', context: CONTEXT, signal });
  return {
    triaged,
    ...runProblemSolverStep({
      incident_id: 'inc-1',
      signal: triaged,
      policy: defaultPolicy('problem-solver'),
      ...(deployment_history === undefined ? {} : { deployment_history }),
    }),
  };
}

function signal(messages: string[], affected: string[], metadata: Record<string, unknown> = {}) {
  return {
    incident_type: 'unknown' as const,
    severity: 'high' as const,
    affected_resources: affected,
    evidence_refs: ['event://shop/evt-1'],
    metadata: { namespace: 'shop', reason: 'FailedCreate', messages, ...metadata },
  };
}

function healthy(...images: string[]): DeploymentRecord[] {
  return images.map((image, i) => ({
    workload: 'deployment://shop/web',
    container: 'web',
    image,
    revision: i + 1,
    deployed_at: '2026-11-20T00:00:00Z',
    outcome: 'healthy',
  }));
}

const sigstoreDenial = (image: string) =>
  `Error creating: admission webhook "policy.sigstore.dev" denied the request: validation failed: failed policy: image-policy: spec.template.spec.containers[0].image ${image} signature key validation failed for authority authority-0 for ${image}: no matching signatures`;

describe('the image a rollback goes back to', () => {
  it('is never the failing digest, though the history spells it with its tag', () => {
    // sigstore policy-controller names the image by digest; the manifest (and so the history the
    // gateway holds) pins it as `name:tag@digest`. Same image, same digest.
    const { triaged, fix } = solve(
      signal([sigstoreDenial(`registry.example.com:5000/shop/web@${BAD}`)], ['deployment://shop/web']),
      healthy(
        `registry.example.com:5000/shop/web:1.4.0@${OLDER}`,
        `registry.example.com:5000/shop/web:1.5.0@${BAD}`,
      ),
    );
    expect(triaged.triage.facts.image?.digest).toBe(BAD);
    const p = fix.proposals[0]!;
    expect(p.action).toBe('image_rollback');
    expect(p.parameters['to_image']).toBe(`registry.example.com:5000/shop/web:1.4.0@${OLDER}`);
  });

  it('is not a recorded image the failing tag may be, when the failure names no digest', () => {
    const { fix } = solve(
      signal(['Failed to pull image "nginx:1.27": manifest unknown'], ['deployment://shop/web']),
      healthy(`docker.io/library/nginx:1.26@${OLDER}`, `docker.io/library/nginx:1.27@${BAD}`),
    );
    expect(fix.proposals[0]!.parameters['to_image']).toBe(`docker.io/library/nginx:1.26@${OLDER}`);
  });
});

describe('the workload an image failure is fixed on', () => {
  it('is not guessed from a pod name: a person confirms it', () => {
    const { fix } = solve(
      signal(
        ['Failed to pull image "registry.example/shop/web:v2": manifest unknown'],
        ['pod://shop/web-7d9f8b6c5-4lqpz'],
      ),
    );
    expect(fix.proposals).toEqual([]);
    expect(fix.escalations).toEqual([
      expect.objectContaining({
        kind: 'inferred_target',
        detail: expect.stringContaining('deployment://shop/web'),
      }),
    ]);
  });

  it('is not read from a CronJob pod at all', () => {
    const { fix } = solve(
      signal(
        ['Failed to pull image "registry.example/shop/report:v2": manifest unknown'],
        ['pod://shop/report-28924567-q7k2p'],
      ),
    );
    expect(fix.proposals).toEqual([]);
    expect(fix.escalations.map((e) => e.kind)).toEqual(['no_target']);
  });
});

describe('RBAC denials', () => {
  const denial = (where: string) =>
    `nodes is forbidden: User "system:serviceaccount:shop:node-reporter" cannot list resource "nodes" in API group "" ${where}`;

  it('at the cluster scope are proposed as a ClusterRoleBinding, not a RoleBinding in the incident namespace', () => {
    const { fix } = solve(signal([denial('at the cluster scope')], ['deployment://shop/node-reporter']));
    const p = fix.proposals[0]!;
    expect(p.action).toBe('rbac_changes');
    // A RoleBinding cannot grant a cluster-scoped resource: the person would approve a no-op.
    expect(p.target).toBe('clusterrolebinding://aaps-node-reporter-list-nodes');
    expect(p.parameters['details']).toMatchObject({ scope: 'cluster' });
    expect(p.parameters['details']).not.toHaveProperty('namespace');
  });

  it('in a namespace are a RoleBinding there, even when the signal names no namespace itself', () => {
    const { fix } = solve(signal([denial('in the namespace "ops"')], [], { namespace: null }));
    expect(fix.proposals[0]!.target).toBe('rolebinding://ops/aaps-node-reporter-list-nodes');
  });
});

describe('a signal whose source named no namespace (`metadata.namespace: null`)', () => {
  const noNamespace = { ...CONTEXT, namespace: 'default' };
  const solveUnnamed = (messages: string[]) => {
    const triaged = runMonitoringStep({
      incident_id: 'inc-3',
      context: noNamespace,
      signal: signal(messages, [], { namespace: null }),
    });
    return {
      triaged,
      ...runProblemSolverStep({
        incident_id: 'inc-3',
        signal: triaged,
        policy: defaultPolicy('problem-solver'),
      }),
    };
  };

  it('raises no quota in the context placeholder `default`: a person says where', () => {
    const { triaged, fix } = solveUnnamed([
      'pods "migrate-x7k2p" is forbidden: exceeded quota: compute, requested: limits.cpu=2, used: limits.cpu=3, limited: limits.cpu=4',
    ]);
    expect(triaged.incident_type).toBe('resource_quota_exceeded');
    expect(triaged.triage.facts.namespace).toBeUndefined();
    expect(fix.proposals).toEqual([]);
    expect(fix.escalations.map((e) => e.kind)).toEqual(['no_namespace']);
  });

  it('binds no role in a guessed namespace', () => {
    const { fix } = solveUnnamed([
      'deployments.apps is forbidden: User "system:serviceaccount:ci:deployer" cannot create resource "deployments" in API group "apps"',
    ]);
    expect(fix.proposals).toEqual([]);
    expect(fix.escalations.map((e) => e.kind)).toEqual(['no_namespace']);
  });

  it('re-renders no ConfigMap it cannot place', () => {
    const { fix } = solveUnnamed(['configmap "app-config" not found']);
    expect(fix.proposals).toEqual([]);
    expect(fix.escalations.map((e) => e.kind)).toEqual(['no_namespace']);
  });
});
