import { describe, expect, it } from 'vitest';
import { matchSignalRules } from './signal-rules.js';

const byName = (alertname: string, texts: string[] = []) =>
  matchSignalRules({ reason: '', texts, alertname });

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
