/**
 * The container an image rollback sets, in a workload with more than one: the failing one, to an
 * image of the failing image's repository, or else the previous revision, saying why.
 */
import type { IncidentSignalPayload } from '@aaps/mpc-core';
import { describe, expect, it } from 'vitest';
import { defaultPolicy } from '../policy/defaults.js';
import { evaluateProposal } from '../policy/evaluate.js';
import { PARTY_ROLES } from '../policy/roles.js';
import { context } from '../policy/test-helpers/fixtures.js';
import { runMonitoringStep } from './monitoring.js';
import { type DeploymentRecord, runProblemSolverStep } from './problem-solver.js';
import { runStrategyStep } from './strategy.js';
import { CONTEXT, DIGEST_BAD } from './test-helpers/signals.js';

const WEB_OLD = `registry.example/shop/web@sha256:${'a1'.repeat(32)}`;
const WEB_GOOD = `registry.example/shop/web@sha256:${'ab'.repeat(32)}`;
const PROXY_GOOD = `registry.example/mesh/proxy@sha256:${'cd'.repeat(32)}`;
const MIGRATE_GOOD = `registry.example/shop/web@sha256:${'ef'.repeat(32)}`;
const WEB_BAD = `registry.example/shop/web@${DIGEST_BAD}`;

const line = (
  container: string,
  image: string,
  revision: number,
  over: Partial<DeploymentRecord> = {},
): DeploymentRecord => ({
  workload: 'deployment://shop/web',
  container,
  image,
  revision,
  deployed_at: `2026-11-${String(revision).padStart(2, '0')}T00:00:00Z`,
  outcome: 'healthy',
  ...over,
});

/** The sidecar's upgrade is the newest healthy line of the workload. */
const WEB_AND_PROXY = [line('web', WEB_OLD, 2), line('web', WEB_GOOD, 3), line('proxy', PROXY_GOOD, 4)];

const denial = `admission webhook "policy.sigstore.dev" denied the request: validation failed: failed policy: image-policy: spec.containers[0].image ${WEB_BAD} signature key validation failed: no matching signatures`;

function signal(messages: string[], metadata: Record<string, unknown> = {}): IncidentSignalPayload {
  return {
    incident_type: 'unknown',
    severity: 'high',
    affected_resources: ['deployment://shop/web'],
    evidence_refs: ['event://shop/evt-1'],
    metadata: { namespace: 'shop', reason: 'FailedCreate', messages, ...metadata },
  };
}

function solve(s: IncidentSignalPayload, deployment_history: DeploymentRecord[]) {
  const triaged = runMonitoringStep({ incident_id: 'inc-1', context: CONTEXT, signal: s });
  const out = runProblemSolverStep({
    incident_id: 'inc-1',
    signal: triaged,
    policy: defaultPolicy('problem-solver'),
    deployment_history,
  });
  const proposal = out.fix.proposals[0]!;
  expect(proposal.action).toBe('image_rollback');
  return { ...out, proposal, findings: out.rca.findings.map((f) => f.statement).join('\n') };
}

/** The previous-revision rollback, with the reason it gives (its rationale). */
function expectPreviousRevision(p: ReturnType<typeof solve>['proposal'], why: string) {
  expect(p.parameters).toEqual({ basis: 'previous_revision', to_revision: 'previous', from_image: WEB_BAD });
  expect(p.rationale).toContain(why);
  expect(p.rationale).toContain('kubectl rollout undo');
}

describe('the container an image rollback sets', () => {
  it('is the one the event names (spec.containers{web}), to an image of the failing repository', () => {
    // Two containers run images of shop/web; the Kubernetes intake records the event's field path.
    const history = [...WEB_AND_PROXY, line('migrate', MIGRATE_GOOD, 5)];
    const { proposal, findings } = solve(
      signal([denial], { object: { kind: 'Pod', container: 'web' } }),
      history,
    );
    expect(proposal.parameters).toEqual({
      basis: 'deployment_history',
      container: 'web',
      to_image: WEB_GOOD,
      from_image: WEB_BAD,
    });
    expect(findings).toContain('the signal names container web');
    // The same, named in the text by its field path.
    const inText = solve(signal([`${denial} (spec.containers{web})`]), history);
    expect(inText.proposal.parameters['container']).toBe('web');
  });

  it('is, when the signal names none, the one container whose history runs the failing repository', () => {
    const { proposal, findings } = solve(signal([denial]), WEB_AND_PROXY);
    expect(proposal.parameters).toMatchObject({ container: 'web', to_image: WEB_GOOD });
    expect(findings).toContain('web is the one container of deployment://shop/web');
  });

  it('is approved by every party, and the sidecar rollback the old solver proposed is refused', () => {
    const { fix } = solve(signal([denial]), WEB_AND_PROXY);
    const decide = (parameters: Record<string, string>) =>
      runStrategyStep(
        {
          incident_id: 'inc-1',
          urgency: 'P3',
          environment: 'production',
          fix: { ...fix.proposals[0]!, parameters },
          policy: defaultPolicy('strategy'),
        },
        context(),
      ).proposal;
    const right = decide(fix.proposals[0]!.parameters as Record<string, string>);
    expect(PARTY_ROLES.map((r) => evaluateProposal(defaultPolicy(r), r, right, context()).decision)).toEqual(
      PARTY_ROLES.map(() => 'approve'),
    );
    const sidecar = decide({
      basis: 'deployment_history',
      container: 'proxy',
      to_image: PROXY_GOOD,
      from_image: WEB_BAD,
    });
    for (const role of PARTY_ROLES) {
      expect(evaluateProposal(defaultPolicy(role), role, sidecar, context())).toMatchObject({
        decision: 'refuse',
        rule: 'bounds.image_repository',
      });
    }
  });
});

describe('when the failing container is not certain, the previous revision, saying why', () => {
  it('two containers run images of the failing repository and the signal names neither', () => {
    const { proposal } = solve(signal([denial]), [...WEB_AND_PROXY, line('migrate', MIGRATE_GOOD, 5)]);
    expectPreviousRevision(proposal, 'containers migrate, web of deployment://shop/web each run images');
  });

  it('the signal names two containers', () => {
    const named = signal([denial], { object: { container: 'web' }, labels: { container: 'proxy' } });
    expectPreviousRevision(solve(named, WEB_AND_PROXY).proposal, 'the signal names containers proxy, web');
  });

  it('the signal names a container by a name no container has', () => {
    const named = signal([denial], { object: { container: 'Web_1' } });
    expectPreviousRevision(solve(named, WEB_AND_PROXY).proposal, 'which is not a container name');
  });

  it('the failing container has no healthy line of its repository: never the sidecar instead', () => {
    const history = [line('web', WEB_GOOD, 3, { outcome: 'failed' }), line('proxy', PROXY_GOOD, 4)];
    expectPreviousRevision(solve(signal([denial]), history).proposal, 'for container web');
    // Named by the signal, with only the sidecar's repository in its lines.
    const named = signal([denial], { object: { container: 'web' } });
    const renamed = [line('web', PROXY_GOOD, 3), line('proxy', PROXY_GOOD, 4)];
    expectPreviousRevision(solve(named, renamed).proposal, 'for container web');
  });

  it('no line of the workload runs the failing repository', () => {
    expectPreviousRevision(
      solve(signal([denial]), [line('proxy', PROXY_GOOD, 4)]).proposal,
      'no line of deployment://shop/web runs an image of registry.example/shop/web',
    );
  });

  it('the signal names no failing image', () => {
    const { proposal } = solve(
      // The runtime's answer (a tag that does not exist), quoted without the image it was about.
      signal(['rpc error: code = NotFound desc = failed to resolve reference: not found'], {
        reason: 'ErrImagePull',
      }),
      WEB_AND_PROXY,
    );
    expect(proposal.parameters).toEqual({ basis: 'previous_revision', to_revision: 'previous' });
    expect(proposal.rationale).toContain('the signal names no failing image');
  });
});

describe('history lines no rollback may name', () => {
  it('are skipped, not proposed for the parties to refuse', () => {
    // The newest line of shop/web has a container name Kubernetes does not allow.
    const history = [line('web', WEB_OLD, 2), line('Web_1', WEB_GOOD, 3)];
    const { proposal, findings } = solve(signal([denial]), history);
    expect(proposal.parameters).toMatchObject({ container: 'web', to_image: WEB_OLD });
    expect(findings).toContain('1 deployment-history line(s) of deployment://shop/web skipped');
  });

  it('leave the previous revision when they were all there was', () => {
    // Among them, a line with no container at all (a previous-revision rollback records none).
    const history = [line('Web_1', WEB_GOOD, 3), line('', WEB_GOOD, 4)];
    const { proposal, findings } = solve(signal([denial]), history);
    expectPreviousRevision(proposal, 'no known-good digest');
    expect(findings).toContain('2 deployment-history line(s) of deployment://shop/web skipped');
  });
});
