/**
 * Finds the sensitive values in an arbitrary JSON payload (an incident signal, a webhook body, a
 * Kubernetes object, a log excerpt) so they can be sealed before anything is stored or logged.
 * Pure: the payload is only read. Each detector can be switched off; a policy adds its own paths.
 *
 * Detectors (see `docs/sealing.md`):
 * - `k8s-secret`: every value under `data` / `stringData` of an object with `kind: "Secret"`, and
 *   its `kubectl.kubernetes.io/last-applied-configuration` annotation (which repeats them);
 * - `env`: every `env[].value` of a container spec (`{name, value}` items of an `env` array);
 * - `credential-key`: a string (or, for `password`, `pin`, `otp`, `secret`…, a number) under a key
 *   that names a credential (`password`,
 *   `client_secret`, `apiKey`, `auth`, `token`, …) but not a reference to one (`secretName`,
 *   `tokenUrl`, `secretKeyRef`, …); also the `value` of a `{name, value}` pair whose name does
 *   (Helm / Argo CD parameters, header lists);
 * - `key-value`: `KEY=value` / `key: value` inside a string whose key names a credential
 *   (`DB_PASSWORD=…`, `--token=…`, `password: …`);
 * - `pem`: PEM blocks other than certificates and public keys;
 * - `jwt`, `github-token` (`ghp_`, `gho_`, `ghu_`, `ghs_`, `ghr_`, `github_pat_`), `aws-key`
 *   (`AKIA`/`ASIA` key ids), `slack-token` (`xox?-`, Slack webhook URLs), `bearer`
 *   (`Bearer …`, `Basic …`), `url-credentials` (`scheme://user:pass@host`);
 * - `embedded-json`: a string holding JSON in which any detector fires is sealed whole;
 * - `policy`: the pointers (patterns with `*` / `**`) a policy lists.
 *
 * A payload nesting deeper than {@link MAX_PAYLOAD_DEPTH} is refused (`ValidationError` naming the
 * first pointer past it), never walked into a stack overflow; JSON embedded in a string that nests
 * deeper than that (counted from the string) is sealed whole, since no detector read all of it.
 */
import { MAX_JSON_DEPTH } from '../envelope/canonical.js';
import { ValidationError } from '../errors.js';
import { optionsOf } from '../guards.js';
import { formatPointer, type JsonPointer, matchesPointerPattern, outermostPointers } from './pointer.js';

export const DETECTOR_KINDS = [
  'k8s-secret',
  'env',
  'credential-key',
  'key-value',
  'pem',
  'jwt',
  'github-token',
  'aws-key',
  'slack-token',
  'bearer',
  'url-credentials',
  'embedded-json',
  'policy',
] as const;
export type DetectorKind = (typeof DETECTOR_KINDS)[number];

export interface DetectionPolicy {
  /** Detectors to run (default: all). `policy` always runs when `paths` is non-empty. */
  readonly detectors?: readonly DetectorKind[];
  /** Extra pointers (or `*` / `**` patterns) whose values are always sealed. */
  readonly paths?: readonly JsonPointer[];
  /** Pointers (or patterns) never sealed by the built-in detectors (policy paths still apply). */
  readonly ignore?: readonly JsonPointer[];
  /** Extra key words that name a credential (lower case, matched against whole key words). */
  readonly extraKeyWords?: readonly string[];
}

export interface Detection {
  readonly path: JsonPointer;
  readonly kind: DetectorKind;
}

/** Values already replaced by a sealed-field marker are skipped. */
export const SEALED_MARKER = '$sealed';

/**
 * How deep a payload may nest: a value at a pointer of more segments than this is refused. It is
 * the canonical-JSON bound (`MAX_JSON_DEPTH`, 64): sealing canonicalizes the payload, and the
 * gateway's intake takes only envelopes that canonicalize, so nothing deeper could be sealed or
 * signed anyway.
 */
export const MAX_PAYLOAD_DEPTH = MAX_JSON_DEPTH;

/** Thrown by the walks at a value nested past {@link MAX_PAYLOAD_DEPTH}, with its pointer's segments. */
class TooDeep {
  constructor(readonly segs: readonly (string | number)[]) {}
}

/** The error for a payload nested past {@link MAX_PAYLOAD_DEPTH}, naming where. */
export function tooDeepError(pointer: JsonPointer): ValidationError {
  return new ValidationError(
    'INVALID_ARGUMENT',
    `${pointer}: the payload nests deeper than ${MAX_PAYLOAD_DEPTH} levels (JSON a signature can cover)`,
    [pointer],
  );
}

/** Run `walk`, turning its {@link TooDeep} into the {@link tooDeepError} naming the pointer. */
function boundedWalk<T>(walk: () => T): T {
  try {
    return walk();
  } catch (e) {
    if (e instanceof TooDeep) throw tooDeepError(formatPointer(e.segs));
    throw e;
  }
}

// ---- key names ----

const SECRET_WORDS = new Set([
  'password',
  'passwd',
  'pwd',
  'passphrase',
  'passcode',
  'secret',
  'secrets',
  'token',
  'credential',
  'credentials',
  'authorization',
  'auth',
  'cookie',
  'apikey',
  'privatekey',
  'pin',
  'otp',
]);
const SECRET_PAIRS = new Set([
  'api key',
  'private key',
  'access key',
  'secret key',
  'signing key',
  'master key',
]);
/** A key ending in one of these refers to a secret rather than holding one. */
const REFERENCE_SUFFIXES = new Set([
  'name',
  'names',
  'ref',
  'refs',
  'namespace',
  'path',
  'paths',
  'file',
  'files',
  'type',
  'kind',
  'id',
  'ids',
  'length',
  'ttl',
  'expiry',
  'expires',
  'expiration',
  'at',
  'seconds',
  'count',
  'enabled',
  'required',
  'url',
  'uri',
  'endpoint',
  'version',
  'mount',
  'provider',
  'policy',
  'format',
  'mode',
  'source',
  'selector',
  'template',
  'algorithm',
  'issuer',
  'audience',
  'scope',
  'scopes',
  'store',
]);

/** Splits `clientSecret`, `DB_PASSWORD`, `x-api-key`, `aws.secretAccessKey` into lower-case words. */
function keyWords(key: string): string[] {
  return key
    .replace(/([a-z0-9])([A-Z])/g, '$1 $2')
    .replace(/([A-Z]+)([A-Z][a-z])/g, '$1 $2')
    .toLowerCase()
    .split(/[^a-z0-9]+/)
    .filter(Boolean);
}

/** Words under which a number is a secret too (elsewhere a number is a count, a size, a port). */
const NUMERIC_SECRET_WORDS = new Set(['password', 'passwd', 'pwd', 'passcode', 'pin', 'otp', 'secret']);

function makeKeyTest(extra: readonly string[]): (key: string, value?: unknown) => boolean {
  const words = new Set([...SECRET_WORDS, ...extra.map((w) => w.toLowerCase())]);
  const numeric = new Set([...NUMERIC_SECRET_WORDS, ...extra.map((w) => w.toLowerCase())]);
  return (key: string, value?: unknown) => {
    const w = keyWords(key);
    if (w.length === 0 || REFERENCE_SUFFIXES.has(w[w.length - 1]!)) return false;
    if (typeof value === 'number') return w.some((x) => numeric.has(x));
    if (w.some((x) => words.has(x))) return true;
    for (let i = 0; i + 1 < w.length; i++) if (SECRET_PAIRS.has(`${w[i]} ${w[i + 1]}`)) return true;
    return false;
  };
}

// ---- value patterns ----

const PEM = /-----BEGIN ([A-Z0-9 ]+)-----/g;
const PUBLIC_PEM = new Set([
  'CERTIFICATE',
  'TRUSTED CERTIFICATE',
  'CERTIFICATE REQUEST',
  'NEW CERTIFICATE REQUEST',
  'PUBLIC KEY',
  'RSA PUBLIC KEY',
  'X509 CRL',
  'PGP PUBLIC KEY BLOCK',
  'PGP SIGNATURE',
  'SSH2 PUBLIC KEY',
]);
const PATTERNS: readonly [DetectorKind, RegExp][] = [
  ['jwt', /\beyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]*/],
  ['github-token', /\bgh[pousr]_[A-Za-z0-9]{30,}|\bgithub_pat_[A-Za-z0-9_]{20,}/],
  ['aws-key', /\b(?:AKIA|ASIA|AGPA|AIDA|AROA|ANPA|ANVA|AIPA)[A-Z0-9]{16}\b/],
  [
    'slack-token',
    /\bxox[abposre]-[A-Za-z0-9-]{10,}|hooks\.slack\.com\/(?:services|workflows)\/[A-Za-z0-9/_-]+/,
  ],
  ['bearer', /\b(?:Bearer|Basic|Token)\s+[A-Za-z0-9._~+/=-]{8,}/i],
  ['url-credentials', /\b[a-z][a-z0-9+.-]*:\/\/[^\s:@/?#]+:[^\s@/?#]+@/i],
];
/** `KEY=value`, `--key=value`, `key: value`, `"key": "value"` inside a string. */
const KEY_VALUE =
  /(?:^|[\s,;&?{([]|--)(["']?)([A-Za-z_][A-Za-z0-9_.-]{0,63})\1\s*(=|:)(\s*)("[^"]+"|'[^']+'|[^\s,;&"'}\])]+)/g;
/**
 * A value that stands in for a secret rather than being one, optionally quoted: `***`, a run of
 * `x` or of `X` (one case: `XxXx` is no placeholder), `<...>`, `${VAR}`, `$(...)`, `$VAR`, and the
 * words redacted, null, none, true, false in any case (docs/sealing.md lists them).
 */
const PLACEHOLDER =
  /^(?:["']?(?:\*+|x+|X+|<[^>]*>|\$\{[^}]*\}|\$\([^)]*\)|\$[A-Za-z_][A-Za-z0-9_]*|[Rr][Ee][Dd][Aa][Cc][Tt][Ee][Dd]|[Nn][Uu][Ll][Ll]|[Nn][Oo][Nn][Ee]|[Tt][Rr][Uu][Ee]|[Ff][Aa][Ll][Ss][Ee])["']?)$/;

function pemIsSecret(s: string): boolean {
  for (const m of s.matchAll(PEM)) if (!PUBLIC_PEM.has(m[1]!.trim())) return true;
  return false;
}

function stringKind(
  s: string,
  on: (k: DetectorKind) => boolean,
  secretKey: (k: string) => boolean,
  nested: (doc: unknown) => boolean,
): DetectorKind | undefined {
  if (on('pem') && s.includes('-----BEGIN ') && pemIsSecret(s)) return 'pem';
  for (const [kind, re] of PATTERNS) if (on(kind) && re.test(s)) return kind;
  if (on('key-value')) {
    for (const m of s.matchAll(KEY_VALUE)) {
      const [, quote, key, sep, space, value] = m as unknown as [
        string,
        string,
        string,
        string,
        string,
        string,
      ];
      // `key:value` without a space or quotes is an image tag, a port or a time, not a pair.
      if (sep === ':' && quote === '' && space === '') continue;
      if (secretKey(key) && !PLACEHOLDER.test(value)) return 'key-value';
    }
  }
  if (on('embedded-json')) {
    const t = s.trim();
    if ((t.startsWith('{') && t.endsWith('}')) || (t.startsWith('[') && t.endsWith(']'))) {
      let doc: unknown;
      try {
        doc = JSON.parse(t);
      } catch {
        doc = undefined;
      }
      if (doc !== undefined && nested(doc)) return 'embedded-json';
    }
  }
  return undefined;
}

const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);
const isSealedMarker = (v: unknown) =>
  isObject(v) && Object.keys(v).length === 1 && typeof v[SEALED_MARKER] === 'string';
const LAST_APPLIED = 'kubectl.kubernetes.io/last-applied-configuration';

/** A policy's shape: an object whose lists, where given, are arrays of strings. */
function checkPolicy(policy: DetectionPolicy): void {
  optionsOf(policy, 'policy');
  for (const k of ['detectors', 'paths', 'ignore', 'extraKeyWords'] as const) {
    const list: unknown = policy[k];
    if (list === undefined) continue;
    if (!Array.isArray(list) || list.some((x) => typeof x !== 'string')) {
      throw new ValidationError('INVALID_ARGUMENT', `policy.${k}: expected an array of strings`, [
        `policy.${k}`,
      ]);
    }
  }
}

/** Every sensitive value in `payload`, outermost first, with the detector that found it. */
export function detectSensitive(payload: unknown, policy: DetectionPolicy = {}): Detection[] {
  checkPolicy(policy);
  const enabled = new Set<DetectorKind>(policy.detectors ?? DETECTOR_KINDS);
  const on = (k: DetectorKind) => enabled.has(k);
  const secretKey = makeKeyTest(policy.extraKeyWords ?? []);
  const ignore = policy.ignore ?? [];
  const found = new Map<JsonPointer, DetectorKind>();

  const walk = (node: unknown, segs: (string | number)[], add: (p: JsonPointer, k: DetectorKind) => void) => {
    if (segs.length > MAX_PAYLOAD_DEPTH) throw new TooDeep(segs);
    const here = () => formatPointer(segs);
    if (typeof node === 'string') {
      const kind = stringKind(node, on, secretKey, (doc) => {
        let hit = false;
        try {
          walk(doc, [], () => {
            hit = true;
          });
        } catch (e) {
          // Deeper than the detectors read: what it hides is unknown, so the string is sealed.
          if (e instanceof TooDeep) return true;
          throw e;
        }
        return hit;
      });
      if (kind) add(here(), kind);
      return;
    }
    if (Array.isArray(node)) {
      node.forEach((x, i) => {
        walk(x, [...segs, i], add);
      });
      return;
    }
    if (!isObject(node) || isSealedMarker(node)) return;
    const isSecret = node.kind === 'Secret' && on('k8s-secret');
    // `{name, value}` pairs (Helm/Argo CD parameters, HTTP headers): the name is the key.
    const namedValue =
      on('credential-key') &&
      typeof node.name === 'string' &&
      (typeof node.value === 'string' || typeof node.value === 'number') &&
      node.value !== '' &&
      secretKey(node.name, node.value) &&
      !(typeof node.value === 'string' && PLACEHOLDER.test(node.value));
    for (const [key, value] of Object.entries(node)) {
      const at = [...segs, key];
      if (namedValue && key === 'value') {
        add(formatPointer(at), 'credential-key');
        continue;
      }
      if (isSecret && (key === 'data' || key === 'stringData') && isObject(value)) {
        for (const [k, v] of Object.entries(value))
          if (!isSealedMarker(v)) add(formatPointer([...at, k]), 'k8s-secret');
        continue;
      }
      if (isSecret && key === 'metadata' && isObject(value) && isObject(value.annotations)) {
        if (typeof value.annotations[LAST_APPLIED] === 'string')
          add(formatPointer([...at, 'annotations', LAST_APPLIED]), 'k8s-secret');
      }
      if (key === 'env' && Array.isArray(value) && on('env')) {
        value.forEach((item, i) => {
          const isVar = isObject(item) && typeof item.name === 'string' && 'value' in item;
          if (isVar && item.value !== '' && !isSealedMarker(item.value))
            add(formatPointer([...at, i, 'value']), 'env');
          else if (!isVar) walk(item, [...at, i], add);
        });
        continue;
      }
      if (
        on('credential-key') &&
        (typeof value === 'string' || typeof value === 'number') &&
        value !== '' &&
        secretKey(key, value) &&
        !(typeof value === 'string' && PLACEHOLDER.test(value))
      ) {
        add(formatPointer(at), 'credential-key');
        continue;
      }
      walk(value, at, add);
    }
  };

  boundedWalk(() =>
    walk(payload, [], (path, kind) => {
      if (ignore.some((p) => matchesPointerPattern(p, path))) return;
      if (!found.has(path)) found.set(path, kind);
    }),
  );
  if (policy.paths?.length) {
    for (const path of boundedWalk(() => allPointers(payload)))
      if (policy.paths.some((p) => matchesPointerPattern(p, path))) found.set(path, 'policy');
  }
  return outermostPointers(found.keys()).map((path) => ({ path, kind: found.get(path)! }));
}

/** The pointers to seal in `payload` (outermost only, sorted). */
export function detectSensitivePaths(payload: unknown, policy: DetectionPolicy = {}): JsonPointer[] {
  return detectSensitive(payload, policy).map((d) => d.path);
}

function allPointers(doc: unknown): JsonPointer[] {
  const out: JsonPointer[] = [];
  const go = (node: unknown, segs: (string | number)[]) => {
    if (segs.length > MAX_PAYLOAD_DEPTH) throw new TooDeep(segs);
    if (segs.length) out.push(formatPointer(segs));
    if (Array.isArray(node))
      node.forEach((x, i) => {
        go(x, [...segs, i]);
      });
    else if (isObject(node) && !isSealedMarker(node))
      for (const [k, v] of Object.entries(node)) go(v, [...segs, k]);
  };
  go(doc, []);
  return out;
}
