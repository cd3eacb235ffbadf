/**
 * Party configuration. `parsePartyArgs(argv, env)` is pure: it reads flags and environment
 * variables (flag beats env), `resolvePartyConfig(file, args)` merges a config file's JSON under
 * them and applies defaults, and both return every problem at once. Nothing else reads
 * `process.env`.
 */
import { isAbsolute, join, resolve } from 'node:path';
import { ValidationError } from '@aaps/mpc-core';
import { missingValue, splitFlag } from './flag-arg.js';
import type { LogLevel } from './logger.js';

/** A C2SP checkpoint's first line, as a party's `log_origin`: printable ASCII, no newline, 1 to 256 characters. */
export function isLogOrigin(origin: string): boolean {
  return /^[\x21-\x7e][\x20-\x7e]{0,255}$/.test(origin);
}

export interface PartyConfig {
  id: string;
  host: string;
  port: number;
  dataDir: string;
  rosterPath: string;
  policyPath?: string;
  identityKeyPath: string;
  dataKeyPath: string;
  /** At-rest key given as hex in the environment instead of a file. */
  dataKeyHex?: string;
  timestampWindowSec: number;
  maxBodyBytes: number;
  /** How long an unused nonce is kept after its commitment left; then it expires. */
  nonceTtlSec: number;
  /**
   * Whether a coordinator may replace the key this party holds (a DKG or a repair with `replace:
   * true`). Off by default: the operator turns it on for one planned re-key, then off again, so a
   * compromised gateway cannot swap the group key on its own.
   */
  allowKeyReplace: boolean;
  /**
   * Expire every stored nonce when the party starts, before it serves: for hosts whose disks are
   * snapshotted or restored from file-level copies, where a restored store would hold nonces it
   * already signed with. Off by default: a nonce then survives a crash and still signs once.
   */
  dropNoncesAtStart: boolean;
  /**
   * The transparency log origin this party signs checkpoints for; any other is refused
   * (`checkpoint.origin`). Unset: any origin (each trusted on first use).
   */
  logOrigin?: string;
  logLevel: LogLevel;
}

export const PARTY_DEFAULTS = {
  host: '127.0.0.1',
  port: 7100,
  timestampWindowSec: 300,
  maxBodyBytes: 1024 * 1024,
  nonceTtlSec: 86_400,
  allowKeyReplace: false,
  dropNoncesAtStart: false,
  logLevel: 'info' as LogLevel,
};

/** The longest time to live for an unused nonce (30 days). */
export const MAX_NONCE_TTL_SEC = 30 * 86_400;

/** flag name -> [env var, config-file key] */
const OPTIONS = {
  config: ['AAPS_PARTY_CONFIG', undefined],
  id: ['AAPS_PARTY_ID', 'id'],
  host: ['AAPS_PARTY_HOST', 'host'],
  port: ['AAPS_PARTY_PORT', 'port'],
  'data-dir': ['AAPS_PARTY_DATA_DIR', 'data_dir'],
  roster: ['AAPS_PARTY_ROSTER', 'roster'],
  policy: ['AAPS_PARTY_POLICY', 'policy'],
  'identity-key': ['AAPS_PARTY_IDENTITY_KEY_FILE', 'identity_key_file'],
  'data-key-file': ['AAPS_PARTY_DATA_KEY_FILE', 'data_key_file'],
  'timestamp-window': ['AAPS_PARTY_TIMESTAMP_WINDOW_SEC', 'timestamp_window_sec'],
  'max-body-bytes': ['AAPS_PARTY_MAX_BODY_BYTES', 'max_body_bytes'],
  'nonce-ttl': ['AAPS_PARTY_NONCE_TTL_SEC', 'nonce_ttl_sec'],
  'allow-key-replace': ['AAPS_PARTY_ALLOW_KEY_REPLACE', 'allow_key_replace'],
  'drop-nonces-at-start': ['AAPS_PARTY_DROP_NONCES_AT_START', 'drop_nonces_at_start'],
  'log-origin': ['AAPS_PARTY_LOG_ORIGIN', 'log_origin'],
  'log-level': ['AAPS_PARTY_LOG_LEVEL', 'log_level'],
} as const;
type Option = keyof typeof OPTIONS;

/** What each flag sets, one line each, for `aaps party --help` (docs/api.md has the full table). */
const HELP: Record<Option, string> = {
  config: 'the JSON config file (its keys: the flags in snake case)',
  id: "this party's id in the roster (required)",
  host: `listen address (default ${PARTY_DEFAULTS.host})`,
  port: `listen port (default ${PARTY_DEFAULTS.port})`,
  'data-dir': 'its LevelDB and keys (required)',
  roster: 'the roster file (required)',
  policy: "this department's policy file (default: the role's default policy)",
  'identity-key': 'its Ed25519 identity key (default <data-dir>/identity.key)',
  'data-key-file': 'the at-rest key (default <data-dir>/data.key; or AAPS_PARTY_DATA_KEY as hex)',
  'timestamp-window': `seconds a request's timestamp may be off (default ${PARTY_DEFAULTS.timestampWindowSec})`,
  'max-body-bytes': `request body limit (default ${PARTY_DEFAULTS.maxBodyBytes})`,
  'nonce-ttl': `seconds an unused signing nonce is kept (default ${PARTY_DEFAULTS.nonceTtlSec})`,
  'allow-key-replace': 'true: the coordinator may replace the key this party holds (default false)',
  'drop-nonces-at-start': 'true: expire every stored nonce at start (default false)',
  'log-origin': 'the transparency log origin it signs checkpoints for (default: the first it is shown)',
  'log-level': `debug, info, warn or error (default ${PARTY_DEFAULTS.logLevel})`,
};

/** The party node's flags, each with its environment variable and what it sets: one line each. */
export function partyFlagsHelp(): string {
  return (Object.entries(OPTIONS) as [Option, readonly [string, string | undefined]][])
    .map(([opt, [envName]]) => `  --${opt.padEnd(21)} ${envName.padEnd(32)} ${HELP[opt]}`)
    .join('\n');
}

export type PartyArgs = Partial<Record<Option, string>> & { dataKeyHex?: string };

export function parsePartyArgs(
  argv: readonly string[],
  env: Readonly<Record<string, string | undefined>>,
): PartyArgs {
  const out: PartyArgs = {};
  const problems: string[] = [];
  for (const [opt, [envName]] of Object.entries(OPTIONS) as [
    Option,
    readonly [string, string | undefined],
  ][]) {
    const v = env[envName];
    if (v !== undefined && v !== '') out[opt] = v;
  }
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const flag = splitFlag(a);
    if (flag === undefined) {
      problems.push(`unexpected argument ${JSON.stringify(a)}`);
      continue;
    }
    const { name, inline } = flag;
    if (!(name in OPTIONS)) {
      problems.push(`unknown flag --${name}`);
      continue;
    }
    if (inline === undefined && missingValue(argv[i + 1])) {
      problems.push(`--${name} needs a value`);
      continue;
    }
    out[name as Option] = inline ?? argv[++i]!;
  }
  if (env.AAPS_PARTY_DATA_KEY) out.dataKeyHex = env.AAPS_PARTY_DATA_KEY;
  if (problems.length) throw new ValidationError('INVALID_ARGUMENT', problems.join('; '), problems);
  return out;
}

const LEVELS: readonly LogLevel[] = ['debug', 'info', 'warn', 'error'];

/** Merge a config file (may be undefined) under the parsed args; validate; apply defaults. */
export function resolvePartyConfig(file: unknown, args: PartyArgs, baseDir = process.cwd()): PartyConfig {
  const problems: [string, string][] = [];
  const f = (file ?? {}) as Record<string, unknown>;
  if (file !== undefined && (typeof file !== 'object' || file === null || Array.isArray(file))) {
    throw new ValidationError('INVALID_ARGUMENT', 'config file: expected a JSON object', ['config']);
  }
  const known = new Set(
    Object.values(OPTIONS)
      .map(([, k]) => k)
      .filter(Boolean) as string[],
  );
  for (const k of Object.keys(f)) if (!known.has(k)) problems.push([`config.${k}`, 'unknown setting']);
  const pick = (opt: Option): string | undefined => {
    if (args[opt] !== undefined) return args[opt];
    const key = OPTIONS[opt][1];
    const v = key ? f[key] : undefined;
    return v === undefined || v === null ? undefined : String(v);
  };
  const int = (opt: Option, dflt: number, min: number, max: number): number => {
    const v = pick(opt);
    if (v === undefined) return dflt;
    const n = Number(v);
    if (!Number.isInteger(n) || n < min || n > max) {
      problems.push([opt, `expected an integer in [${min}, ${max}], got ${JSON.stringify(v)}`]);
      return dflt;
    }
    return n;
  };
  const bool = (opt: Option, dflt: boolean): boolean => {
    const v = pick(opt);
    if (v === undefined) return dflt;
    if (v === 'true') return true;
    if (v === 'false') return false;
    problems.push([opt, `expected true or false, got ${JSON.stringify(v)}`]);
    return dflt;
  };
  // A relative path from a flag or the environment is the caller's: it resolves against the
  // current directory; one from the config file resolves against the file's directory.
  const pathOf = (opt: Option, value: string) =>
    isAbsolute(value) ? value : resolve(args[opt] !== undefined ? process.cwd() : baseDir, value);
  const pickPath = (opt: Option): string | undefined => {
    const v = pick(opt);
    return v === undefined ? undefined : pathOf(opt, v);
  };
  const id = pick('id');
  if (!id || !/^[a-z][a-z0-9-]{0,62}$/.test(id))
    problems.push(['id', 'required: a lower-case party id from the roster']);
  const dataDir = pickPath('data-dir');
  if (!dataDir) problems.push(['data-dir', 'required']);
  const roster = pickPath('roster');
  if (!roster) problems.push(['roster', 'required: the roster file']);
  const logLevel = (pick('log-level') ?? PARTY_DEFAULTS.logLevel) as LogLevel;
  if (!LEVELS.includes(logLevel)) problems.push(['log-level', `expected one of ${LEVELS.join(', ')}`]);
  const cfg: PartyConfig = {
    id: id ?? '',
    host: pick('host') ?? PARTY_DEFAULTS.host,
    port: int('port', PARTY_DEFAULTS.port, 0, 65535),
    dataDir: dataDir ?? '',
    rosterPath: roster ?? '',
    identityKeyPath: pickPath('identity-key') ?? join(dataDir ?? resolve(baseDir), 'identity.key'),
    dataKeyPath: pickPath('data-key-file') ?? join(dataDir ?? resolve(baseDir), 'data.key'),
    timestampWindowSec: int('timestamp-window', PARTY_DEFAULTS.timestampWindowSec, 1, 86_400),
    maxBodyBytes: int('max-body-bytes', PARTY_DEFAULTS.maxBodyBytes, 1024, 64 * 1024 * 1024),
    nonceTtlSec: int('nonce-ttl', PARTY_DEFAULTS.nonceTtlSec, 1, MAX_NONCE_TTL_SEC),
    allowKeyReplace: bool('allow-key-replace', PARTY_DEFAULTS.allowKeyReplace),
    dropNoncesAtStart: bool('drop-nonces-at-start', PARTY_DEFAULTS.dropNoncesAtStart),
    logLevel,
  };
  const policy = pickPath('policy');
  if (policy) cfg.policyPath = policy;
  const logOrigin = pick('log-origin');
  if (logOrigin !== undefined) {
    if (!isLogOrigin(logOrigin))
      problems.push([
        'log-origin',
        'expected a checkpoint origin line (printable ASCII, 1 to 256 characters)',
      ]);
    else cfg.logOrigin = logOrigin;
  }
  if (args.dataKeyHex !== undefined) {
    if (!/^[0-9a-f]{64}$/.test(args.dataKeyHex))
      problems.push(['AAPS_PARTY_DATA_KEY', 'expected 32-byte lower-case hex']);
    else cfg.dataKeyHex = args.dataKeyHex;
  }
  if (problems.length) {
    throw new ValidationError(
      'INVALID_ARGUMENT',
      `bad party config: ${problems.map(([p, w]) => `${p}: ${w}`).join('; ')}`,
      problems.map(([p]) => p),
    );
  }
  return cfg;
}
