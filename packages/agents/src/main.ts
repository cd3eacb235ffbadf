#!/usr/bin/env node
/**
 * A party process: `node packages/agents/dist/main.js --config party.json` (or `aaps party`).
 * The only module that opens the database or listens. Bad config: one clear line, exit 2.
 *
 * Start-up order: everything that only reads (config, roster, identity key, policy, data key) is
 * checked first; then the port is bound; only then is anything written (a first start's data key,
 * the database), so a start that cannot listen leaves the disk as it found it. A failure after the
 * bind closes the port and removes what this start created.
 */
import { existsSync, readdirSync, realpathSync, rmSync, statSync } from 'node:fs';
import type { Server } from 'node:http';
import { type AddressInfo, Socket } from 'node:net';
import { constants as osConstants } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  AapsError,
  firstMessageLine,
  getCiphersuite,
  hexToBytes,
  innermostCause,
  loadFastBackends,
  SecretBytes,
  ValidationError,
  VerificationError,
} from '@aaps/mpc-core';
import { runPartyAudit } from './cli/party-audit.js';
import { runPartyBackup, runPartyRestore } from './cli/party-backup.js';
import { runPartyInit } from './cli/party-init.js';
import { runPartyPolicy } from './cli/party-policy.js';
import { type PartyConfig, parsePartyArgs, partyFlagsHelp, resolvePartyConfig } from './config.js';
import { defaultConnectionLimits, limitConnections, serverTimeoutOptions } from './http-connections.js';
import { createHttpServer, type FetchHandler } from './http-server.js';
import { createLogger, type Logger } from './logger.js';
import { createPartyApp } from './party/app.js';
import { createPartyMetrics } from './party/context.js';
import { checkKeyAgainstRoster, recordKeyParticipants } from './party/key-roster.js';
import { rejectionLog } from './party/rejection-log.js';
import { PARTY_LISTENING } from './party-signal.js';
import { defaultPolicy } from './policy/defaults.js';
import { policyInForce } from './policy/in-force.js';
import { readPolicyFile } from './policy/policy-file.js';
import { type Policy, uncappedQuotaResources } from './policy/schema.js';
import { parseRoster, partyById, type RosterParty, rosterDigest } from './roster.js';
import {
  createDataKey,
  loadOrCreateDataKey,
  loadOrCreateIdentityKey,
  prepareStoreDir,
  readJsonFile,
} from './store/files.js';
import { isStoreLocked, PartyStore, type StoredKey } from './store/level.js';
import { PARTY_PID_FILE, pidFileHolder, releasePidFile, writePidFile } from './store/pid-file.js';
import { partyVersion } from './version.js';

/** A party that listens and serves; `close()` drains it and releases its port and database. */
export interface RunningParty {
  readonly url: string;
  /** The port it listens on (the one chosen when `port` was 0). */
  readonly port: number;
  readonly logger: Logger;
  close(): Promise<void>;
}

export interface StartPartyOptions {
  /** Where log lines go (default: stdout). */
  write?: (line: string) => void;
  /** Prepare dealing pads while idle (default: true, as a party node does). */
  dealingPads?: boolean;
}

/**
 * Start a party node from its flags and environment: resolves when it listens and serves; rejects
 * (having created nothing on disk and holding no port) when it cannot start.
 */
export async function startParty(
  argv: readonly string[],
  env: Readonly<Record<string, string | undefined>>,
  options: StartPartyOptions = {},
): Promise<RunningParty> {
  const args = parsePartyArgs(argv, env);
  const file = args.config ? readJsonFile(args.config, 'party config') : undefined;
  const config: PartyConfig = resolvePartyConfig(
    file,
    args,
    args.config ? dirname(args.config) : process.cwd(),
  );
  const logger = createLogger({
    component: 'party',
    level: config.logLevel,
    base: { party: config.id },
    ...(options.write ? { write: options.write } : {}),
  });
  const roster = parseRoster(readJsonFile(config.rosterPath, 'roster'));
  const self = partyById(roster, config.id);
  if (!self) throw new Error(`party ${config.id} is not in the roster ${config.rosterPath}`);
  const identity = loadOrCreateIdentityKey(config.identityKeyPath, false);
  if (Buffer.from(identity.publicKey).toString('hex') !== self.identity_key) {
    throw new Error(
      `identity key ${config.identityKeyPath} does not match the roster's key for ${config.id}`,
    );
  }
  const policy = loadPolicy(config, self);
  const dbPath = join(config.dataDir, 'db');
  const hadDatabase = databaseExists(dbPath);
  // The data key is created only for a party that has no database yet (a first start, e.g. after
  // `aaps up` laid it out), and only once the port is ours (below). A party with a database holds
  // its key share encrypted under the data key it was stored with: a new key would not open it.
  let dataKey: SecretBytes | undefined = config.dataKeyHex
    ? new SecretBytes(hexToBytes(config.dataKeyHex))
    : existsSync(config.dataKeyPath)
      ? loadOrCreateDataKey(config.dataKeyPath, false)
      : undefined;
  if (dataKey === undefined && hadDatabase) {
    throw new ValidationError(
      'NOT_FOUND',
      `data key ${config.dataKeyPath} does not exist, but this party's database ${dbPath} does: ` +
        'its key share is encrypted under the data key it was stored with; restore that file ' +
        '(or give it with --data-key-file or AAPS_PARTY_DATA_KEY); a new data key would not decrypt it',
      ['data-key-file'],
    );
  }
  await loadFastBackends();
  const suite = getCiphersuite(roster.ciphersuite);

  // Bind first: requests that arrive before the app is ready are told to retry. What the server
  // refuses before the app sees a request (malformed, headers too large or too slow, CONNECT) is
  // answered in the error shape, counted and logged with the app's own refusals (http-server.ts).
  let serveApp: FetchHandler | undefined;
  const metrics = createPartyMetrics();
  const rejections = rejectionLog(logger);
  const server = createHttpServer(
    (request, env) =>
      serveApp
        ? serveApp(request, env)
        : Response.json({ error: { code: 'UNAVAILABLE', message: 'party is starting' } }, { status: 503 }),
    {
      who: 'the party',
      hostname: config.host,
      serverOptions: serverTimeoutOptions(),
      allow: 'GET, HEAD, POST',
      onRefused: (r) => {
        metrics.rejected.inc({ reason: r.reason });
        rejections.rejected(r.reason, { code: r.code, status: r.status });
      },
    },
  );
  // A stranger's idle or half-sent connections are bounded (http-connections.ts). No cap per
  // address here: the gateway, a party's one client, may hold most of its connections.
  const limits = defaultConnectionLimits();
  limitConnections(server, { ...limits, maxPerAddress: limits.maxConnections }, logger);
  const port = await listen(server, config.host, config.port);

  let createdDataKey = false;
  let store: PartyStore | undefined;
  try {
    if (dataKey === undefined) {
      const created = createDataKey(config.dataKeyPath);
      createdDataKey = created !== undefined;
      dataKey = created ?? loadOrCreateDataKey(config.dataKeyPath, false);
    }
    store = await openStore(dbPath, dataKey, config.id);
    if (config.dropNoncesAtStart) await dropNoncesAtStart(store, logger);
    const stored = await loadStoredKey(store, dbPath, config);
    const digest = rosterDigest(roster);
    if (stored && checkKeyAgainstRoster(stored, roster, self, digest, config, logger))
      await recordKeyParticipants(store, stored, roster, logger);
    const party = await createPartyApp(
      { config, roster, rosterDigest: digest, self, identity, store, policy, logger, suite },
      { dealingPads: options.dealingPads ?? true, metrics, rejections },
    );
    serveApp = party.app.fetch;
    server.on('error', (e: NodeJS.ErrnoException) =>
      logger.error('server.error', { error: e.code ?? e.message }),
    );
    const url = `http://${config.host}:${port}`;
    logger.info('party.listening', {
      url,
      role: self.role,
      has_key: party.state.key !== undefined,
      version: partyVersion(),
      ...policyInForce(config.policyPath, policy),
    });
    if (config.policyPath === undefined)
      logger.warn('policy.role_default', {
        role: self.role,
        note: "no policy file: this party enforces its role's built-in default, which is permissive (packages/agents/policies/README.md); give the department's own with policy, --policy or AAPS_PARTY_POLICY",
      });
    const uncapped = uncappedQuotaResources(policy);
    if (uncapped.length > 0)
      logger.warn('policy.quota_uncapped', {
        resources: uncapped,
        note: 'no bounds.resource_quota.max_hard for these: this party signs no change of their hard limits until the policy caps them',
      });
    if (config.allowKeyReplace) {
      logger.warn('keys.replace_allowed', {
        note: "the coordinator may replace this party's key (allow_key_replace): turn it off after the re-key",
      });
    }
    const expiry = scheduleNonceExpiry(store, config.nonceTtlSec, logger);
    const open = store;
    return {
      url,
      port,
      logger,
      async close() {
        await party.drain();
        await closeServer(server);
        rejections.flush();
        await expiry.stop();
        await open.close();
        releasePidFile(join(config.dataDir, PARTY_PID_FILE));
      },
    };
  } catch (e) {
    await closeServer(server);
    await store?.close().catch(() => undefined);
    if (store !== undefined) releasePidFile(join(config.dataDir, PARTY_PID_FILE));
    // What this start created goes again: a database that was not there (only one it opened: one
    // it could not open may be another start's), and the data key it wrote, unless a database
    // is there now, which may hold a share under that key.
    if (!hadDatabase && store !== undefined) rmSync(dbPath, { recursive: true, force: true });
    if (createdDataKey && !databaseExists(dbPath)) rmSync(config.dataKeyPath, { force: true });
    throw e;
  }
}

/** The signals that stop a party: drained, logged, exit 0. */
const STOP_SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;

/**
 * The process: start, tell a supervising parent that this process listens, stop on a signal or
 * when the parent goes away.
 *
 * SIGINT, SIGTERM and SIGHUP (a closed terminal, `kill -HUP`, a supervisor's reload) all stop it
 * the same way. SIGHUP is no reload: a changed policy or roster takes effect when the party starts
 * again (Node's default for SIGHUP ended the process at once, with no line and no drain). The
 * handlers are in place before the party starts, so a signal sent the moment `party.listening` is
 * logged is not met by the default action; one that arrives during the start stops the party once
 * it has started (a second one during the start ends the process at once).
 */
export async function runParty(
  argv: readonly string[],
  env: Readonly<Record<string, string | undefined>>,
): Promise<void> {
  let party: RunningParty | undefined;
  let requested: string | undefined;
  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping || party === undefined) return;
    stopping = true;
    party.logger.info('party.stopping', { signal });
    await party.close();
    party.logger.info('party.stopped', {});
    process.exit(0);
  };
  for (const signal of STOP_SIGNALS) {
    process.on(signal, () => {
      if (party !== undefined) return void stop(signal);
      if (requested !== undefined) process.exit(128 + osConstants.signals[signal]);
      requested = signal;
    });
  }
  party = await startParty(argv, env);
  if (requested !== undefined) return void stop(requested);
  // A parent that started this process (cluster.ts, `aaps party`) hears on fd 3 that this very
  // process listens, and stops it by closing that pipe (below).
  const parentFd = Number(env.AAPS_PARTY_PARENT_FD ?? Number.NaN);
  const parent =
    Number.isInteger(parentFd) && parentFd > 2
      ? new Socket({ fd: parentFd, readable: true, writable: true })
      : undefined;
  parent?.write(`${PARTY_LISTENING}\n`);
  // Started by a supervisor (aaps up, aaps party): it holds the other end of this pipe. When the
  // supervisor dies, even by kill -9, the pipe closes and this party stops instead of lingering as
  // an orphan that holds its database lock and port.
  if (parent) {
    parent.on('error', () => void stop('parent-exit'));
    parent.on('close', () => void stop('parent-exit'));
    parent.resume();
  }
}

/** The one line a failed start prints (then the process exits with 2). */
export function startFailureLine(e: unknown): string {
  const message = e instanceof Error ? e.message : String(e);
  return `aaps party: ${message.replace(/\s*\n\s*/g, ' ')}`;
}

/** The party's policy file (or its role's default); one whose role is not the party's is refused. */
function loadPolicy(config: PartyConfig, self: RosterParty): Policy {
  if (!config.policyPath) return defaultPolicy(self.role);
  return readPolicyFile(config.policyPath, self.role, `${self.id} is ${self.role} in the roster`);
}

/** Whether the party already has a database (a directory with anything in it, or anything else). */
function databaseExists(path: string): boolean {
  if (!existsSync(path)) return false;
  return !statSync(path).isDirectory() || readdirSync(path).length > 0;
}

function hostPort(host: string, port: number): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}

/** Listen, or reject with one line naming the address and the reason (`EADDRINUSE`, `ENOTFOUND`, …). */
function listen(server: Server, host: string, port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const onError = (e: NodeJS.ErrnoException) => {
      server.off('listening', onListening);
      reject(
        new ValidationError(
          'UNAVAILABLE',
          `cannot listen on ${hostPort(host, port)}: ${e.code ?? e.message}`,
          ['port'],
        ),
      );
    };
    const onListening = () => {
      server.off('error', onError);
      resolve((server.address() as AddressInfo).port);
    };
    server.once('error', onError);
    server.once('listening', onListening);
    server.listen(port, host);
  });
}

/** Stop listening and close its connections (called once no request is in flight, or none is served yet). */
function closeServer(server: Server): Promise<void> {
  return new Promise((resolve) => {
    if (!server.listening) return resolve();
    server.close(() => resolve());
    server.closeAllConnections();
  });
}

/**
 * Open the party's database (`<data-dir>/db`) and write `<data-dir>/party.pid` while it holds
 * LevelDB's lock; a database another process holds is refused naming that process, if its pid
 * file says which.
 */
async function openStore(path: string, dataKey: SecretBytes, partyId: string): Promise<PartyStore> {
  // Owner only (0700), as `aaps up` makes it.
  const created = prepareStoreDir(path);
  const dataDir = dirname(path);
  const pidFile = join(dataDir, PARTY_PID_FILE);
  try {
    const store = await PartyStore.open(path, dataKey, partyId);
    // Ours while the lock is: a file a party that died left is replaced.
    writePidFile(pidFile, false);
    return store;
  } catch (e) {
    if (created) rmSync(path, { recursive: true, force: true });
    if (isStoreLocked(e)) {
      const holder = pidFileHolder(pidFile);
      const who =
        holder === undefined
          ? `another process is using the data directory ${dataDir}: its database ${path} is locked (another party process, or \`aaps party backup\` or \`restore\`)`
          : `another party process (pid ${holder}, ${pidFile}) is using the data directory ${dataDir}: its database ${path} is locked`;
      throw new ValidationError(
        'UNAVAILABLE',
        `${who}; stop it first, or give this party another data directory`,
        ['data-dir'],
      );
    }
    // A store of a later format: its message names the database and both formats already.
    if (e instanceof AapsError && e.code === 'UNSUPPORTED_VERSION') throw e;
    const cause = innermostCause(e);
    const why = cause === undefined ? '' : `: ${firstMessageLine(cause)}`;
    const message = e instanceof Error ? e.message : String(e);
    throw new ValidationError('UNAVAILABLE', `cannot open the database ${path}: ${message}${why}`, [], {
      cause: e,
    });
  }
}

/**
 * The stored key, if any; a share that does not decrypt names the likely cause: another data key.
 * A record that does not decode (or that LevelDB cannot read back) names the database and the
 * remedy: the custodians' backup (`aaps party restore --force`).
 */
async function loadStoredKey(
  store: PartyStore,
  dbPath: string,
  config: PartyConfig,
): Promise<StoredKey | undefined> {
  try {
    return await store.loadKey();
  } catch (e) {
    if (!(e instanceof VerificationError)) {
      const inner = innermostCause(e);
      const why = firstMessageLine(e) + (inner === undefined ? '' : ` (${firstMessageLine(inner)})`);
      throw new ValidationError(
        e instanceof AapsError ? e.code : 'DECODE_FAILED',
        `the key record in ${dbPath} cannot be read: ${why}; the database is damaged: stop here and ` +
          "restore this party's key from its custodians' backup files (`aaps party restore --force`, " +
          'docs/sealing.md), or the whole data directory from a copy',
        ['db'],
        { cause: e },
      );
    }
    const source = config.dataKeyHex ? 'AAPS_PARTY_DATA_KEY' : config.dataKeyPath;
    throw new ValidationError(
      'VERIFICATION_FAILED',
      `the key share in ${dbPath} does not decrypt under the data key ${source}: most likely it was ` +
        'stored under a different data key (give the one this party was set up with); otherwise the ' +
        'record was altered',
      ['data-key-file'],
      { cause: e },
    );
  }
}

/** Below this time to live a nonce may expire between a signing's two rounds: tests only. */
const SHORT_NONCE_TTL_SEC = 60;

/**
 * Expire unused nonces older than the time to live: once now, then every quarter of it (at most
 * hourly; a tick is skipped while a sweep still runs). A coordinator that offers an expired
 * commitment is told so and asks for fresh ones.
 */
function scheduleNonceExpiry(
  store: PartyStore,
  ttlSec: number,
  logger: Logger,
): { stop: () => Promise<void> } {
  if (ttlSec < SHORT_NONCE_TTL_SEC) {
    logger.warn('nonces.short_ttl', {
      ttl_sec: ttlSec,
      note: 'a nonce may expire between the two rounds of one signing',
    });
  }
  let running: Promise<void> | undefined;
  const sweep = () => {
    if (running !== undefined) return;
    running = (async () => {
      try {
        const expired = await store.expireNonces(new Date(Date.now() - ttlSec * 1000));
        if (expired > 0) logger.info('nonces.expired', { count: expired, ttl_sec: ttlSec });
      } catch (e) {
        logger.warn('nonces.expire_failed', { error: e instanceof Error ? e.message : String(e) });
      } finally {
        running = undefined;
      }
    })();
  };
  sweep();
  const timer = setInterval(sweep, Math.min(ttlSec * 250, 3_600_000));
  timer.unref();
  return {
    async stop() {
      clearInterval(timer);
      await running;
    },
  };
}

/**
 * `drop_nonces_at_start`: expire every stored nonce before the party serves, so a store restored
 * from a copy (a VM snapshot, a file backup) cannot sign again with a nonce it used after the copy
 * was taken. Coordinators holding the commitments are told they expired and ask for fresh ones.
 */
async function dropNoncesAtStart(store: PartyStore, logger: Logger): Promise<void> {
  const end = new Date(8.64e15);
  // A nonce stored before issue times were kept is stamped by the first pass, expired by the second.
  const dropped = (await store.expireNonces(end)) + (await store.expireNonces(end));
  logger.info('nonces.dropped_at_start', { count: dropped });
}

/** What `aaps party --help` prints (each subcommand's `--help` prints its own). */
function partyUsage(): string {
  return `usage: aaps party --config FILE [flags]   one party node; a flag beats its environment variable, which beats the config file
       aaps party init --id ID --role ROLE --data-dir DIR ...   create a party's keys and config (aaps party init --help)
       aaps party backup --config FILE --split k/m --out DIR   (aaps party backup --help)
       aaps party restore --config FILE FILE...   (aaps party restore --help)
       aaps party audit --config FILE   print the party's audit trail as JSON lines (party stopped; aaps party audit --help)
       aaps party policy --role ROLE   print ROLE's default policy (policies/<role>.json) to copy and edit
       aaps party --version   the release this party runs
flags (each also an environment variable; docs/api.md, "Party settings"):
${partyFlagsHelp()}`;
}

const isMain =
  process.argv[1] !== undefined && realpathSync(process.argv[1]) === fileURLToPath(import.meta.url);
if (isMain) {
  const [sub, ...rest] = process.argv.slice(2);
  if (sub === 'init') process.exit(runPartyInit(rest));
  else if (sub === 'policy') process.exit(runPartyPolicy(rest));
  else if (sub === 'backup') runPartyBackup(rest, process.env).then((code) => process.exit(code));
  else if (sub === 'restore') runPartyRestore(rest, process.env).then((code) => process.exit(code));
  else if (sub === 'audit') runPartyAudit(rest, process.env).then((code) => process.exit(code));
  else if (process.argv.slice(2).some((a) => a === '--help' || a === '-h'))
    process.stdout.write(`${partyUsage()}\n`, () => process.exit(0));
  else if (process.argv.slice(2).includes('--version'))
    process.stdout.write(`${partyVersion()}\n`, () => process.exit(0));
  else {
    runParty(process.argv.slice(2), process.env).catch((e: unknown) => {
      process.stderr.write(`${startFailureLine(e)}\n`);
      process.exit(2);
    });
  }
}
