import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { intakeAlertmanager } from './alertmanager.js';
import { intakeArgoCD } from './argocd.js';
import { classifySignal } from './classify.js';
import { type GithubIntakeContext, intakeGithub } from './github.js';
import { intakeKubernetes } from './kubernetes.js';
import { fixture, opened, testContext } from './test-helpers/fixtures.js';
import type { IntakeResult } from './types.js';

const ghCtx = (event: string): GithubIntakeContext => ({ ...testContext(), event, deliveryId: 'd-1' });

const RESULTS: IntakeResult[] = [
  intakeAlertmanager(fixture('alertmanager/firing-group.json'), testContext()),
  intakeAlertmanager(fixture('alertmanager/image-pull-backoff.json'), testContext()),
  intakeArgoCD(fixture('argocd/template-sync-failed-configmap.json'), testContext()),
  intakeArgoCD(fixture('argocd/application-sync-failed-signature.json'), testContext()),
  intakeGithub(fixture('github/workflow-run-failure.json'), ghCtx('workflow_run')),
  intakeGithub(fixture('github/check-run-failure.json'), ghCtx('check_run')),
  intakeKubernetes(fixture('kubernetes/core-v1-missing-configmap-key.json'), testContext()),
  intakeKubernetes(fixture('kubernetes/core-v1-image-pull-failed.json'), testContext()),
  intakeKubernetes(fixture('kubernetes/events-v1-quota-exceeded.json'), testContext()),
  intakeKubernetes(fixture('kubernetes/event-list-mixed.json'), testContext()),
];

describe('classifySignal laws', () => {
  it('gives the monitoring agent the same answer the intake gave (re-classification is stable)', () => {
    const incidents = RESULTS.flatMap((r) => opened(r.items));
    expect(incidents.length).toBeGreaterThanOrEqual(11);
    for (const { envelope } of incidents) {
      const again = classifySignal(envelope.payload);
      expect(again.incident_type).toBe(envelope.payload.incident_type);
      expect(again.severity).toBe(envelope.payload.severity);
      expect(again.urgency).toBe(envelope.context.urgency);
      for (const r of again.affected_resources) expect(envelope.payload.affected_resources).toContain(r);
    }
  });

  it('never throws and always answers within the closed sets, whatever the metadata', () => {
    const text = fc.oneof(
      fc.string(),
      fc.constantFrom(
        'exceeded quota: ',
        "couldn't find key ",
        'Failed to pull image "',
        'admission webhook "',
        'forbidden: User "',
        'signature',
        'denied the request',
        ', requested: ',
      ),
    );
    const meta = fc.record({
      reason: fc.oneof(
        fc.string(),
        fc.constantFrom('Failed', 'ErrImagePull', 'CreateContainerConfigError'),
        fc.integer(),
      ),
      messages: fc.oneof(fc.array(fc.array(text).map((parts) => parts.join(''))), fc.anything()),
      labels: fc.oneof(fc.dictionary(fc.string(), fc.string()), fc.anything()),
      namespace: fc.oneof(fc.string(), fc.constant(undefined)),
    });
    fc.assert(
      fc.property(meta, (metadata) => {
        const c = classifySignal({ metadata });
        expect([
          'config_validation_failed',
          'image_signature_failed',
          'resource_quota_exceeded',
          'unknown',
        ]).toContain(c.incident_type);
        expect(['high', 'medium', 'low']).toContain(c.severity);
        expect(c).toEqual(classifySignal({ metadata: structuredClone(metadata) }));
      }),
    );
  });
});
