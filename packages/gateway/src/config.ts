/**
 * Gateway configuration. `parseGatewayConfig(argv, env, file?)` is pure: every setting has a flag
 * and an environment variable (and a key in the optional `--config` JSON file); a flag beats the
 * environment, which beats the file, which beats the defaults. It returns the typed config or every
 * problem at once. Nothing else in the gateway reads `process.env`.
 */
import { isAbsolute, join } from 'node:path';
import {
  ENVIRONMENTS,
  type Environment,
  isNamespaceName,
  missingValue,
  smallestMajority,
  splitFlag,
} from '@aaps/agents';
import {
  CIPHERSUITE_IDS,
  type CiphersuiteId,
  DETECTOR_KINDS,
  type DetectionPolicy,
  type DetectorKind,
} from '@aaps/mpc-core';
import { INTAKE_SOURCES, type IntakeSource } from './intake/types.js';
import { DEFAULT_MAX_EVENT_STREAMS, DEFAULT_MAX_EVENT_STREAMS_PER_TOKEN } from './routes/stream-slots.js';
import { MAX_APPROVAL_VALIDITY_SECONDS } from './workflow/approval-window.js';
import { DEFAULT_MAX_RUNS } from './workflow/runner.js';

export const EXECUTORS = ['dry-run', 'gitops'] as const;
export type ExecutorName = (typeof EXECUTORS)[number];
export const LOG_LEVELS = ['debug', 'info', 'warn', 'error'] as const;

export interface GatewayConfig {
  /** The `--config` file the CLI read (already merged in). */
  configFile?: string;
  host: string;
  port: number;
  dataDir: string;
  apiToken?: string;
  /** JSON list of `{name, token, scopes}`: more bearer tokens, with limited scopes. */
  tokensFile?: string;
  githubWebhookSecret?: string;
  maxBodyBytes: number;
  cluster: string;
  logOrigin: string;
  executor: ExecutorName;
  gitopsRepoDir?: string;
  gitopsRepoUrl?: string;
  gitopsRemote?: string;
  gitopsBranch: string;
  environment: Environment;
  parties: number;
  threshold: number;
  ciphersuite: CiphersuiteId;
  /** All parties in this process (no party processes, no DKG). */
  local: boolean;
  /** Roster file (`aaps gateway`); default `<data-dir>/roster.json`. */
  roster?: string;
  /** Gateway identity key file; default `<data-dir>/gateway/identity.key`. */
  gatewayKey?: string;
  /** Human approver ids `aaps up` makes keys for. */
  approvers: string[];
  /** Gateway URL `aaps submit` posts to. */
  url: string;
  /** What `aaps submit` posts. */
  source?: IntakeSource;
  /** Approver id `aaps approve` signs as (default: the first of `approvers`). */
  approver?: string;
  approverKey?: string;
  /** Seconds an approval made by `aaps approve` stays valid. */
  validFor: number;
  logLevel: (typeof LOG_LEVELS)[number];
  /** Seal sensitive values at intake (docs/sealing.md). */
  sealing: boolean;
  /** Pool the departments' private risk scores before strategy (docs/aggregation.md). */
  poolRisk: boolean;
  /** Seconds a step whose party is unreachable is tried again before the incident fails. */
  stepRetrySeconds: number;
  recurrenceWindowSeconds: number;
  /**
   * The longest human approval the gateway takes (seconds from `approved_at` to `expires_at`):
   * the parties' policies' `human_approval.max_validity_seconds`, when they allow longer than the
   * default. Optional: the parties' default (86400) when absent.
   */
  approvalMaxValiditySeconds?: number;
  maxRuns: number;
  /** Event streams (`GET /v1/incidents/{id}/events`) open at once, in all. */
  maxEventStreams: number;
  /** Event streams open at once under one token. */
  maxEventStreamsPerToken: number;
  /** Open connections in all (default: from the file-descriptor limit, http-connections.ts). */
  maxConnections?: number;
  /** Open connections from one remote address (default: a quarter of `maxConnections`). */
  maxConnectionsPerAddress?: number;
  /** `aaps up`: a directory of party policy files, `<party id>.json` or `<role>.json`. */
  partyPolicyDir?: string;
  /** Detector kinds to run (default: all). */
  sealDetectors?: string[];
  /** JSON pointer patterns always sealed (e.g. `/payload/metadata/patient/**`). */
  sealPaths?: string[];
  /** JSON pointer patterns the built-in detectors leave alone. */
  sealIgnore?: string[];
  /** More credential words for the key-name detectors (e.g. `ssn`, `iban`). */
  sealKeyWords?: string[];
  /** More namespaces whose alerts are a controller's, set aside like `kube-system`'s (intake/namespace.ts). */
  controllerNamespaces?: string[];
}

type Kind =
  | { type: 'string'; min?: number }
  | { type: 'int'; min: number; max: number }
  | { type: 'bool' }
  | { type: 'enum'; values: readonly string[] }
  | { type: 'list' }
  /** Comma-separated Kubernetes namespace names (DNS-1123 labels). */
  | { type: 'namespaces' }
  | { type: 'pointers' }
  | { type: 'url' };

interface Setting {
  key: keyof GatewayConfig;
  flag: string;
  env: string;
  kind: Kind;
  help: string;
  /** A file or directory: a relative one given in the `--config` file is relative to that file. */
  path?: true;
}

/** Every setting: its flag, environment variable and file key (the flag without `--`). */
export const SETTINGS: readonly Setting[] = [
  {
    key: 'configFile',
    flag: 'config',
    env: 'AAPS_CONFIG',
    kind: { type: 'string', min: 1 },
    help: 'JSON file with any of these settings',
  },
  { key: 'host', flag: 'host', env: 'AAPS_HOST', kind: { type: 'string', min: 1 }, help: 'listen address' },
  {
    key: 'port',
    flag: 'port',
    env: 'AAPS_PORT',
    kind: { type: 'int', min: 0, max: 65535 },
    help: 'gateway port',
  },
  {
    key: 'dataDir',
    flag: 'data-dir',
    env: 'AAPS_DATA_DIR',
    kind: { type: 'string', min: 1 },
    help: 'where keys, roster and LevelDB live',
    path: true,
  },
  {
    key: 'apiToken',
    flag: 'api-token',
    env: 'AAPS_API_TOKEN',
    kind: { type: 'string', min: 16 },
    help: 'admin bearer token (generated and stored 0600 when unset)',
  },
  {
    key: 'tokensFile',
    flag: 'tokens-file',
    env: 'AAPS_TOKENS_FILE',
    kind: { type: 'string', min: 1 },
    help: 'JSON list of {name, token, scopes}: bearer tokens with limited scopes (submit, approve, read, admin)',
    path: true,
  },
  {
    key: 'githubWebhookSecret',
    flag: 'github-webhook-secret',
    env: 'AAPS_GITHUB_WEBHOOK_SECRET',
    kind: { type: 'string', min: 1 },
    help: 'GitHub webhook secret (unset: GitHub webhooks get 503)',
  },
  {
    key: 'maxBodyBytes',
    flag: 'max-body-bytes',
    env: 'AAPS_MAX_BODY_BYTES',
    kind: { type: 'int', min: 1024, max: 64 * 1024 * 1024 },
    help: 'request body limit',
  },
  {
    key: 'cluster',
    flag: 'cluster',
    env: 'AAPS_CLUSTER',
    kind: { type: 'string', min: 1 },
    help: 'cluster name for payloads that name none',
  },
  {
    key: 'logOrigin',
    flag: 'log-origin',
    env: 'AAPS_LOG_ORIGIN',
    kind: { type: 'string', min: 1 },
    help: 'transparency log origin line',
  },
  {
    key: 'executor',
    flag: 'executor',
    env: 'AAPS_EXECUTOR',
    kind: { type: 'enum', values: EXECUTORS },
    help: 'dry-run or gitops',
  },
  {
    key: 'gitopsRepoDir',
    flag: 'gitops-repo-dir',
    env: 'AAPS_GITOPS_REPO_DIR',
    kind: { type: 'string', min: 1 },
    help: 'git working copy the gitops executor commits to',
    path: true,
  },
  {
    key: 'gitopsRepoUrl',
    flag: 'gitops-repo-url',
    env: 'AAPS_GITOPS_REPO_URL',
    kind: { type: 'string', min: 1 },
    help: 'the GitOps repository URL (source of truth for ConfigMaps/Secrets)',
  },
  {
    key: 'gitopsRemote',
    flag: 'gitops-remote',
    env: 'AAPS_GITOPS_REMOTE',
    kind: { type: 'string', min: 1 },
    help: 'push commits to this remote',
  },
  {
    key: 'gitopsBranch',
    flag: 'gitops-branch',
    env: 'AAPS_GITOPS_BRANCH',
    kind: { type: 'string', min: 1 },
    help: 'branch to push',
  },
  {
    key: 'environment',
    flag: 'environment',
    env: 'AAPS_ENVIRONMENT',
    kind: { type: 'enum', values: ENVIRONMENTS },
    help: 'where targets run (risk score)',
  },
  {
    key: 'parties',
    flag: 'parties',
    env: 'AAPS_PARTIES',
    kind: { type: 'int', min: 5, max: 5 },
    help: 'one party per agent role: monitoring, problem-solver, strategy, quality-assurance, audit',
  },
  {
    key: 'threshold',
    flag: 'threshold',
    env: 'AAPS_THRESHOLD',
    kind: { type: 'int', min: 2, max: 5 },
    help: 'signatures needed (k of n)',
  },
  {
    key: 'ciphersuite',
    flag: 'ciphersuite',
    env: 'AAPS_CIPHERSUITE',
    kind: { type: 'enum', values: CIPHERSUITE_IDS },
    help: 'FROST ciphersuite',
  },
  {
    key: 'local',
    flag: 'local',
    env: 'AAPS_LOCAL',
    kind: { type: 'bool' },
    help: 'run every party inside the gateway (demo)',
  },
  {
    key: 'roster',
    flag: 'roster',
    env: 'AAPS_ROSTER',
    kind: { type: 'string', min: 1 },
    help: 'roster file',
    path: true,
  },
  {
    key: 'gatewayKey',
    flag: 'gateway-key',
    env: 'AAPS_GATEWAY_KEY_FILE',
    kind: { type: 'string', min: 1 },
    help: 'gateway identity key file',
    path: true,
  },
  {
    key: 'approvers',
    flag: 'approvers',
    env: 'AAPS_APPROVERS',
    kind: { type: 'list' },
    help: 'comma-separated human approver ids',
  },
  {
    key: 'url',
    flag: 'url',
    env: 'AAPS_URL',
    kind: { type: 'url' },
    help: 'gateway URL for the client commands (submit, approve, unseal, keys, log audit)',
  },
  {
    key: 'source',
    flag: 'source',
    env: 'AAPS_SOURCE',
    kind: { type: 'enum', values: INTAKE_SOURCES },
    help: 'payload kind for `aaps submit`',
  },
  {
    key: 'approver',
    flag: 'approver',
    env: 'AAPS_APPROVER',
    kind: { type: 'string', min: 1 },
    help: 'approver id `aaps approve` and `aaps unseal` sign as (default: the first of --approvers)',
  },
  {
    key: 'approverKey',
    flag: 'approver-key',
    env: 'AAPS_APPROVER_KEY_FILE',
    kind: { type: 'string', min: 1 },
    help: "the approver's key file (default <data-dir>/approvers/<id>.key)",
    path: true,
  },
  {
    key: 'validFor',
    flag: 'valid-for',
    env: 'AAPS_APPROVAL_VALID_FOR',
    // No longer than the parties accept (their default `human_approval.max_validity_seconds`):
    // a longer approval would be refused by every party and end the incident rejected.
    kind: { type: 'int', min: 1, max: MAX_APPROVAL_VALIDITY_SECONDS },
    help: `seconds an approval from \`aaps approve\` stays valid (at most ${MAX_APPROVAL_VALIDITY_SECONDS})`,
  },
  {
    key: 'logLevel',
    flag: 'log-level',
    env: 'AAPS_LOG_LEVEL',
    kind: { type: 'enum', values: LOG_LEVELS },
    help: 'log level',
  },
  {
    key: 'sealing',
    flag: 'sealing',
    env: 'AAPS_SEALING',
    kind: { type: 'bool' },
    help: 'seal sensitive values at intake (default true)',
  },
  {
    key: 'partyPolicyDir',
    flag: 'party-policy-dir',
    env: 'AAPS_PARTY_POLICY_DIR',
    kind: { type: 'string', min: 1 },
    help: 'aaps up: directory of per-party policy files (<party id>.json or <role>.json)',
    path: true,
  },
  {
    key: 'stepRetrySeconds',
    flag: 'step-retry-seconds',
    env: 'AAPS_STEP_RETRY_SECONDS',
    kind: { type: 'int', min: 0, max: 3600 },
    help: 'seconds a step whose party is unreachable is tried again before the incident fails (default 30)',
  },
  {
    key: 'recurrenceWindowSeconds',
    flag: 'recurrence-window-seconds',
    env: 'AAPS_RECURRENCE_WINDOW_SECONDS',
    kind: { type: 'int', min: 0, max: 604800 },
    help: 'seconds after an executed fix in which the same failure goes to a human, not fixed again (default 3600; 0: off)',
  },
  {
    key: 'approvalMaxValiditySeconds',
    flag: 'approval-max-validity-seconds',
    env: 'AAPS_APPROVAL_MAX_VALIDITY_SECONDS',
    kind: { type: 'int', min: 1, max: 604800 },
    help: "the longest human approval the gateway takes, seconds: the departments' policies' human_approval.max_validity_seconds (default 86400)",
  },
  {
    key: 'maxRuns',
    flag: 'max-runs',
    env: 'AAPS_MAX_RUNS',
    kind: { type: 'int', min: 1, max: 100000 },
    help: `incidents driven at once; more wait their turn in arrival order (default ${DEFAULT_MAX_RUNS})`,
  },
  {
    key: 'maxEventStreams',
    flag: 'max-event-streams',
    env: 'AAPS_MAX_EVENT_STREAMS',
    kind: { type: 'int', min: 1, max: 100000 },
    help: 'event streams open at once, in all; more get 503 with Retry-After (default 1000)',
  },
  {
    key: 'maxEventStreamsPerToken',
    flag: 'max-event-streams-per-token',
    env: 'AAPS_MAX_EVENT_STREAMS_PER_TOKEN',
    kind: { type: 'int', min: 1, max: 100000 },
    help: 'event streams one token holds open at once; more get 429 with Retry-After (default 100)',
  },
  {
    key: 'maxConnections',
    flag: 'max-connections',
    env: 'AAPS_MAX_CONNECTIONS',
    kind: { type: 'int', min: 1, max: 1000000 },
    help: 'open connections in all; more are closed at accept (default: half the file-descriptor limit, at most 8192)',
  },
  {
    key: 'maxConnectionsPerAddress',
    flag: 'max-connections-per-address',
    env: 'AAPS_MAX_CONNECTIONS_PER_ADDRESS',
    kind: { type: 'int', min: 1, max: 1000000 },
    help: 'open connections from one remote address; more are closed at accept (default: a quarter of --max-connections)',
  },
  {
    key: 'poolRisk',
    flag: 'pool-risk',
    env: 'AAPS_POOL_RISK',
    kind: { type: 'bool' },
    help: "pool the parties' private risk scores (weighted-risk) before strategy (default false)",
  },
  {
    key: 'sealDetectors',
    flag: 'seal-detectors',
    env: 'AAPS_SEAL_DETECTORS',
    kind: { type: 'list' },
    help: 'detector kinds to run, comma-separated (default: all)',
  },
  {
    key: 'sealPaths',
    flag: 'seal-paths',
    env: 'AAPS_SEAL_PATHS',
    kind: { type: 'pointers' },
    help: 'JSON pointer patterns always sealed, comma-separated',
  },
  {
    key: 'sealIgnore',
    flag: 'seal-ignore',
    env: 'AAPS_SEAL_IGNORE',
    kind: { type: 'pointers' },
    help: 'JSON pointer patterns the built-in detectors skip',
  },
  {
    key: 'sealKeyWords',
    flag: 'seal-key-words',
    env: 'AAPS_SEAL_KEY_WORDS',
    kind: { type: 'list' },
    help: 'more credential key words (e.g. ssn,iban)',
  },
  {
    key: 'controllerNamespaces',
    flag: 'controller-namespaces',
    env: 'AAPS_CONTROLLER_NAMESPACES',
    kind: { type: 'namespaces' },
    help: "more namespaces whose alerts are a controller's, not the failing workload's (e.g. tekton-pipelines)",
  },
];

export const GATEWAY_DEFAULTS = {
  host: '127.0.0.1',
  port: 8080,
  dataDir: '.aaps',
  maxBodyBytes: 1024 * 1024,
  cluster: 'default',
  logOrigin: 'aaps.local/log',
  executor: 'dry-run',
  gitopsBranch: 'main',
  environment: 'unknown',
  parties: 5,
  threshold: 3,
  ciphersuite: 'FROST-ED25519-SHA512-v1',
  local: false,
  approvers: ['oncall'],
  url: 'http://127.0.0.1:8080',
  validFor: 3600,
  logLevel: 'info',
  sealing: true,
  poolRisk: false,
  stepRetrySeconds: 30,
  recurrenceWindowSeconds: 3600,
  maxRuns: DEFAULT_MAX_RUNS,
  maxEventStreams: DEFAULT_MAX_EVENT_STREAMS,
  maxEventStreamsPerToken: DEFAULT_MAX_EVENT_STREAMS_PER_TOKEN,
} satisfies Partial<GatewayConfig>;

export type ConfigResult =
  | { ok: true; config: GatewayConfig; rest: string[] }
  | { ok: false; errors: string[] };

type Raw = string | boolean | number | string[];

const NO_LIST = 'expected a string of values separated by commas, or an array of strings';

/**
 * The values of a list setting (`list`, `namespaces`, `pointers`): a string of them separated by
 * commas (a flag, the environment, the config file) or the config file's array of strings, each
 * trimmed, empty ones dropped. `undefined` for anything else (`true`, a number, an object), which
 * is refused: read as an empty list, `"seal-detectors": true` would turn every detector off.
 */
function listItems(raw: Raw): string[] | undefined {
  const items =
    typeof raw === 'string'
      ? raw.split(',')
      : Array.isArray(raw) && raw.every((x) => typeof x === 'string')
        ? raw
        : undefined;
  return items?.map((x) => x.trim()).filter((x) => x !== '');
}

function convert(s: Setting, raw: Raw, where: string, errors: string[]): unknown {
  const k = s.kind;
  const bad = (why: string) => {
    errors.push(`${where}: ${why}`);
    return undefined;
  };
  switch (k.type) {
    case 'bool':
      if (typeof raw === 'boolean') return raw;
      if (raw === 'true' || raw === '1') return true;
      if (raw === 'false' || raw === '0') return false;
      return bad('expected true or false');
    case 'int': {
      const n =
        typeof raw === 'number'
          ? raw
          : typeof raw === 'string' && /^-?\d+$/.test(raw)
            ? Number(raw)
            : Number.NaN;
      if (!Number.isSafeInteger(n) || n < k.min || n > k.max)
        return bad(
          k.min === k.max ? `expected ${k.min} (${s.help})` : `expected an integer from ${k.min} to ${k.max}`,
        );
      return n;
    }
    case 'enum':
      if (typeof raw !== 'string' || !k.values.includes(raw))
        return bad(`expected one of ${k.values.join(', ')}`);
      return raw;
    case 'list': {
      const list = listItems(raw);
      if (list === undefined) return bad(NO_LIST);
      if (list.some((x) => !/^[a-z][a-z0-9-]{0,62}$/.test(x)))
        return bad('expected lower-case ids separated by commas');
      return list;
    }
    case 'namespaces': {
      const list = listItems(raw);
      if (list === undefined) return bad(NO_LIST);
      const wrong = list.filter((x) => !isNamespaceName(x));
      for (const ns of wrong) bad(`${JSON.stringify(ns)} is no Kubernetes namespace name`);
      return wrong.length > 0 ? undefined : list;
    }
    case 'pointers': {
      const list = listItems(raw);
      if (list === undefined) return bad(NO_LIST);
      if (list.some((x) => !/^(\/[^/\s]*)+$/.test(x)))
        return bad('expected JSON pointer patterns (/a/*/b, /a/**) separated by commas');
      return list;
    }
    case 'string':
      if (typeof raw !== 'string') return bad('expected a string');
      if (raw.length < (k.min ?? 0)) return bad(`expected at least ${k.min} characters`);
      return raw;
    case 'url': {
      if (typeof raw !== 'string') return bad('expected a string');
      const url = gatewayBaseUrl(raw);
      return url.ok ? url.url : bad(url.why);
    }
  }
}

/**
 * The gateway's base URL as the client commands join paths to it: `http(s)://host[:port][/path]`
 * with no trailing slash (`http://gw:8080/` and `http://gw:8080` are one gateway). A URL with a
 * query or fragment (nowhere to put a path) or credentials (the token goes in `--api-token`) is
 * refused; the reason never repeats the URL, which may hold a password.
 */
export function gatewayBaseUrl(raw: string): { ok: true; url: string } | { ok: false; why: string } {
  let u: URL;
  try {
    u = new URL(raw);
  } catch {
    return { ok: false, why: 'expected an http:// or https:// URL of the gateway' };
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:')
    return { ok: false, why: 'expected an http:// or https:// URL of the gateway' };
  if (u.username !== '' || u.password !== '')
    return {
      ok: false,
      why: 'a user name or password in the URL is refused (not repeated here): give the token with --api-token or AAPS_API_TOKEN',
    };
  if (u.search !== '' || u.hash !== '' || raw.includes('?') || raw.includes('#'))
    return { ok: false, why: 'expected the gateway URL without a query (?) or fragment (#)' };
  return { ok: true, url: `${u.origin}${u.pathname.replace(/\/+$/, '')}` };
}

/**
 * Parses `argv` (flags only; anything else is returned in `rest`), `env` and an optional parsed
 * config file. Returns every problem, each naming the flag, variable or file key it came from.
 */
export function parseGatewayConfig(
  argv: readonly string[],
  env: Readonly<Record<string, string | undefined>>,
  file?: unknown,
  /** The config file's directory: relative paths the file gives resolve against it. */
  fileDir?: string,
): ConfigResult {
  const errors: string[] = [];
  const rest: string[] = [];
  const fromFlags = new Map<Setting, Raw>();
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] ?? '';
    const flag = splitFlag(arg);
    if (flag === undefined) {
      rest.push(arg);
      continue;
    }
    const { name, inline } = flag;
    const s = SETTINGS.find((x) => x.flag === name);
    if (s === undefined) {
      errors.push(`--${name}: unknown flag`);
      continue;
    }
    if (s.kind.type === 'bool' && inline === undefined) {
      fromFlags.set(s, true);
      continue;
    }
    const value = inline ?? argv[++i];
    if (inline === undefined && missingValue(value)) {
      errors.push(`--${name}: needs a value`);
      continue;
    }
    fromFlags.set(s, value as string);
  }
  let fileObj: Record<string, unknown> = {};
  if (file !== undefined) {
    if (typeof file !== 'object' || file === null || Array.isArray(file))
      errors.push('config file: expected a JSON object');
    else {
      fileObj = file as Record<string, unknown>;
      for (const key of Object.keys(fileObj)) {
        if (!SETTINGS.some((s) => s.flag === key) || key === 'config')
          errors.push(`config file ${key}: unknown setting`);
      }
    }
  }
  const out: Record<string, unknown> = { ...GATEWAY_DEFAULTS, approvers: [...GATEWAY_DEFAULTS.approvers] };
  const refused = new Set<string>();
  for (const s of SETTINGS) {
    const flag = fromFlags.get(s);
    const envValue = env[s.env];
    const fileValue = fileObj[s.flag];
    let raw: Raw | undefined;
    let where = '';
    if (flag !== undefined) {
      raw = flag;
      where = `--${s.flag}`;
    } else if (envValue !== undefined && envValue !== '') {
      raw = envValue;
      where = s.env;
    } else if (fileValue !== undefined && fileValue !== null && s.flag !== 'config') {
      raw = fileValue as Raw;
      where = `config file ${s.flag}`;
      // A path in the file means the same wherever the CLI is started from (as a party's does).
      if (s.path && fileDir !== undefined && typeof raw === 'string' && raw !== '' && !isAbsolute(raw))
        raw = join(fileDir, raw);
    }
    if (raw === undefined) continue;
    const v = convert(s, raw, where, errors);
    if (v !== undefined) out[s.key] = v;
    else refused.add(s.key);
  }
  const cfg = out as unknown as GatewayConfig;
  // A threshold is judged against the party count asked for: when that was refused (it says so
  // itself), judging it against the default would name a count nobody gave.
  if (refused.has('parties')) {
    // nothing more to say of the threshold
  } else if (cfg.threshold > cfg.parties)
    errors.push(`--threshold: ${cfg.threshold} is more than the ${cfg.parties} parties`);
  else if (cfg.threshold < smallestMajority(cfg.parties))
    // Two quorums must share a party (docs/threat-model.md, "Assumptions").
    errors.push(
      `--threshold: ${cfg.threshold} of ${cfg.parties} is not a majority: two quorums must share a party (at least ${smallestMajority(cfg.parties)})`,
    );
  if (cfg.executor === 'gitops' && cfg.gitopsRepoDir === undefined) {
    errors.push('--gitops-repo-dir: required with --executor gitops');
  }
  for (const d of cfg.sealDetectors ?? [])
    if (!(DETECTOR_KINDS as readonly string[]).includes(d))
      errors.push(`--seal-detectors: ${d} is not one of ${DETECTOR_KINDS.join(', ')}`);
  if (/[\s+]/.test(cfg.logOrigin)) errors.push('--log-origin: no spaces or + allowed');
  return errors.length > 0 ? { ok: false, errors } : { ok: true, config: cfg, rest };
}

/** One line per setting, for `aaps --help`. */
export function settingsHelp(): string {
  return SETTINGS.map((s) => `  --${s.flag.padEnd(24)} ${s.env.padEnd(28)} ${s.help}`).join('\n');
}

/** The detection policy the intake seals with, or `undefined` when sealing is off. */
export function sealingPolicy(cfg: GatewayConfig): DetectionPolicy | undefined {
  if (!cfg.sealing) return undefined;
  return {
    ...(cfg.sealDetectors === undefined ? {} : { detectors: cfg.sealDetectors as DetectorKind[] }),
    ...(cfg.sealPaths === undefined ? {} : { paths: cfg.sealPaths }),
    ...(cfg.sealIgnore === undefined ? {} : { ignore: cfg.sealIgnore }),
    ...(cfg.sealKeyWords === undefined ? {} : { extraKeyWords: cfg.sealKeyWords }),
  };
}
