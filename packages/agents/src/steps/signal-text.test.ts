import { describe, expect, it } from 'vitest';
import {
  isLimitViolation,
  parseLimitRange,
  parseMissingConfig,
  parsePullTlsFailure,
  parseRbacForbidden,
  parseSignatureDenial,
} from './signal-text.js';

const DIGEST = `sha256:${'c4'.repeat(32)}`;

describe('parseSignatureDenial: a signature failure is an image one only with image context', () => {
  it.each([
    'Stripe webhook signature verification failed for 42 events in the last 5m',
    'SAML response signature validation failed for 12 logins in the last 5m',
    'failed to verify JWT signature for 318 requests in the last 5m',
    'admission webhook "hmac.example.com" denied the request: request signature verification failed',
    'HMAC signature failed verification for 3 callbacks',
  ])('an application signature check is none: %s', (message) => {
    expect(parseSignatureDenial(message)).toBeUndefined();
  });

  it.each([
    // An image reference alone gives the context, whatever the controller.
    [`signature verification failed for registry.example/shop/web@${DIGEST}`, 'other'],
    [
      'admission webhook "images.example.com" denied the request: image registry.example/shop/web:1.4 has no valid signature',
      'other',
    ],
    // An image-signing tool's wording does too, without a reference.
    ['cosign: signature verification failed: no matching signatures', 'cosign'],
    ['notation verify failed: signature verification failed for the artifact', 'other'],
    ['policy-controller: validation failed: signature mismatch', 'sigstore-policy-controller'],
  ])('%s', (message, controller) => {
    expect(parseSignatureDenial(message)).toMatchObject({ controller });
  });

  it.each(['ratify-constraint', 'azurepolicy-ratifyverification-077bac5b63d37da0bc4a'])(
    "reads Ratify's Gatekeeper denial ([%s] Subject failed verification) as ratify's",
    (constraint) => {
      const message = `Error creating: admission webhook "validation.gatekeeper.sh" denied the request: [${constraint}] Subject failed verification: registry.example/shop/web@${DIGEST}`;
      expect(parseSignatureDenial(message)).toEqual({
        controller: 'ratify',
        webhook: 'validation.gatekeeper.sh',
      });
    },
  );

  it('reads "Subject failed verification" under any constraint name: it is Ratify\'s own wording', () => {
    const message =
      'admission webhook "validation.gatekeeper.sh" denied the request: [verify-images] Subject failed verification: registry.example/shop/web:1.4';
    expect(parseSignatureDenial(message)).toMatchObject({ controller: 'ratify' });
  });
});

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

describe("parseMissingConfig: kubelet's image pull Secrets", () => {
  const msg = (names: string) =>
    `Unable to retrieve some image pull secrets (${names}); attempting to pull the image may not succeed.`;
  it('names the one Secret, in no namespace of its own (the pod names it)', () => {
    expect(parseMissingConfig(msg('regcred'))).toEqual({ kind: 'Secret', name: 'regcred' });
  });
  it('names no Secret when there are several, or the name is none', () => {
    expect(parseMissingConfig(msg('regcred, ghcr-secret'))).toEqual({ kind: 'Secret' });
    expect(parseMissingConfig(msg('<regcred>'))).toEqual({ kind: 'Secret' });
  });
});

describe('parseRbacForbidden: a kubelet refused by the node authorizer', () => {
  it('marks the denial as a node', () => {
    expect(
      parseRbacForbidden(
        'secrets "db-creds" is forbidden: User "system:node:node-pool-a-3" cannot get resource "secrets" in API group "" in the namespace "shop": no relationship found between node \'node-pool-a-3\' and this object',
      ),
    ).toEqual({
      user: 'system:node:node-pool-a-3',
      verb: 'get',
      resource: 'secrets',
      api_group: '',
      namespace: 'shop',
      node: true,
    });
  });
  it('a service account is no node', () => {
    expect(
      parseRbacForbidden(
        'pods is forbidden: User "system:serviceaccount:shop:deployer" cannot list resource "pods" in API group "" in the namespace "shop"',
      )?.node,
    ).toBeUndefined();
  });
});

describe('parsePullTlsFailure: whose certificate failed, and where', () => {
  const IMAGE = 'docker.io/library/python:3.12-slim';
  it.each([
    [
      "containerd through a mirror (`?ns=`): the mirror's host",
      `failed to pull and unpack image "${IMAGE}": failed to resolve reference "${IMAGE}": failed to do request: Head "https://hub.mirror.example:5050/v2/library/python/manifests/3.12-slim?ns=docker.io": tls: failed to verify certificate: x509: certificate has expired or is not yet valid: current time 2026-06-02T16:35:32+08:00 is after 2026-05-31T06:13:08Z`,
      { certificate: 'server', host: 'hub.mirror.example:5050' },
    ],
    [
      "Docker Hub's own endpoint is Docker Hub",
      `failed to resolve reference "${IMAGE}": failed to do request: Head "https://registry-1.docker.io/v2/library/python/manifests/3.12-slim": tls: failed to verify certificate: x509: certificate is valid for *.corp.example, not registry-1.docker.io`,
      { certificate: 'server', host: 'docker.io' },
    ],
    [
      'an unquoted URL (containerd built with an older Go), port 443 dropped',
      'failed to do request: Head https://Registry.Example:443/v2/shop/web/manifests/1.5.0: x509: certificate signed by unknown authority',
      { certificate: 'server', host: 'registry.example' },
    ],
    [
      'CRI-O',
      'pinging container registry registry.example: Get "https://registry.example/v2/": tls: failed to verify certificate: x509: certificate signed by unknown authority',
      { certificate: 'server', host: 'registry.example' },
    ],
    [
      'no URL: the name the certificate was not valid for',
      'x509: certificate is valid for registry.internal.example, not registry.example',
      { certificate: 'server', host: 'registry.example' },
    ],
    [
      "a refused client certificate is the node's",
      'failed to do request: Head "https://registry.example/v2/shop/web/manifests/1.5.0": remote error: tls: bad certificate',
      { certificate: 'client', host: 'registry.example' },
    ],
    ['no host named', 'remote error: tls: certificate required', { certificate: 'client' }],
  ])('%s', (_, message, facts) => {
    expect(parsePullTlsFailure(message)).toEqual(facts);
  });

  it('is undefined for a pull that failed otherwise', () => {
    expect(
      parsePullTlsFailure(
        'failed to do request: Head "https://registry.example/v2/": net/http: TLS handshake timeout',
      ),
    ).toBeUndefined();
  });
});
