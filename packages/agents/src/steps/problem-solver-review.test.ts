/**
 * Review: the problem solver's image rollback for a workload with more than one container. The
 * deployment history holds one line per container; the failing image belongs to one of them.
 */
import { describe, expect, it } from 'vitest';
import { defaultPolicy } from '../policy/defaults.js';
import { imageRepository } from '../policy/parameters.js';
import { runMonitoringStep } from './monitoring.js';
import { type DeploymentRecord, runProblemSolverStep } from './problem-solver.js';
import { monitoringInput, SIGNALS } from './test-helpers/signals.js';

const policy = defaultPolicy('problem-solver');
const WEB_GOOD = `registry.example/shop/web@sha256:${'ab'.repeat(32)}`;
const PROXY_GOOD = `registry.example/mesh/proxy@sha256:${'cd'.repeat(32)}`;

describe('problem solver: image rollback in a two-container workload', () => {
  it('rolls back the container whose image fails, to an image of that repository', () => {
    const history: DeploymentRecord[] = [
      {
        workload: 'deployment://shop/web',
        container: 'web',
        image: WEB_GOOD,
        revision: 3,
        deployed_at: '2026-11-01T00:00:00Z',
        outcome: 'healthy',
        signature_verified: true,
      },
      // The sidecar was upgraded later, healthy: the newest healthy line of the workload.
      {
        workload: 'deployment://shop/web',
        container: 'proxy',
        image: PROXY_GOOD,
        revision: 4,
        deployed_at: '2026-11-10T00:00:00Z',
        outcome: 'healthy',
        signature_verified: true,
      },
    ];
    // The signature of registry.example/shop/web@sha256:9e9e… fails (the web container's image).
    const signal = runMonitoringStep(monitoringInput(SIGNALS.signatureDenied));
    expect(imageRepository(signal.triage.facts.image!.ref)).toBe('registry.example/shop/web');
    const { fix } = runProblemSolverStep({
      incident_id: 'inc-0001',
      policy,
      signal,
      deployment_history: history,
    });
    const proposal = fix.proposals[0]!;
    expect(proposal.action).toBe('image_rollback');
    // Setting the proxy container back to its own (healthy, current) image changes nothing that
    // failed; the web container keeps its failing image and the incident is "fixed".
    expect(proposal.parameters['container']).toBe('web');
    expect(proposal.parameters['to_image']).toBe(WEB_GOOD);
  });
});
