import { describe, expect, it } from 'vitest';
import { runMonitoringStep } from './monitoring.js';
import { CONTEXT, monitoringInput, SIGNALS } from './test-helpers/signals.js';

describe('monitoring step', () => {
  it('classifies a missing ConfigMap key', () => {
    const out = runMonitoringStep(monitoringInput(SIGNALS.missingKey));
    expect(out.incident_type).toBe('config_validation_failed');
    expect(out.triage).toMatchObject({
      subtype: 'missing_key',
      route: 'auto',
      facts: {
        config: { kind: 'configmap', namespace: 'shop', name: 'checkout-config', key: 'DATABASE_URL' },
      },
    });
  });

  it('classifies a YAML syntax error, naming the ConfigMap the source reported', () => {
    const out = runMonitoringStep(monitoringInput(SIGNALS.yamlSyntax));
    expect(out.incident_type).toBe('config_validation_failed');
    expect(out.triage.subtype).toBe('yaml_syntax');
    expect(out.triage.facts.config).toMatchObject({ name: 'app-config', origin: 'resource' });
  });

  it('classifies a cosign signature denial and an image pull failure', () => {
    const sig = runMonitoringStep(monitoringInput(SIGNALS.signatureDenied));
    expect(sig.incident_type).toBe('image_signature_failed');
    expect(sig.triage.subtype).toBe('signature_mismatch');
    expect(sig.triage.facts.image?.digest).toMatch(/^sha256:/);
    const pull = runMonitoringStep(monitoringInput(SIGNALS.pullFailed));
    expect(pull.incident_type).toBe('image_signature_failed');
    expect(pull.triage.subtype).toBe('pull_failure');
    expect(pull.triage.facts.image?.ref).toBe('registry.example/shop/web:v2');
  });

  it("reads the failing container's name from the event's field path, an alert label or the text", () => {
    const pull = SIGNALS.pullFailed;
    const facts = (metadata: Record<string, unknown>) =>
      runMonitoringStep(monitoringInput({ ...pull, metadata: { ...pull.metadata, ...metadata } })).triage
        .facts;
    expect(facts({}).containers).toBeUndefined();
    // The Kubernetes intake's `object.container` (from `spec.containers{web}`).
    expect(facts({ object: { kind: 'Pod', name: 'web-1', container: 'web' } }).containers).toEqual(['web']);
    expect(facts({ labels: { container: 'web' } }).containers).toEqual(['web']);
    expect(
      facts({ messages: [...(pull.metadata['messages'] as string[]), 'at spec.initContainers{init-db}'] })
        .containers,
    ).toEqual(['init-db']);
    // Sources that disagree are all kept: the solver then knows the container is not certain.
    expect(facts({ object: { container: 'web' }, labels: { container: 'proxy' } }).containers).toEqual([
      'proxy',
      'web',
    ]);
    expect(facts({ object: { container: 'web' }, labels: { container: 'web' } }).containers).toEqual(['web']);
  });

  it('classifies quota exhaustion with its figures, and an RBAC denial', () => {
    const q = runMonitoringStep(monitoringInput(SIGNALS.quotaExceeded));
    expect(q.incident_type).toBe('resource_quota_exceeded');
    expect(q.triage.subtype).toBe('quota_exceeded');
    expect(q.triage.facts.quota).toEqual({
      name: 'compute',
      namespace: 'shop',
      figures: [
        { resource: 'limits.cpu', requested: '2', used: '3', limited: '4' },
        { resource: 'limits.memory', requested: '1Gi', used: '3Gi', limited: '4Gi' },
      ],
    });
    const r = runMonitoringStep(monitoringInput(SIGNALS.rbacDenied));
    expect(r.incident_type).toBe('resource_quota_exceeded');
    expect(r.triage.subtype).toBe('rbac_denied');
    expect(r.triage.facts.rbac).toMatchObject({
      user: 'system:serviceaccount:shop:deployer',
      verb: 'create',
    });
  });

  it('sends what it does not recognise to a human', () => {
    const out = runMonitoringStep(monitoringInput(SIGNALS.probeFailed));
    expect(out.incident_type).toBe('unknown');
    expect(out.triage).toMatchObject({ subtype: 'unclassified', route: 'human' });
  });

  it('sends a signal that reads as two incident types to a human', () => {
    const mixed = {
      ...SIGNALS.quotaExceeded,
      metadata: {
        ...SIGNALS.quotaExceeded.metadata,
        messages: [
          ...(SIGNALS.quotaExceeded.metadata['messages'] as string[]),
          "couldn't find key X in ConfigMap shop/c",
        ],
      },
    };
    expect(runMonitoringStep(monitoringInput(mixed)).triage).toMatchObject({
      subtype: 'ambiguous',
      route: 'human',
    });
  });

  it('keeps a signal the gateway intake classified as unknown unknown, whatever its metadata holds', () => {
    const s = {
      ...SIGNALS.probeFailed,
      metadata: {
        ...SIGNALS.probeFailed.metadata,
        quota: {
          quota: 'compute',
          requested: { 'limits.cpu': '2' },
          used: { 'limits.cpu': '3' },
          limited: { 'limits.cpu': '4' },
        },
        classification: { rule: 'none', by: 'gateway.intake' },
      },
    };
    const out = runMonitoringStep(monitoringInput(s));
    expect(out.incident_type).toBe('unknown');
    expect(out.triage).toMatchObject({ route: 'human', intake_type: 'unknown', matched: ['quota.exceeded'] });
    // Without the intake's reading, the same facts are a quota incident.
    const native = { ...s, metadata: { ...s.metadata, classification: undefined } };
    expect(runMonitoringStep(monitoringInput(native)).incident_type).toBe('resource_quota_exceeded');
  });

  it('reads no image failure into an application message about webhook signatures', () => {
    const s = {
      ...SIGNALS.probeFailed,
      metadata: {
        namespace: 'shop',
        labels: { alertname: 'PaymentsWebhookErrors' },
        messages: ['Stripe webhook signature mismatch: 42 events rejected in the last 5m'],
      },
    };
    expect(runMonitoringStep(monitoringInput(s)).triage).toMatchObject({
      subtype: 'unclassified',
      route: 'human',
    });
  });

  it('sends a signal whose intake type disagrees with its own reading to a human', () => {
    const s = { ...SIGNALS.quotaExceeded, incident_type: 'image_signature_failed' as const };
    const out = runMonitoringStep(monitoringInput(s));
    expect(out.incident_type).toBe('unknown');
    expect(out.triage.intake_type).toBe('image_signature_failed');
  });

  it('normalises resources and gives a stable dedup key', () => {
    const a = runMonitoringStep(
      monitoringInput({
        ...SIGNALS.yamlSyntax,
        affected_resources: [
          'Deployment://shop/web',
          'configmap://shop/app-config',
          'configmap://shop/app-config',
        ],
        metadata: { ...SIGNALS.yamlSyntax.metadata, fingerprint: 'f00d' },
      }),
    );
    expect(a.affected_resources).toEqual(['configmap://shop/app-config', 'deployment://shop/web']);
    const b = runMonitoringStep(monitoringInput(SIGNALS.yamlSyntax, 'inc-0002'));
    expect(a.triage.dedup.key).toBe(b.triage.dedup.key);
    expect(a.triage.dedup.fingerprint).toBe('f00d');
    const c = runMonitoringStep({
      ...monitoringInput(SIGNALS.yamlSyntax),
      context: { ...CONTEXT, namespace: 'other' },
    });
    expect(c.triage.dedup.key).not.toBe(a.triage.dedup.key);
  });
});
