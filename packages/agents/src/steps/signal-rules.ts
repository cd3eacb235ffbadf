/**
 * The one rule set that reads a signal's text into an incident type. The gateway's intake
 * classifies with the first match; the monitoring agent reads the same matches again and sends a
 * signal whose matches name two types to a person. Being one list, the two cannot disagree on
 * what a message means (an application's "webhook signature mismatch" is no image failure to
 * either). Pure, and linear in the text: every pattern runs over text a sender chose.
 */
import {
  isConfigSyntaxError,
  isExplainedPullFailure,
  isImagePullFailure,
  isLimitViolation,
  isNodeDiskFullPull,
  isPullAccessDenied,
  isPullCredentialFailure,
  isPullTlsFailure,
  isQuotaExceeded,
  isRbacForbidden,
  isTransientPullFailure,
  parseMissingConfig,
  parseMissingEnvVar,
  parseSignatureDenial,
} from './signal-text.js';

/**
 * `metadata.classification.by` on a signal the gateway's intake classified. Its `unknown` is a
 * reading of these rules that found nothing, not a type left open for the monitoring agent to pick.
 */
export const INTAKE_CLASSIFIER = 'gateway.intake';

export const INCIDENT_TYPES = [
  'config_validation_failed',
  'image_signature_failed',
  'resource_quota_exceeded',
  'unknown',
] as const;
export type IncidentType = (typeof INCIDENT_TYPES)[number];

export type IncidentSubtype =
  | 'missing_key'
  | 'missing_object'
  | 'yaml_syntax'
  | 'env_var'
  | 'config_error'
  | 'signature_mismatch'
  | 'pull_failure'
  /** A pull failure whose message says the registry or the network failed (429, a timeout). */
  | 'pull_transient'
  /** A pull failure whose message says the registry refused the pull's credentials, or got none. */
  | 'pull_credentials'
  /** A pull failure whose message says the node's disk is full (`no space left on device`). */
  | 'pull_node_disk'
  /**
   * `pull access denied, repository does not exist or may require authorization`: a wrong (or
   * unpublished) repository, or credentials the pull did not have.
   */
  | 'pull_denied'
  /**
   * A pull failure whose message says the registry's TLS certificate did not verify (`x509:
   * certificate signed by unknown authority`, expired, issued for another name), or that the
   * registry refused the node's client certificate (`remote error: tls: bad certificate`,
   * `certificate required`).
   */
  | 'pull_tls'
  /**
   * A pull failure whose signal says only that the pull failed, not why: an alert's reason label
   * or name, kubelet's `Error: ImagePullBackOff` or its back-off, without the registry's answer.
   */
  | 'pull_unexplained'
  | 'quota_exceeded'
  | 'limit_violation'
  | 'rbac_denied'
  | 'unclassified'
  | 'ambiguous';

/** In the order they are tried: the first match is the intake's classification. */
export const SIGNAL_RULES = [
  'image.signature_denied',
  'quota.exceeded',
  'limit_range.exceeded',
  'rbac.forbidden',
  'config.missing',
  'config.syntax',
  'config.env_var',
  'config.reason',
  'image.pull_failed',
  'alert.name',
] as const;
export type SignalRule = (typeof SIGNAL_RULES)[number];

export interface RuleMatch {
  rule: SignalRule;
  type: Exclude<IncidentType, 'unknown'>;
  subtype: IncidentSubtype;
}

export interface SignalText {
  /** The source's reason word (an event's reason, an alert's `reason` label); `''` if none. */
  reason: string;
  /** The free text: event messages, sync results, alert annotations. */
  texts: readonly string[];
  /** The alert's name; `''` if none. */
  alertname: string;
}

/**
 * Alert names as a last resort, when no message says anything recognisable. The name is what the
 * alert's author chose, so only words that name a Kubernetes failure count. A word that names an
 * object (`Secret`, `ConfigMap`) is no failure: `SecretRotationOverdue` and `KubeConfigMapLarge`
 * are about one that works. Nor is `Signature`: an application's `WebhookSignatureInvalid` is an
 * HMAC check, and an image's signature failure is read from its text (image context), never from
 * a name alone.
 */
const BY_ALERT_NAME: [RegExp, RuleMatch['type'], IncidentSubtype][] = [
  [/quota|limitrange|forbidden|rbac/i, 'resource_quota_exceeded', 'quota_exceeded'],
  // A name says a pull failed, never why.
  [/imagepull/i, 'image_signature_failed', 'pull_unexplained'],
  [/config(uration)?error/i, 'config_validation_failed', 'config_error'],
];

/** Every rule the text matches, in {@link SIGNAL_RULES} order; `alert.name` only when none did. */
/**
 * What a pull failure's message says failed, first match in this order: the registry or network
 * for now (a transient error wins over what it may quote), the node's disk, the registry's TLS
 * certificate, the credentials, access to the repository. Otherwise the message explains the pull
 * (`pull_failure`) or does not (`pull_unexplained`).
 */
const PULL_FAILURE_KINDS: [says: (message: string) => unknown, subtype: IncidentSubtype][] = [
  [isTransientPullFailure, 'pull_transient'],
  [isNodeDiskFullPull, 'pull_node_disk'],
  [isPullTlsFailure, 'pull_tls'],
  [isPullCredentialFailure, 'pull_credentials'],
  [isPullAccessDenied, 'pull_denied'],
];

export function matchSignalRules(signal: SignalText): RuleMatch[] {
  const { reason, texts } = signal;
  const all = texts.join('\n');
  const some = (test: (m: string) => unknown): boolean =>
    texts.some((t) => {
      const r = test(t);
      return r !== undefined && r !== false;
    });
  const out: RuleMatch[] = [];
  const add = (rule: SignalRule, type: RuleMatch['type'], subtype: IncidentSubtype, hit: boolean) => {
    if (hit) out.push({ rule, type, subtype });
  };
  add('image.signature_denied', 'image_signature_failed', 'signature_mismatch', some(parseSignatureDenial));
  add('quota.exceeded', 'resource_quota_exceeded', 'quota_exceeded', some(isQuotaExceeded));
  add('limit_range.exceeded', 'resource_quota_exceeded', 'limit_violation', some(isLimitViolation));
  add('rbac.forbidden', 'resource_quota_exceeded', 'rbac_denied', some(isRbacForbidden));
  const missing = texts.map(parseMissingConfig).find((m) => m !== undefined);
  add(
    'config.missing',
    'config_validation_failed',
    missing?.key === undefined ? 'missing_object' : 'missing_key',
    missing !== undefined,
  );
  add('config.syntax', 'config_validation_failed', 'yaml_syntax', some(isConfigSyntaxError));
  add('config.env_var', 'config_validation_failed', 'env_var', some(parseMissingEnvVar));
  add(
    'config.reason',
    'config_validation_failed',
    'config_error',
    /^(CreateContainerConfigError|CreateContainerError)$/.test(reason),
  );
  add(
    'image.pull_failed',
    'image_signature_failed',
    PULL_FAILURE_KINDS.find(([says]) => some(says))?.[1] ??
      (isExplainedPullFailure(reason, all) ? 'pull_failure' : 'pull_unexplained'),
    isImagePullFailure(reason, all),
  );
  if (out.length === 0 && signal.alertname !== '') {
    const hit = BY_ALERT_NAME.find(([re]) => re.test(signal.alertname));
    if (hit !== undefined) out.push({ rule: 'alert.name', type: hit[1], subtype: hit[2] });
  }
  return out;
}
