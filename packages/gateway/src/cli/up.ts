/**
 * `aaps up`: the gateway and one process per party on loopback. First start: identity keys,
 * roster, DKG (a progress line per step); later starts reuse them. One ready line with the URL and
 * the group key; Ctrl-C or SIGTERM shuts everything down. `--local` runs every party inside the
 * gateway instead (no processes, no DKG) for quick demos.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { getHeapStatistics } from 'node:v8';
import {
  createLogger,
  layoutCluster,
  loadOrCreateIdentityKey,
  type PartyProcess,
  type PartySpec,
  parseRoster,
  ROLE_NAMED_PARTIES,
  readJsonFile,
  spawnParty,
} from '@aaps/agents';
import { AapsError, bytesToHex, type IdentityKey, ValidationError } from '@aaps/mpc-core';
import type { GatewayConfig } from '../config.js';
import type { Coordinator } from '../coordinator.js';
import {
  createHttpCoordinator,
  readSavedPublicPackage,
  runDkg,
  writeSavedPublicPackage,
} from '../coordinator-http.js';
import { LocalCoordinator, type LocalKeyMaterial } from '../coordinator-local.js';
import type { TokenGrant } from '../middleware/auth.js';
import { describeGrants } from '../middleware/token-file.js';
import { describeDrift, rosterDrift } from '../roster-drift.js';
import type { TrustedKeys } from '../trust.js';
import { withDataDirLock } from './data-dir-lock.js';
import { openLogFile } from './log-file.js';
import { type Supervisor, superviseParties } from './party-supervisor.js';
import { type RunningGateway, startGateway } from './serve.js';
import { readTokensFile } from './tokens-file.js';
import { UsageError } from './usage-error.js';

/**
 * A department's own policy file for `aaps up`: `<dir>/<party id>.json`, else `<dir>/<role>.json`,
 * else none (the role's default). Absolute, because the party reads it from its own config file,
 * in another directory.
 */
export function partyPolicyFile(
  dir: string | undefined,
  party: { id: string; role: string },
): string | undefined {
  if (dir === undefined) return undefined;
  const base = resolve(dir);
  return [join(base, `${party.id}.json`), join(base, `${party.role}.json`)].find((f) => existsSync(f));
}

/** Above this heap limit the gateway says it runs without the limit `npm start` sets (160 MiB). */
const HEAP_HINT_BYTES = 1024 * 1024 * 1024;

/**
 * `npm start` caps the gateway's heap (package.json); run directly, it has V8's default and its
 * resident memory grows with what it reads (docs/PERFORMANCE.md, "Memory"): say how to cap it.
 */
function heapHint(io: UpIo): void {
  if (getHeapStatistics().heap_size_limit <= HEAP_HINT_BYTES) return;
  io.print(
    "aaps: note: this process has no heap limit (npm start sets one for aaps up); to cap its memory, run it with NODE_OPTIONS='--max-old-space-size=160 --max-semi-space-size=4'",
  );
}

/** The five parties `aaps up` runs; their ids are their roles. */
export const UP_PARTIES: readonly PartySpec[] = ROLE_NAMED_PARTIES;

export interface UpIo {
  print(line: string): void;
  /** Resolves when the user asks to stop (SIGINT / SIGTERM). */
  stopSignal: Promise<string>;
}

/** The admin token: given, stored from a previous start, or generated and stored 0600. */
export function ensureToken(
  dataDir: string,
  given: string | undefined,
): { token: string; path?: string; created: boolean } {
  if (given !== undefined) return { token: given, created: false };
  const path = join(dataDir, 'api-token');
  if (existsSync(path)) return { token: readFileSync(path, 'utf8').trim(), path, created: false };
  const token = randomBytes(32).toString('hex');
  writeFileSync(path, `${token}\n`, { mode: 0o600 });
  return { token, path, created: true };
}

/**
 * The grants of `--tokens-file` (none without one), read and checked before anything is written:
 * a problem is a `UsageError` (one line, exit 2). Prints each grant's name and scopes, never its
 * token, and a warning when group or others may read the file.
 */
export function loadTokenGrants(config: GatewayConfig, io: Pick<UpIo, 'print'>): TokenGrant[] {
  if (config.tokensFile === undefined) return [];
  const stored = join(config.dataDir, 'api-token');
  let adminToken = config.apiToken;
  try {
    if (adminToken === undefined && existsSync(stored)) adminToken = readFileSync(stored, 'utf8').trim();
  } catch (e) {
    throw new UsageError(`cannot read ${stored}: ${(e as NodeJS.ErrnoException).code ?? 'error'}`, {
      cause: e,
    });
  }
  try {
    const file = readTokensFile(config.tokensFile, adminToken === undefined ? {} : { adminToken });
    if (file.warning !== undefined) io.print(`tokens: warning: ${file.warning}`);
    io.print(
      `tokens: ${file.grants.length} from ${config.tokensFile}${file.grants.length > 0 ? `: ${describeGrants(file.grants)}` : ''}`,
    );
    return file.grants;
  } catch (e) {
    if (e instanceof AapsError) throw new UsageError(e.message, { cause: e });
    throw e;
  }
}

function approverKeys(dataDir: string, ids: readonly string[]): Record<string, IdentityKey> {
  const out: Record<string, IdentityKey> = {};
  for (const id of ids) out[id] = loadOrCreateIdentityKey(join(dataDir, 'approvers', `${id}.key`), true);
  return out;
}

/** Ports of an existing roster, so a second start keeps the parties' URLs. */
function savedPorts(dataDir: string): number[] | undefined {
  const path = join(dataDir, 'roster.json');
  if (!existsSync(path)) return undefined;
  try {
    const roster = parseRoster(readJsonFile(path, 'roster'));
    return roster.parties.map((p) => Number(new URL(p.url).port));
  } catch {
    return undefined;
  }
}

export async function runUp(config0: GatewayConfig, io: UpIo): Promise<number> {
  const config: GatewayConfig = { ...config0, dataDir: resolve(config0.dataDir) };
  const grants = loadTokenGrants(config, io);
  return withDataDirLock(config.dataDir, () => runUpLocked(config, io, grants));
}

async function runUpLocked(config: GatewayConfig, io: UpIo, grants: readonly TokenGrant[]): Promise<number> {
  heapHint(io);
  const token = ensureToken(config.dataDir, config.apiToken);
  if (token.path !== undefined)
    io.print(`token: ${token.created ? 'created' : 'reusing'} ${token.path} (mode 0600)`);
  const gatewayLog = openLogFile(join(config.dataDir, 'logs', 'gateway.log'), { warn: io.print });
  const logger = createLogger({
    component: 'gateway',
    level: config.logLevel,
    write: (l) => void gatewayLog.write(l),
  });
  const parties: PartyProcess[] = [];
  let running: RunningGateway | undefined;
  let supervisor: Supervisor | undefined;
  const stopAll = async () => {
    supervisor?.stop();
    await running?.close().catch(() => undefined);
    await Promise.all(parties.map((p) => p.stop('SIGTERM')));
    await gatewayLog.close();
  };
  try {
    let coordinator: Coordinator;
    let trust: TrustedKeys;
    let gatewayKey: IdentityKey;
    if (config.local) {
      gatewayKey = loadOrCreateIdentityKey(join(config.dataDir, 'gateway', 'identity.key'), true);
      const approvers = approverKeys(config.dataDir, config.approvers);
      const materialPath = join(config.dataDir, 'local', 'keys.json');
      const material = existsSync(materialPath)
        ? (readJsonFile(materialPath, 'local keys') as LocalKeyMaterial)
        : undefined;
      const local = new LocalCoordinator({
        threshold: config.threshold,
        ciphersuite: config.ciphersuite,
        gateway: { id: 'gateway', identity_key: bytesToHex(gatewayKey.publicKey) },
        approvers: Object.entries(approvers).map(([id, k]) => ({
          id,
          identity_key: bytesToHex(k.publicKey),
        })),
        ...(material === undefined ? {} : { material }),
      });
      if (material === undefined) {
        mkdirSync(join(config.dataDir, 'local'), { recursive: true, mode: 0o700 });
        writeFileSync(materialPath, `${JSON.stringify(local.exportMaterial(), null, 2)}\n`, { mode: 0o600 });
        io.print(
          `keys: dealt a ${config.threshold}-of-5 key set for the in-process parties (${materialPath}, 0600)`,
        );
      } else io.print(`keys: reusing ${materialPath}`);
      coordinator = local;
      trust = local.trustedKeys();
    } else {
      const ports = savedPorts(config.dataDir);
      const layout = await layoutCluster({
        dir: config.dataDir,
        parties: UP_PARTIES,
        threshold: config.threshold,
        ciphersuite: config.ciphersuite,
        approvers: config.approvers,
        ...(ports === undefined ? {} : { ports }),
        // Each department may run its own policy: <id>.json, else <role>.json, else the default.
        policyFor: (party) => partyPolicyFile(config.partyPolicyDir, party),
        // The parties sign checkpoints of this log only (a fresh origin is trusted on first use).
        logOrigin: config.logOrigin,
      });
      gatewayKey = layout.gatewayKey;
      for (const p of layout.roster.parties) {
        mkdirSync(join(config.dataDir, 'logs'), { recursive: true });
        // The party writes its log file itself: this process relays none of it.
        const proc = spawnParty(p.id, p.url, layout.configPaths[p.id] ?? '', {
          logFile: join(config.dataDir, 'logs', `party-${p.id}.log`),
        });
        parties.push(proc);
      }
      io.print(
        `parties: starting ${parties.length} party processes (logs in ${join(config.dataDir, 'logs')})`,
      );
      await Promise.all(parties.map((p) => p.ready()));
      io.print(`parties: ${parties.map((p) => `${p.id} ${p.url}`).join(', ')}`);
      supervisor = superviseParties(parties, {
        say: io.print,
        logger: logger.child({ component: 'supervisor' }),
        respawn: (p) =>
          spawnParty(p.id, p.url, layout.configPaths[p.id] ?? '', {
            logFile: join(config.dataDir, 'logs', `party-${p.id}.log`),
          }),
      });
      const dkg = await runDkg({
        roster: layout.roster,
        gatewayKey,
        dataDir: config.dataDir,
        log: (line) => io.print(line),
      });
      coordinator = createHttpCoordinator({
        roster: layout.roster,
        gatewayKey,
        publicPackage: dkg.publicPackage,
        logger: logger.child({ component: 'coordinator' }),
        savePublicPackage: (json) => writeSavedPublicPackage(config.dataDir, json),
      });
      trust = {
        parties: layout.roster.parties,
        approvers: layout.roster.approvers,
        gateway: layout.roster.gateway,
      };
    }
    running = await startGateway({
      config,
      token: token.token,
      tokens: grants,
      coordinator,
      trust,
      identity: { id: 'gateway', key: gatewayKey },
      logger,
    });
    const keys = await coordinator.keys();
    io.print(
      `aaps: ready at ${running.url} (group key ${keys.group_public_key}, ${keys.threshold.min}-of-${keys.threshold.max}${config.local ? ', local parties' : ''})`,
    );
    const why = await io.stopSignal;
    io.print(`aaps: ${why}, shutting down`);
    await stopAll();
    io.print('aaps: stopped');
    return 0;
  } catch (e) {
    await stopAll();
    throw e;
  }
}

/**
 * `aaps gateway --config F`: the gateway alone, against parties running on their own hosts. On
 * its first start (no `public-package.json` in its data directory) it runs the DKG across the
 * roster's parties, which must all be up, with a progress line per step; if every party already
 * holds one group key it takes that key, and it repairs a party that lost its share. Later starts
 * read the saved public package and need only a quorum.
 */
export async function runGatewayOnly(config0: GatewayConfig, io: UpIo): Promise<number> {
  const config: GatewayConfig = { ...config0, dataDir: resolve(config0.dataDir) };
  const grants = loadTokenGrants(config, io);
  return withDataDirLock(config.dataDir, () => runGatewayLocked(config, io, grants));
}

/**
 * What `aaps gateway` is configured with: the roster, its own key (which must be the roster's
 * gateway key) and the saved public package, if any. A problem in any of them is the operator's
 * to fix: a `UsageError` (one line, exit 2), read before anything is written.
 */
function readGatewaySetup(config: GatewayConfig) {
  const rosterPath = config.roster ?? join(config.dataDir, 'roster.json');
  try {
    const roster = parseRoster(readJsonFile(rosterPath, 'roster'));
    const gatewayKey = loadOrCreateIdentityKey(
      config.gatewayKey ?? join(config.dataDir, 'gateway', 'identity.key'),
      false,
      'gateway',
    );
    if (bytesToHex(gatewayKey.publicKey) !== roster.gateway.identity_key) {
      throw new ValidationError('INVALID_ARGUMENT', `the gateway key does not match ${rosterPath}`, [
        'gateway-key',
      ]);
    }
    return { roster, gatewayKey, saved: readSavedPublicPackage(config.dataDir, roster) };
  } catch (e) {
    if (e instanceof AapsError) throw new UsageError(e.message, { cause: e });
    throw e;
  }
}

async function runGatewayLocked(
  config: GatewayConfig,
  io: UpIo,
  grants: readonly TokenGrant[],
): Promise<number> {
  const { roster, gatewayKey, saved } = readGatewaySetup(config);
  const publicPackage =
    saved ??
    (await runDkg({ roster, gatewayKey, dataDir: config.dataDir, log: (line) => io.print(line) }))
      .publicPackage;
  heapHint(io);
  for (const drift of await rosterDrift(roster)) io.print(describeDrift(drift, roster));
  const token = ensureToken(config.dataDir, config.apiToken);
  if (token.path !== undefined)
    io.print(`token: ${token.created ? 'created' : 'reusing'} ${token.path} (mode 0600)`);
  const logger = createLogger({ component: 'gateway', level: config.logLevel });
  const coordinator = createHttpCoordinator({
    roster,
    gatewayKey,
    publicPackage,
    logger: logger.child({ component: 'coordinator' }),
    savePublicPackage: (json) => writeSavedPublicPackage(config.dataDir, json),
  });
  const trust = { parties: roster.parties, approvers: roster.approvers, gateway: roster.gateway };
  const running = await startGateway({
    config,
    token: token.token,
    tokens: grants,
    coordinator,
    trust,
    identity: { id: 'gateway', key: gatewayKey },
    logger,
  });
  const keys = await coordinator.keys();
  io.print(`aaps: gateway ready at ${running.url} (group key ${keys.group_public_key})`);
  io.print(`aaps: ${await io.stopSignal}, shutting down`);
  await running.close();
  return 0;
}
