import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { classifySignal } from './classify.js';
import {
  isConfigSyntaxError,
  parseImageRef,
  parseLimitRange,
  parseMissingConfig,
  parseQuotaExceeded,
  parseRbacForbidden,
  parseSignatureDenial,
  splitImageRef,
} from './parse-messages.js';

describe('message parsers', () => {
  it('reads single and multi-resource quota figures', () => {
    expect(
      parseQuotaExceeded(
        'pods "web-1" is forbidden: exceeded quota: compute-resources, requested: limits.memory=2Gi, used: limits.memory=7Gi, limited: limits.memory=8Gi',
      ),
    ).toEqual({
      quota: 'compute-resources',
      requested: { 'limits.memory': '2Gi' },
      used: { 'limits.memory': '7Gi' },
      limited: { 'limits.memory': '8Gi' },
    });
    expect(
      parseQuotaExceeded(
        'exceeded quota: team-a, requested: limits.cpu=2,requests.memory=1Gi, used: limits.cpu=7,requests.memory=15Gi, limited: limits.cpu=8,requests.memory=16Gi',
      ),
    ).toEqual({
      quota: 'team-a',
      requested: { 'limits.cpu': '2', 'requests.memory': '1Gi' },
      used: { 'limits.cpu': '7', 'requests.memory': '15Gi' },
      limited: { 'limits.cpu': '8', 'requests.memory': '16Gi' },
    });
    expect(
      parseQuotaExceeded('pods "x" is forbidden: failed quota: q: must specify limits.memory'),
    ).toBeUndefined();
  });

  it('reads LimitRange maxima', () => {
    expect(
      parseLimitRange('pods "x" is forbidden: [maximum memory usage per Container is 1Gi, but limit is 2Gi]'),
    ).toEqual({ resource: 'memory', scope: 'Container', maximum: '1Gi', requested: '2Gi' });
  });

  it('reads missing ConfigMap and Secret keys and objects', () => {
    expect(parseMissingConfig("Error: couldn't find key LOG_LEVEL in ConfigMap web/app-config")).toEqual({
      kind: 'ConfigMap',
      namespace: 'web',
      name: 'app-config',
      key: 'LOG_LEVEL',
    });
    expect(parseMissingConfig("Error: couldn't find key password in Secret db/pg-credentials")).toMatchObject(
      {
        kind: 'Secret',
        key: 'password',
      },
    );
    expect(parseMissingConfig('Error: configmap "feature-flags" not found')).toEqual({
      kind: 'ConfigMap',
      name: 'feature-flags',
    });
    expect(parseMissingConfig('Error: secret "tls-cert" not found')).toEqual({
      kind: 'Secret',
      name: 'tls-cert',
    });
    expect(parseMissingConfig('Back-off restarting failed container')).toBeUndefined();
  });

  it('recognises YAML syntax errors', () => {
    expect(
      isConfigSyntaxError('error converting YAML to JSON: yaml: line 3: did not find expected key'),
    ).toBe(true);
    expect(isConfigSyntaxError('deployment.apps/web configured')).toBe(false);
  });

  it('reads RBAC denials in a namespace and at the cluster scope', () => {
    expect(
      parseRbacForbidden(
        'secrets is forbidden: User "jane@example.net" cannot list resource "secrets" in API group "" at the cluster scope',
      ),
    ).toEqual({
      user: 'jane@example.net',
      verb: 'list',
      resource: 'secrets',
      api_group: '',
      cluster_scoped: true,
    });
    expect(
      parseRbacForbidden(
        'configmaps "x" is forbidden: User "system:serviceaccount:web:app" cannot patch resource "configmaps" in API group "" in the namespace "web"',
      ),
    ).toMatchObject({ verb: 'patch', namespace: 'web' });
  });

  it('finds image references in kubelet and admission messages', () => {
    expect(parseImageRef('Back-off pulling image "nginx:1.27"')).toBe('nginx:1.27');
    expect(parseImageRef('failed to verify image quay.io/org/app:v2: no matching signatures')).toBe(
      'quay.io/org/app:v2',
    );
    const digest = `ghcr.io/org/app@sha256:${'ab'.repeat(32)}`;
    expect(
      parseImageRef(`signature key validation failed for authority a-0 for ${digest}: no signatures`),
    ).toBe(digest);
    expect(parseImageRef('no image here')).toBeUndefined();
    expect(splitImageRef('registry:5000/org/app:1.2@sha256:00')).toEqual({
      repository: 'registry:5000/org/app',
      tag: '1.2',
      digest: 'sha256:00',
    });
    expect(splitImageRef('registry:5000/org/app')).toEqual({ repository: 'registry:5000/org/app' });
  });

  it('names the signature policy controller that denied', () => {
    // Connaisseur's own wording: no "signature" anywhere in it.
    const connaisseur =
      'Error creating: admission webhook "connaisseur-svc.connaisseur.svc" denied the request: Unable to find signed digest for image docker.io/securesystemsengineering/testimage:unsigned.';
    expect(parseSignatureDenial(connaisseur)).toEqual({
      controller: 'connaisseur',
      webhook: 'connaisseur-svc.connaisseur.svc',
    });
    expect(parseImageRef(connaisseur)).toBe('docker.io/securesystemsengineering/testimage:unsigned');
    expect(
      parseSignatureDenial('admission webhook "x" denied the request: replicas must be < 10'),
    ).toBeUndefined();
    expect(parseSignatureDenial('signature of the release notes updated')).toBeUndefined();
  });
});

describe('message parsers over text a sender chose', () => {
  // What parseImageRef found for a digest reference before it was made linear: the leftmost match
  // of an unanchored search (quadratic on a long run of name characters).
  const UNANCHORED =
    /[a-z0-9][a-z0-9.-]*(?::\d+)?(?:\/[a-z0-9._-]+)+(?::[A-Za-z0-9._-]+)?@sha256:[a-f0-9]{64}/;
  const digest = `@sha256:${'0f'.repeat(32)}`;

  it('law: a digest reference is the one the unanchored search finds, in short messages', () => {
    const piece = fc.constantFrom('a', 'Z', '.', '-', '/', ':', '5', ' ', '_', '"', digest, 'reg.io/x/y');
    fc.assert(
      fc.property(fc.array(piece, { maxLength: 24 }), (parts) => {
        const message = `pulling ${parts.join('')}`;
        expect(parseImageRef(message)).toBe(UNANCHORED.exec(message)?.[0]);
      }),
      { numRuns: 500 },
    );
  });

  // Each of these took minutes at this size before (time grew with the square of the length), on
  // the gateway's event loop during the request; the test's timeout is what would catch it.
  it('classifies 256 KiB adversarial messages (long name runs, repeated openers)', () => {
    const n = 256 * 1024;
    const messages = [
      `Failed to pull image ${'a'.repeat(n)}`,
      `Failed to pull image ${'a'.repeat(n)}${digest}`,
      `cosign signature ${'verif'.repeat(n / 5)}`,
      `error parsing ${'error parsing '.repeat(n / 14)}`,
      `signature verification failed ${'image '.repeat(n / 6)}`,
      `signature verification failed image ${'a.'.repeat(n / 2)}`,
      `minimum ${'a'.repeat(n)}`,
      `maximum ${'maximum '.repeat(n / 8)}`,
      `MountVolume.SetUp failed for volume "${'a'.repeat(n)} references non-existent config key: ${'a'.repeat(n)}`,
    ];
    for (const reason of ['Failed', 'FailedCreate', 'CreateContainerConfigError', '']) {
      for (const m of messages) classifySignal({ metadata: { reason, messages: [m] } });
    }
    expect(parseImageRef(messages[1]!)).toBeUndefined();
    expect(parseImageRef(`${'a'.repeat(n)} reg.io/org/app${digest}`)).toBe(`reg.io/org/app${digest}`);
  }, 10_000);
});
