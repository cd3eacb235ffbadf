import { describe, expect, it } from 'vitest';
import { matchSignalRules } from './signal-rules.js';

const byName = (alertname: string, texts: string[] = []) =>
  matchSignalRules({ reason: '', texts, alertname });

describe('matchSignalRules: the alert name, a last resort', () => {
  it.each([
    'SecretRotationOverdue',
    'KubeConfigMapLarge',
    'SecretExpiringSoon',
    'ConfigMapChanged',
    'WebhookSignatureInvalid',
    'CosignCacheStale',
    'SigstoreTufRootExpiring',
  ])('an object or signing word alone classifies nothing: %s', (alertname) => {
    expect(byName(alertname)).toEqual([]);
  });

  it('a failure word in the name still counts', () => {
    expect(byName('KubePodImagePullBackOff')).toEqual([
      { rule: 'alert.name', type: 'image_signature_failed', subtype: 'pull_failure' },
    ]);
    expect(byName('AppConfigurationError')).toEqual([
      { rule: 'alert.name', type: 'config_validation_failed', subtype: 'config_error' },
    ]);
    expect(byName('KubeQuotaExceeded')).toEqual([
      { rule: 'alert.name', type: 'resource_quota_exceeded', subtype: 'quota_exceeded' },
    ]);
  });

  it('a Secret alert with failure text is classified by its text', () => {
    expect(byName('SecretRotationOverdue', ["couldn't find key password in Secret shop/db-creds"])).toEqual([
      { rule: 'config.missing', type: 'config_validation_failed', subtype: 'missing_key' },
    ]);
  });
});

describe('matchSignalRules: signature failures', () => {
  it('an application signature alert is no image failure, with or without "Signature" in its name', () => {
    expect(
      byName('WebhookSignatureInvalid', ['Stripe webhook signature verification failed for 42 events']),
    ).toEqual([]);
  });

  it('an admission denial naming an image is an image signature failure', () => {
    expect(
      byName('', [
        'admission webhook "validate.kyverno.svc" denied the request: failed to verify image a.io/b/c:1: no matching signatures',
      ]),
    ).toEqual([
      { rule: 'image.signature_denied', type: 'image_signature_failed', subtype: 'signature_mismatch' },
    ]);
  });
});

describe('matchSignalRules: kubelet and LimitRange wordings', () => {
  it('a volume item missing from its ConfigMap is a missing key', () => {
    expect(
      byName('', [
        'MountVolume.SetUp failed for volume "config" : configmap references non-existent config key: app.yaml',
      ]),
    ).toEqual([{ rule: 'config.missing', type: 'config_validation_failed', subtype: 'missing_key' }]);
  });

  it('a LimitRange minimum is a limit violation', () => {
    expect(byName('', ['minimum memory usage per Container is 64Mi, but request is 32Mi'])).toEqual([
      { rule: 'limit_range.exceeded', type: 'resource_quota_exceeded', subtype: 'limit_violation' },
    ]);
  });
});
