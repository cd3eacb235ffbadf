/**
 * Facts read out of the free-text messages Kubernetes, kubelet, admission controllers and Argo CD
 * write: quota figures, the missing ConfigMap/Secret key, image references, RBAC denials.
 * Pure string parsing; each returns `undefined` when its pattern is absent. The gateway's intake
 * and the monitoring agent both read signals with these (through `signal-rules.ts`), so the two
 * readings of one signal cannot disagree.
 */

export interface QuotaFacts {
  quota: string;
  requested: Record<string, string>;
  used: Record<string, string>;
  limited: Record<string, string>;
}

export interface LimitRangeFacts {
  resource: string;
  scope: string;
  maximum: string;
  requested: string;
}

export interface MissingConfigFacts {
  kind: 'ConfigMap' | 'Secret';
  namespace?: string;
  /**
   * Absent when the message does not name the object: kubelet's volume plugins name the pod's
   * volume, not the ConfigMap/Secret behind it, and the object is never guessed from that.
   */
  name?: string;
  /** Absent when the whole object is missing. */
  key?: string;
  /** The pod volume whose `items` named the missing key (kubelet's `MountVolume.SetUp` failure). */
  volume?: string;
}

export interface RbacFacts {
  user: string;
  verb: string;
  resource: string;
  api_group: string;
  namespace?: string;
  /** The denial was `at the cluster scope`: only a ClusterRoleBinding can grant it. */
  cluster_scoped?: true;
  /**
   * The user is a kubelet (`system:node:<name>`), or the node authorizer gave the reason (`no
   * relationship found between node ...`). A kubelet reads a Secret, ConfigMap or volume only
   * through the node authorizer, which allows what the pods bound to that node reference: no RBAC
   * grant is the fix.
   */
  node?: true;
}

export interface SignatureDenialFacts {
  controller:
    | 'kyverno'
    | 'sigstore-policy-controller'
    | 'connaisseur'
    | 'ratify'
    | 'gatekeeper'
    | 'cosign'
    | 'other';
  webhook?: string;
}

function figures(list: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const part of list.split(',')) {
    const eq = part.indexOf('=');
    if (eq <= 0) continue;
    out[part.slice(0, eq).trim()] = part.slice(eq + 1).trim();
  }
  return out;
}

/** `exceeded quota: <name>, requested: a=1,b=2, used: a=3, limited: a=4` */
export function parseQuotaExceeded(message: string): QuotaFacts | undefined {
  const m = /exceeded quota: ([^,\s]+), requested: (\S+?), used: (\S+?), limited: ([^\s"\]]+)/.exec(message);
  if (m === null) return undefined;
  return {
    quota: m[1] ?? '',
    requested: figures(m[2] ?? ''),
    used: figures(m[3] ?? ''),
    limited: figures(m[4] ?? ''),
  };
}

/** The object kinds a LimitRange constrains (`spec.limits[].type`). */
const LIMIT_RANGE_SCOPE = 'Container|Pod|PersistentVolumeClaim';
const LIMIT_RANGE_MAXIMUM = new RegExp(
  `maximum (\\S+) usage per (${LIMIT_RANGE_SCOPE}) is ([^,\\s]+), +but (?:limit|request) is ([^\\s,\\]]+)`,
);
const LIMIT_VIOLATION = new RegExp(
  `(?:maximum|minimum) \\S+ usage per (?:${LIMIT_RANGE_SCOPE}) is|max limit to request ratio per (?:${LIMIT_RANGE_SCOPE}) is|must specify (?:limits|requests)`,
  'i',
);

/**
 * `maximum memory usage per Container is 1Gi, but limit is 2Gi`, `maximum storage usage per
 * PersistentVolumeClaim is 10Gi, but request is 20Gi` (LimitRange admission). Only maximums: a
 * minimum or a limit/request ratio is recognised ({@link isLimitViolation}) but has no maximum
 * to report.
 */
export function parseLimitRange(message: string): LimitRangeFacts | undefined {
  const m = LIMIT_RANGE_MAXIMUM.exec(message);
  if (m === null) return undefined;
  return { resource: m[1] ?? '', scope: m[2] ?? '', maximum: m[3] ?? '', requested: m[4] ?? '' };
}

/**
 * kubelet's `couldn't find key K in ConfigMap ns/name` (or Secret), its volume plugins'
 * `MountVolume.SetUp failed for volume "v" : configmap references non-existent config key: K` (and
 * `references non-existent secret key: K`, which name the volume, not the object), and
 * `configmap "x" not found`.
 */
export function parseMissingConfig(message: string): MissingConfigFacts | undefined {
  const key = /couldn't find key (\S+) in (ConfigMap|Secret) (?:([a-z0-9.-]+)\/)?([a-z0-9.-]+)/.exec(message);
  if (key !== null) {
    const ns = key[3];
    return {
      kind: key[2] === 'Secret' ? 'Secret' : 'ConfigMap',
      ...(ns === undefined ? {} : { namespace: ns }),
      name: key[4] ?? '',
      key: key[1] ?? '',
    };
  }
  const item = /references non-existent (config|secret) key: ([^\s"]+)/.exec(message);
  if (item !== null) {
    const volume = /MountVolume\.SetUp failed for volume "([^"]+)"/.exec(message)?.[1];
    return {
      kind: item[1] === 'secret' ? 'Secret' : 'ConfigMap',
      key: item[2] ?? '',
      ...(volume === undefined ? {} : { volume }),
    };
  }
  // kubelet's `FailedToRetrieveImagePullSecret`: the pod's `imagePullSecrets` name Secrets it
  // could not read (absent, in practice). A pull problem whose cause is a missing Secret, not the
  // image: one Secret named is that Secret; several name no one object to re-render.
  const pull = PULL_SECRETS.exec(message);
  if (pull !== null) {
    const names = (pull[1] ?? '').split(',').map((n) => n.trim());
    const [only] = names;
    return names.length === 1 && only !== undefined && SECRET_NAME.test(only)
      ? { kind: 'Secret', name: only }
      : { kind: 'Secret' };
  }
  const whole = /\b(configmap|secret)s? "([a-z0-9.-]+)" not found/i.exec(message);
  if (whole !== null) {
    return { kind: whole[1]?.toLowerCase() === 'secret' ? 'Secret' : 'ConfigMap', name: whole[2] ?? '' };
  }
  return undefined;
}

const PULL_SECRETS = /Unable to retrieve some image pull secrets \(([^()]{1,2048})\)/;
const SECRET_NAME = /^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$/;

/** A ConfigMap/Secret whose content does not parse (YAML/JSON syntax). */
export function isConfigSyntaxError(message: string): boolean {
  return /error converting YAML to JSON|yaml: line \d+|error parsing .{0,256}?(yaml|json)|(invalid|malformed) (yaml|json)|cannot unmarshal|mapping values are not allowed/i.test(
    message,
  );
}

/**
 * A LimitRange (or a quota that requires limits) refused the request, with or without figures: a
 * maximum or minimum per Container, Pod or PersistentVolumeClaim, or a limit-to-request ratio.
 */
export function isLimitViolation(message: string): boolean {
  return LIMIT_VIOLATION.test(message);
}

/** `... is forbidden: exceeded quota: ...`, with or without figures {@link parseQuotaExceeded} reads. */
export function isQuotaExceeded(message: string): boolean {
  return /exceeded quota/i.test(message);
}

/** A required environment variable the application reports missing or invalid. */
export function parseMissingEnvVar(message: string): string | undefined {
  return /(?:environment variable|env var(?:iable)?)\s+"?([A-Za-z_][A-Za-z0-9_]*)"?\s+(?:is\s+)?(?:missing|not set|undefined|required|invalid)/i.exec(
    message,
  )?.[1];
}

/**
 * `User "u" cannot verb resource "r" in API group "g"`, then `in the namespace "ns"` or `at the
 * cluster scope`.
 */
export function parseRbacForbidden(message: string): RbacFacts | undefined {
  const m =
    /forbidden: User "([^"]+)" cannot (\S+) resource "([^"]+)" in API group "([^"]*)"(?: in the namespace "([^"]+)"| (at the cluster scope))?/.exec(
      message,
    );
  if (m === null) return undefined;
  const ns = m[5];
  const user = m[1] ?? '';
  return {
    user,
    verb: m[2] ?? '',
    resource: m[3] ?? '',
    api_group: m[4] ?? '',
    ...(ns === undefined ? {} : { namespace: ns }),
    ...(m[6] === undefined ? {} : { cluster_scoped: true as const }),
    ...(user.startsWith('system:node:') || NODE_AUTHORIZER.test(message) ? { node: true as const } : {}),
  };
}

/** The node authorizer's reason, which the API server appends to its `forbidden` message. */
const NODE_AUTHORIZER = /no relationship found between node/;

/** An RBAC denial, also one worded too loosely for {@link parseRbacForbidden} to read its parts. */
export function isRbacForbidden(message: string): boolean {
  return /forbidden: User "[^"]+" cannot/i.test(message);
}

// Every pattern here runs over text a sender chose (a CI job's check-run output, an event
// message): none may take more than linear time. A quantified part that a later part can hand
// characters back to is bounded, or the pattern starts at a literal it cannot overlap.
const IMAGE_NAME = String.raw`[a-z0-9][a-z0-9.-]*(?::\d+)?(?:/[a-z0-9._-]+)+(?::[A-Za-z0-9._-]+)?`;
/** `verify image X` (cosign, kyverno), `signed digest for image X`, `trust data for image X` (connaisseur). */
const VERIFY_IMAGE = new RegExp(
  `(?:verify|verifying|verification of|signed digest for|trust data for) image (${IMAGE_NAME}(?:@sha256:[a-f0-9]{64})?)`,
);
/** A whole `name@sha256:<hex>` token (anchored: it is tried only where a digest follows). */
const DIGEST_IMAGE_TOKEN = new RegExp(`^${IMAGE_NAME}@sha256:[a-f0-9]{64}$`);
const DIGEST = /@sha256:[a-f0-9]{64}/g;
/** How far before a digest an image name may start, and how many digests a message is searched for. */
const MAX_IMAGE_NAME = 512;
const MAX_DIGESTS = 16;

/**
 * The first `name@sha256:<hex>` in `message`: the earliest start, within {@link MAX_IMAGE_NAME}
 * characters before one of the first {@link MAX_DIGESTS} digests, from which the name runs up to
 * the digest. An unanchored search for the name would try every position of a long run of name
 * characters, each to its end: quadratic in the message. This is one scan for the digests plus
 * a bounded amount of work for each of at most 16 (at most 512 anchored tries over at most 512
 * characters), whatever the message's length.
 */
function digestImageRef(message: string): string | undefined {
  DIGEST.lastIndex = 0;
  for (let n = 0; n < MAX_DIGESTS; n++) {
    const d = DIGEST.exec(message);
    if (d === null) return undefined;
    const end = d.index + d[0].length;
    for (let start = Math.max(0, d.index - MAX_IMAGE_NAME); start < d.index; start++) {
      const candidate = message.slice(start, end);
      if (DIGEST_IMAGE_TOKEN.test(candidate)) return candidate;
    }
  }
  return undefined;
}

/** The image a pull failure or signature denial is about. */
export function parseImageRef(message: string): string | undefined {
  return (
    /image "([^"\s]+)"/.exec(message)?.[1] ??
    // A sentence's full stop is not part of the tag (`...testimage:unsigned.`).
    VERIFY_IMAGE.exec(message)?.[1]?.replace(/\.+$/, '') ??
    digestImageRef(message)
  );
}

export function isImagePullFailure(reason: string, message: string): boolean {
  return (
    /^(ErrImagePull|ImagePullBackOff|ErrImageNeverPull|InvalidImageName)$/.test(reason) ||
    /Failed to pull image|Back-off pulling image|ErrImagePull|ImagePullBackOff|manifest unknown|pull access denied/i.test(
      message,
    )
  );
}

/**
 * Docker's and containerd's `pull access denied, repository does not exist or may require
 * authorization` (Docker adds `denied: requested access to the resource is denied`): the registry
 * answers so both for a repository that does not exist (a misspelt or unpublished one) and for one
 * the pull had no credentials for (a missing or wrong imagePullSecret, a grant withdrawn).
 */
export function isPullAccessDenied(message: string): boolean {
  return PULL_DENIED.test(message);
}

/**
 * {@link isPullAccessDenied}'s texts, and a registry's other refusals of access that it answers
 * alike to a repository that does not exist and to one the pull may not read: a `403 Forbidden`
 * (Artifact Registry and GCR when the node's service account may not read the repository, ECR
 * across accounts) and Quay's `unauthorized: access to the requested resource is not authorized`
 * (a private repository, or none of that name). A `401 Unauthorized` is refused credentials.
 */
const PULL_DENIED =
  /pull access denied|requested access to the resource is denied|\b403 Forbidden\b|unauthorized: access to the requested resource is not authorized/i;

/**
 * The runtime's or the registry's answer to a pull: kubelet's `Failed to pull image "X": <error>`
 * (the Event that carries the error), or the answer quoted on its own (`manifest unknown`, a
 * runtime's not-found: containerd's `<reference>: not found`, Docker's `manifest for <reference>
 * not found` and `repository <name> not found`, gRPC's `code = NotFound`; `pull access denied`,
 * `no such host`, `invalid reference format`, an image not present with pull policy `Never`). A
 * bare "not found" is no answer: an alert's annotation that lists what could make a pull fail
 * ("the image or its tag was not found, ...") says nothing of this one. kubelet's other Warnings about the same pull (`Error: ErrImagePull`,
 * `Error: ImagePullBackOff`), its back-off (`Back-off pulling image "X"`) and an alert's reason
 * label say that the pull failed, not why.
 */
const PULL_CAUSE =
  /Failed to pull image "[^"\n]{1,1024}": *\S|manifest unknown|(?::|\bmanifest for \S+|\brepository \S+) not found\b|code = NotFound\b|pull access denied|requested access to the resource is denied|no such host|invalid reference format|not present with pull policy/i;

/**
 * Whether a pull failure's text ({@link isImagePullFailure}) says why it failed; `reason` counts
 * when it names the cause itself (`InvalidImageName`, `ErrImageNeverPull`).
 */
export function isExplainedPullFailure(reason: string, message: string): boolean {
  return /^(InvalidImageName|ErrImageNeverPull)$/.test(reason) || PULL_CAUSE.test(message);
}

/**
 * The registry or the network failed, not the image: rate limiting (`429 Too Many Requests`,
 * Docker Hub's `toomanyrequests`), a registry's 5xx, a timeout or a dropped connection. kubelet
 * retries the pull on its own back-off; the image may well be fine.
 */
const TRANSIENT_PULL =
  /\b429 Too Many Requests|toomanyrequests|\b50[234] (?:Bad Gateway|Service Unavailable|Gateway Time-?out)|i\/o timeout|TLS handshake timeout|context deadline exceeded|Client\.Timeout exceeded|connection reset by peer|connection refused|net\/http: request canceled|unexpected EOF/i;

/**
 * The node's disk is full (`no space left on device`: containerd or Docker could not write the
 * layers it pulled). The node is what failed, not the image: kubelet's image garbage collection
 * or a person frees space, and a rollback would undo a revision nothing shows to be bad (other
 * nodes pull it).
 */
export function isNodeDiskFullPull(message: string): boolean {
  return /no space left on device/i.test(message);
}

/**
 * The registry's TLS certificate did not verify: Go's `x509:` errors as containerd, CRI-O and
 * Docker quote them (`x509: certificate signed by unknown authority`, `x509: certificate has
 * expired or is not yet valid: ...`, `x509: certificate is valid for a.example, not b.example`),
 * since Go 1.20 after `tls: failed to verify certificate: `. The registry host's certificate (or
 * the nodes' trust store) failed, or the reference names a host the nodes were never set up to
 * trust; a `TLS handshake timeout` is the network's ({@link isTransientPullFailure}).
 */
const SERVER_CERTIFICATE = /\bx509: |tls: failed to verify certificate/i;
/**
 * The registry refused the node's client certificate (mutual TLS: containerd's hosts.toml
 * `client`, a `certs.d` `.cert`/`.key` pair): the TLS alert Go reports as `remote error: tls: bad
 * certificate` (refused), `certificate required` (none sent), `unknown certificate authority` (its
 * issuer not trusted), `expired certificate`, `revoked certificate`, `unsupported certificate`.
 */
const CLIENT_CERTIFICATE =
  /remote error: tls: (?:(?:bad|unsupported|revoked|expired|unknown) certificate|certificate required)/i;

/**
 * A pull failure on TLS certificates, the registry's or the node's: {@link SERVER_CERTIFICATE}
 * and {@link CLIENT_CERTIFICATE}. Either way the registry host (or the nodes' TLS set-up for it)
 * failed, and an older image from the same host fails alike.
 */
export function isPullTlsFailure(message: string): boolean {
  return SERVER_CERTIFICATE.test(message) || CLIENT_CERTIFICATE.test(message);
}

/** What a TLS pull failure says: whose certificate failed, and the host the TLS session was with. */
export interface PullTlsFacts {
  /** `server`: the registry's certificate did not verify; `client`: the registry refused the node's. */
  certificate: 'server' | 'client';
  /**
   * The host (`host[:port]`, lowercase; Docker Hub's `registry-1.docker.io` and `index.docker.io`
   * as `docker.io`) the failed TLS session was with, as the message names it: the URL the runtime
   * requested (containerd's `Head "https://host/v2/..."`, with `?ns=<registry>` when the host is a
   * mirror of that registry), CRI-O's `pinging container registry host`, or the name in `x509:
   * certificate is valid for a, not host`. Absent when the message names none. With a registry
   * mirror it is the mirror's host, not the reference's registry.
   */
  host?: string;
}

/** The host of a registry URL or name, as {@link PullTlsFacts.host} spells it. */
function tlsHost(raw: string): string {
  const host = raw.toLowerCase().replace(/:443$/, '');
  return host === 'registry-1.docker.io' || host === 'index.docker.io' ? 'docker.io' : host;
}

/** {@link PullTlsFacts} of a message {@link isPullTlsFailure} matches; `undefined` for any other. */
export function parsePullTlsFailure(message: string): PullTlsFacts | undefined {
  const server = SERVER_CERTIFICATE.exec(message);
  const failed = server ?? CLIENT_CERTIFICATE.exec(message);
  if (failed === null) return undefined;
  const certificate = server === null ? 'client' : 'server';
  // The URL the failed request went to is the last one quoted before the error.
  const before = message.slice(Math.max(0, failed.index - 2048), failed.index);
  const urls = [...before.matchAll(/https:\/\/([a-z0-9.-]{1,253}(?::\d{1,5})?)[/"\s?]/gi)];
  const raw =
    urls.at(-1)?.[1] ??
    /pinging container registry ([a-z0-9.-]{1,253}(?::\d{1,5})?)/i.exec(before)?.[1] ??
    /x509: certificate is valid for [^\n]{0,2048}?, not ([a-z0-9.-]{1,253})/i.exec(message)?.[1];
  return raw === undefined ? { certificate } : { certificate, host: tlsHost(raw) };
}

/** A pull failure ({@link isImagePullFailure}) whose message says the cause is transient. */
export function isTransientPullFailure(message: string): boolean {
  return TRANSIENT_PULL.test(message);
}

/**
 * The registry refused the pull's credentials, or was sent none: ECR's `no basic auth
 * credentials` (an expired or missing token), a registry's `401 Unauthorized` or `authentication
 * required`, a wrong user name or password. The previous image is pulled with the same credentials
 * (on every node that does not hold it already), so a rollback mends nothing and may hide the
 * expired credential behind cached images. Docker's and containerd's `pull access denied,
 * repository does not exist or may require authorization` is not one: it is also what a
 * misspelt repository gets ({@link isPullAccessDenied}).
 */
const PULL_CREDENTIALS =
  /no basic auth credentials|\bauthentication required\b|\b401 Unauthorized\b|incorrect username or password|invalid username\/password/i;

/** A pull failure ({@link isImagePullFailure}) whose message says the registry refused its credentials. */
export function isPullCredentialFailure(message: string): boolean {
  return PULL_CREDENTIALS.test(message);
}

// Connaisseur words its denials without "signature": `Unable to find signed digest for image X`,
// `No trust data for image X`; Ratify (through Gatekeeper) `Subject failed verification: X`.
const SIGNATURE_WORDS =
  /signature|cosign|sigstore|attestor|verifyImages|image verification|verify image|notary|no matching signatures|signed digest|trust data for image|subject failed verification/i;
const FAILURE_WORDS =
  /denied the request|admission webhook|blocked due to the following policies|validation failed|verif\w{0,32} failed|failed to verify|failed verification|no matching signatures/i;
/**
 * What makes a signature an image's: the image signing and admission tools' own words. An
 * application's HMAC, SAML or JWT check fails with the same "signature verification failed".
 */
const IMAGE_SIGNING_WORDS =
  /cosign|sigstore|\bnotation\b|notary|verifyImages|policy-controller|connaisseur|ratify|attestor|image verification|verify(?:ing)? image|image signature|signed digest for image|trust data for image|subject failed verification/i;
/** `image X`, `image: X` or `image "X"` with X a registry path (it has a `/`). */
const IMAGE_WORD_REF = new RegExp(`\\bimage:? "?${IMAGE_NAME}`);

/** The message is about a container image: it names one, or is the wording of an image-signing tool. */
function hasImageContext(message: string): boolean {
  return (
    IMAGE_SIGNING_WORDS.test(message) || IMAGE_WORD_REF.test(message) || parseImageRef(message) !== undefined
  );
}

const CONTROLLERS: [string, SignatureDenialFacts['controller']][] = [
  ['kyverno', 'kyverno'],
  ['sigstore', 'sigstore-policy-controller'],
  ['policy-controller', 'sigstore-policy-controller'],
  ['connaisseur', 'connaisseur'],
  ['ratify', 'ratify'],
  // Ratify's own wording, under a Gatekeeper constraint of any name.
  ['subject failed verification', 'ratify'],
  ['gatekeeper', 'gatekeeper'],
  ['cosign', 'cosign'],
];

/**
 * An image signature that did not verify: an admission denial from a signature policy controller
 * (kyverno, sigstore policy-controller, connaisseur, ratify...) or a `cosign verify` failure. A
 * signature failure without image context (an image reference, or an image-signing tool's
 * wording) is none: "webhook signature verification failed" is an application's.
 */
export function parseSignatureDenial(message: string): SignatureDenialFacts | undefined {
  if (!SIGNATURE_WORDS.test(message) || !FAILURE_WORDS.test(message) || !hasImageContext(message)) {
    return undefined;
  }
  const webhook = /admission webhook "([^"]+)"/.exec(message)?.[1];
  const text = `${webhook ?? ''} ${message}`.toLowerCase();
  const controller = CONTROLLERS.find(([word]) => text.includes(word))?.[1] ?? 'other';
  return { controller, ...(webhook === undefined ? {} : { webhook }) };
}
