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

/** A kubelet pull failure Event's message, with `cause` as the runtime's error. */
const pull = (cause: string) =>
  matchSignalRules({
    reason: 'Failed',
    texts: [`Failed to pull image "registry.example/shop/web:1.5.0": rpc error: ${cause}`],
    alertname: '',
  });

describe('matchSignalRules: pull failures the registry or the network caused', () => {
  it.each([
    'code = Unknown desc = failed to copy: httpReadSeeker: failed open: unexpected status code https://registry-1.docker.io/v2/library/nginx/manifests/sha256:ab: 429 Too Many Requests - Server message: toomanyrequests: You have reached your pull rate limit.',
    'code = Unknown desc = failed to resolve reference: failed to do request: Head "https://registry.example/v2/shop/web/manifests/1.5.0": dial tcp 10.20.0.15:443: i/o timeout',
    'code = Unknown desc = Error response from daemon: Get "https://registry.example/v2/": net/http: TLS handshake timeout',
    'code = DeadlineExceeded desc = failed to resolve reference: failed to do request: context deadline exceeded',
    'code = Unknown desc = failed to copy: unexpected status code: 503 Service Unavailable',
  ])('are pull_transient: %s', (cause) => {
    expect(pull(cause)).toEqual([
      { rule: 'image.pull_failed', type: 'image_signature_failed', subtype: 'pull_transient' },
    ]);
  });

  it.each([
    'code = NotFound desc = failed to pull and unpack image: failed to resolve reference: not found',
    'code = Unknown desc = failed to do request: Head "https://regsitry.example/v2/": dial tcp: lookup regsitry.example: no such host',
  ])('a missing or misspelt image stays pull_failure: %s', (cause) => {
    expect(pull(cause)).toEqual([
      { rule: 'image.pull_failed', type: 'image_signature_failed', subtype: 'pull_failure' },
    ]);
  });
});

describe('matchSignalRules: pull failures whose credentials the registry refused', () => {
  it.each([
    'code = Unknown desc = Error response from daemon: Get "https://123456789012.dkr.ecr.eu-west-1.amazonaws.com/v2/web/manifests/1.5.0": no basic auth credentials',
    'code = Unknown desc = failed to resolve reference: failed to authorize: failed to fetch anonymous token: unexpected status: 401 Unauthorized',
    'code = Unknown desc = failed to resolve reference: unexpected status from HEAD request: unauthorized: authentication required',
    'code = Unknown desc = Error response from daemon: Get "https://registry.example/v2/": unauthorized: incorrect username or password',
  ])('are pull_credentials: %s', (cause) => {
    expect(pull(cause)).toEqual([
      { rule: 'image.pull_failed', type: 'image_signature_failed', subtype: 'pull_credentials' },
    ]);
  });

  it("a repository's insufficient_scope (what a misspelt repository gets too) is no credential failure", () => {
    expect(
      pull(
        'code = Unknown desc = failed to resolve reference: pull access denied, repository does not exist or may require authorization: server message: insufficient_scope: authorization failed',
      ),
    ).toEqual([{ rule: 'image.pull_failed', type: 'image_signature_failed', subtype: 'pull_denied' }]);
  });
});

describe("matchSignalRules: kubelet's FailedToRetrieveImagePullSecret", () => {
  it('is a missing Secret (config), not an image failure', () => {
    expect(
      matchSignalRules({
        reason: 'FailedToRetrieveImagePullSecret',
        texts: [
          'Unable to retrieve some image pull secrets (regcred); attempting to pull the image may not succeed.',
        ],
        alertname: '',
      }),
    ).toEqual([{ rule: 'config.missing', type: 'config_validation_failed', subtype: 'missing_object' }]);
  });
});

describe('matchSignalRules: a pull failure that does not say why', () => {
  const unexplained = [
    { rule: 'image.pull_failed', type: 'image_signature_failed', subtype: 'pull_unexplained' },
  ];
  it.each([
    // kube-state-metrics' alerts: a reason label and an annotation about readiness.
    [
      'ImagePullBackOff',
      'Pod payments/ledger-5d8c7b9f6-qwk4r has been in a non-ready state for longer than 15 minutes.',
    ],
    // kubelet's own Warnings beside the error Event, and its back-off.
    ['Failed', 'Error: ImagePullBackOff'],
    ['Failed', 'Error: ErrImagePull'],
    ['BackOff', 'Back-off pulling image "registry.example/shop/web:1.5.0"'],
  ])('%s "%s" is pull_unexplained', (reason, text) => {
    expect(matchSignalRules({ reason, texts: [text], alertname: '' })).toEqual(unexplained);
  });

  it('an alert name alone is pull_unexplained', () => {
    expect(byName('KubePodImagePullBackOff')).toEqual([{ ...unexplained[0], rule: 'alert.name' }]);
  });

  it("containerd's pull access denied is pull_denied (a wrong reference or missing credentials)", () => {
    expect(
      pull(
        'code = Unknown desc = failed to resolve reference: pull access denied, repository does not exist or may require authorization: server message: insufficient_scope: authorization failed',
      ),
    ).toEqual([{ rule: 'image.pull_failed', type: 'image_signature_failed', subtype: 'pull_denied' }]);
  });
});

describe('review: pull failures, the runtime texts and an alert that only describes the failure', () => {
  const subtypeOf = (reason: string, texts: string[]) =>
    matchSignalRules({ reason, texts, alertname: '' }).map((m) => m.subtype);

  it('an annotation that lists "not found" among possible causes does not say why this pull failed', () => {
    // kube-state-metrics' KubeContainerWaiting with a reason label; its summary a runbook line of
    // the kind monitoring vendors ship (what could cause it, not what did).
    expect(
      subtypeOf('ImagePullBackOff', [
        'pod/web-7d9f8b6c5-x2x4k in namespace shop on container web has been in waiting state for longer than 1 hour.',
        'The image could not be pulled: the image or its tag was not found, the imagePullSecrets are wrong, or the registry is unreachable.',
      ]),
    ).toEqual(['pull_unexplained']);
  });

  it("the runtime's own not-found answers still explain the pull", () => {
    for (const cause of [
      // containerd
      'code = NotFound desc = failed to pull and unpack image "docker.io/library/nginx:1.99.9": failed to resolve reference "docker.io/library/nginx:1.99.9": docker.io/library/nginx:1.99.9: not found',
      // Docker (cri-dockerd)
      'code = Unknown desc = Error response from daemon: manifest for nginx:1.99.9 not found: manifest unknown: manifest unknown',
      // CRI-O
      'code = Unknown desc = reading manifest 1.99.9 in docker.io/library/nginx: manifest unknown',
    ]) {
      expect(
        subtypeOf('ImagePullBackOff', [
          'pod/web-7d9f8b6c5-x2x4k in namespace shop on container web has been in waiting state for longer than 1 hour.',
          `rpc error: ${cause}`,
        ]),
      ).toEqual(['pull_failure']);
    }
  });

  it("a full disk on the node is not the image's fault (containerd's layer extraction, ENOSPC)", () => {
    expect(
      pull(
        'code = Unknown desc = failed to pull and unpack image "registry.example/shop/web:1.5.0": failed to extract layer sha256:6f1c0b2e9d8a7c6b5a4f3e2d1c0b9a8f7e6d5c4b3a2f1e0d9c8b7a6f5e4d3c2b: write /var/lib/containerd/io.containerd.snapshotter.v1.overlayfs/snapshots/1187/fs/usr/lib/libssl.so.3: no space left on device: unknown',
      ).map((m) => m.subtype),
    ).toEqual(['pull_node_disk']);
  });

  it.each([
    // Artifact Registry / GCR: the node's service account may not read the repository.
    'code = Unknown desc = failed to pull and unpack image "europe-docker.pkg.dev/acme/shop/web:1.5.0": failed to resolve reference "europe-docker.pkg.dev/acme/shop/web:1.5.0": failed to authorize: failed to fetch oauth token: unexpected status: 403 Forbidden',
    // Quay (CRI-O): a private repository, or one that does not exist, answer alike.
    'code = Unknown desc = reading manifest 1.5.0 in quay.io/acme/web: unauthorized: access to the requested resource is not authorized',
  ])('a registry that refused access is pull_denied, as pull access denied is: %s', (cause) => {
    expect(pull(cause).map((m) => m.subtype)).toEqual(['pull_denied']);
  });
});

describe("review: a pull that failed on the registry's TLS certificate", () => {
  const IMAGE = 'registry.example/shop/web:1.5.0';
  it.each([
    // containerd 1.7+ (Go 1.20+ prefixes x509 errors with `tls: failed to verify certificate`)
    `code = Unknown desc = failed to pull and unpack image "${IMAGE}": failed to resolve reference "${IMAGE}": failed to do request: Head "https://registry.example/v2/shop/web/manifests/1.5.0": tls: failed to verify certificate: x509: certificate signed by unknown authority`,
    `code = Unknown desc = failed to pull and unpack image "${IMAGE}": failed to resolve reference "${IMAGE}": failed to do request: Head "https://registry.example/v2/shop/web/manifests/1.5.0": tls: failed to verify certificate: x509: certificate has expired or is not yet valid: current time 2026-11-25T14:01:58Z is after 2026-11-20T23:59:59Z`,
    `code = Unknown desc = failed to pull and unpack image "${IMAGE}": failed to resolve reference "${IMAGE}": failed to do request: Head "https://registry.example/v2/shop/web/manifests/1.5.0": tls: failed to verify certificate: x509: certificate is valid for registry.internal.example, not registry.example`,
    // containerd built with an older Go: the bare x509 error, an unquoted URL
    `code = Unknown desc = failed to pull and unpack image "${IMAGE}": failed to resolve reference "${IMAGE}": failed to do request: Head https://registry.example/v2/shop/web/manifests/1.5.0: x509: certificate signed by unknown authority (possibly because of "crypto/rsa: verification error" while trying to verify candidate authority certificate "registry-ca")`,
    // Docker (cri-dockerd)
    'code = Unknown desc = Error response from daemon: Get "https://registry.example/v2/": x509: certificate signed by unknown authority',
    // CRI-O
    'code = Unknown desc = pinging container registry registry.example: Get "https://registry.example/v2/": tls: failed to verify certificate: x509: certificate signed by unknown authority',
  ])('is pull_tls, not a plain pull failure to roll back: %s', (cause) => {
    expect(pull(cause)).toEqual([
      { rule: 'image.pull_failed', type: 'image_signature_failed', subtype: 'pull_tls' },
    ]);
  });

  it.each([
    // The registry requires a client certificate (mutual TLS: containerd's hosts.toml `client`,
    // certs.d's `.cert`/`.key`) and refused the node's (TLS 1.2's alert 42)...
    `code = Unknown desc = failed to pull and unpack image "${IMAGE}": failed to resolve reference "${IMAGE}": failed to do request: Head "https://registry.example/v2/shop/web/manifests/1.5.0": remote error: tls: bad certificate`,
    // ...or the node sent none (TLS 1.3's alert 116)...
    `code = Unknown desc = failed to pull and unpack image "${IMAGE}": failed to resolve reference "${IMAGE}": failed to do request: Head "https://registry.example/v2/shop/web/manifests/1.5.0": remote error: tls: certificate required`,
    // ...or the node's client certificate is issued by a CA the registry does not trust.
    'code = Unknown desc = pinging container registry registry.example: Get "https://registry.example/v2/": remote error: tls: unknown certificate authority',
  ])(
    "a registry that refused the node's client certificate is pull_tls, not a plain pull failure to roll back: %s",
    (cause) => {
      expect(pull(cause)).toEqual([
        { rule: 'image.pull_failed', type: 'image_signature_failed', subtype: 'pull_tls' },
      ]);
    },
  );
});
