import { describe, expect, it } from 'vitest';
import { isLimitViolation, parseLimitRange, parseMissingConfig } from './signal-text.js';

describe('parseMissingConfig: a volume item whose key is not in its ConfigMap/Secret', () => {
  it('reads the kind, key and volume, and names no object (the message names only the volume)', () => {
    expect(
      parseMissingConfig(
        'MountVolume.SetUp failed for volume "config" : configmap references non-existent config key: app.yaml',
      ),
    ).toEqual({ kind: 'ConfigMap', key: 'app.yaml', volume: 'config' });
    expect(
      parseMissingConfig(
        'MountVolume.SetUp failed for volume "tls" : references non-existent secret key: tls.crt',
      ),
    ).toEqual({ kind: 'Secret', key: 'tls.crt', volume: 'tls' });
    expect(parseMissingConfig('references non-existent secret key: ca.crt')).toEqual({
      kind: 'Secret',
      key: 'ca.crt',
    });
  });

  it('still names the object where kubelet does', () => {
    expect(parseMissingConfig("couldn't find key POSTGRES_PASSWORD in Secret shop/db-creds")).toEqual({
      kind: 'Secret',
      namespace: 'shop',
      name: 'db-creds',
      key: 'POSTGRES_PASSWORD',
    });
  });
});

describe('LimitRange denials', () => {
  it.each([
    'pods "w" is forbidden: minimum memory usage per Container is 64Mi, but request is 32Mi',
    'pods "w" is forbidden: minimum cpu usage per Pod is 100m, but request is 50m',
    'persistentvolumeclaims "data-db-0" is forbidden: maximum storage usage per PersistentVolumeClaim is 10Gi, but request is 20Gi',
    'persistentvolumeclaims "d" is forbidden: minimum storage usage per PersistentVolumeClaim is 1Gi, but request is 100Mi',
    'pods "w" is forbidden: cpu max limit to request ratio per Container is 2, but provided ratio is 4.000000',
    'pods "w" is forbidden: maximum memory usage per Container is 1Gi, but limit is 2Gi',
  ])('recognises %s', (message) => {
    expect(isLimitViolation(message)).toBe(true);
  });

  it('is not any "minimum" or "maximum" sentence', () => {
    expect(isLimitViolation('maximum throughput per Pod reached')).toBe(false);
    expect(isLimitViolation('minimum replicas per Deployment is 2')).toBe(false);
  });

  it('reads the figures of a maximum, a PersistentVolumeClaim one included, and none of a minimum', () => {
    expect(
      parseLimitRange('maximum storage usage per PersistentVolumeClaim is 10Gi, but request is 20Gi'),
    ).toEqual({ resource: 'storage', scope: 'PersistentVolumeClaim', maximum: '10Gi', requested: '20Gi' });
    // A minimum has no maximum to report: the solver reads `maximum` as the ceiling exceeded.
    expect(
      parseLimitRange('minimum memory usage per Container is 64Mi, but request is 32Mi'),
    ).toBeUndefined();
  });
});
