#!/usr/bin/env node
import { realpathSync } from 'node:fs';
import { Socket } from 'node:net';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { getCiphersuite, hexToBytes, loadFastBackends, SecretBytes } from '@aaps/mpc-core';
/**
 * A party process: `node packages/agents/dist/main.js --config party.json` (or `aaps party`).
 * The only module that opens the database or listens. Bad config: one clear line, exit 2.
 */
import { serve } from '@hono/node-server';
import { runPartyBackup, runPartyRestore } from './cli/party-backup.js';
import { runPartyInit } from './cli/party-init.js';
import { type PartyConfig, parsePartyArgs, resolvePartyConfig } from './config.js';
import { createLogger, type Logger } from './logger.js';
import { createPartyApp } from './party/app.js';
import { PARTY_LISTENING } from './party-signal.js';
import { defaultPolicy } from './policy/defaults.js';
import { parsePolicy } from './policy/schema.js';
import { parseRoster, partyById, rosterDigest } from './roster.js';
import { loadOrCreateDataKey, loadOrCreateIdentityKey, readJsonFile } from './store/files.js';
import { PartyStore } from './store/level.js';

export async function runParty(
  argv: readonly string[],
  env: Readonly<Record<string, string | undefined>>,
): Promise<void> {
  const args = parsePartyArgs(argv, env);
  const file = args.config ? readJsonFile(args.config, 'party config') : undefined;
  const config: PartyConfig = resolvePartyConfig(
    file,
    args,
    args.config ? dirname(args.config) : process.cwd(),
  );
  const logger = createLogger({ component: 'party', level: config.logLevel, base: { party: config.id } });
  const roster = parseRoster(readJsonFile(config.rosterPath, 'roster'));
  const self = partyById(roster, config.id);
  if (!self) throw new Error(`party ${config.id} is not in the roster ${config.rosterPath}`);
  const identity = loadOrCreateIdentityKey(config.identityKeyPath, false);
  if (Buffer.from(identity.publicKey).toString('hex') !== self.identity_key) {
    throw new Error(
      `identity key ${config.identityKeyPath} does not match the roster's key for ${config.id}`,
    );
  }
  const policy = config.policyPath
    ? parsePolicy(readJsonFile(config.policyPath, 'policy'))
    : defaultPolicy(self.role);
  const dataKey = config.dataKeyHex
    ? new SecretBytes(hexToBytes(config.dataKeyHex))
    : loadOrCreateDataKey(config.dataKeyPath, true);
  await loadFastBackends();
  const suite = getCiphersuite(roster.ciphersuite);
  const store = await PartyStore.open(`${config.dataDir}/db`, dataKey, config.id);
  const party = await createPartyApp(
    {
      config,
      roster,
      rosterDigest: rosterDigest(roster),
      self,
      identity,
      store,
      policy,
      logger,
      suite,
    },
    { dealingPads: true },
  );
  // A parent that started this process (cluster.ts) hears on fd 3 that this very process listens,
  // and stops it by closing that pipe (below).
  const parentFd = Number(env.AAPS_PARTY_PARENT_FD ?? Number.NaN);
  const parent =
    Number.isInteger(parentFd) && parentFd > 2
      ? new Socket({ fd: parentFd, readable: true, writable: true })
      : undefined;
  const server = serve({ fetch: party.app.fetch, hostname: config.host, port: config.port }, (info) => {
    logger.info('party.listening', {
      url: `http://${config.host}:${info.port}`,
      role: self.role,
      has_key: party.state.key !== undefined,
    });
    parent?.write(`${PARTY_LISTENING}\n`);
    // Outlive the clients' idle connections (undici keeps them ~4 s), so that a coordinator never
    // sends a request on a connection this server is closing at that moment.
    const http = server as unknown as { keepAliveTimeout: number; headersTimeout: number };
    http.keepAliveTimeout = 65_000;
    http.headersTimeout = 66_000;
  });
  if (config.allowKeyReplace) {
    logger.warn('keys.replace_allowed', {
      note: "the coordinator may replace this party's key (allow_key_replace): turn it off after the re-key",
    });
  }
  const expiry = scheduleNonceExpiry(store, config.nonceTtlSec, logger);
  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info('party.stopping', { signal });
    await party.drain();
    server.close();
    await expiry.stop();
    await store.close();
    logger.info('party.stopped', {});
    process.exit(0);
  };
  process.on('SIGINT', () => void stop('SIGINT'));
  process.on('SIGTERM', () => void stop('SIGTERM'));
  // Started by a supervisor (aaps up): it holds the other end of this pipe. When the supervisor
  // dies, even by kill -9, the pipe closes and this party stops instead of lingering as an orphan
  // that holds its database lock and port.
  if (parent) {
    parent.on('error', () => void stop('parent-exit'));
    parent.on('close', () => void stop('parent-exit'));
    parent.resume();
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

const isMain =
  process.argv[1] !== undefined && realpathSync(process.argv[1]) === fileURLToPath(import.meta.url);
if (isMain) {
  const [sub, ...rest] = process.argv.slice(2);
  if (sub === 'init') process.exit(runPartyInit(rest));
  else if (sub === 'backup') runPartyBackup(rest, process.env).then((code) => process.exit(code));
  else if (sub === 'restore') runPartyRestore(rest, process.env).then((code) => process.exit(code));
  else {
    runParty(process.argv.slice(2), process.env).catch((e: unknown) => {
      process.stderr.write(`aaps party: ${e instanceof Error ? e.message : String(e)}\n`);
      process.exit(2);
    });
  }
}
