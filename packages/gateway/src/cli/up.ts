/**
 * `aaps up`: the gateway and one process per party on loopback. First start: identity keys,
 * roster, DKG (a progress line per step); later starts reuse them. A first start that stopped before
 * it was ready (its `first-start-unfinished.json` still there) is taken back by the next start, which
 * starts afresh. One ready line with the URL and the group key; Ctrl-C or SIGTERM shuts everything
 * down. `--local` runs every party inside the
 * gateway instead (no processes, no DKG) for quick demos.
 */
import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { getHeapStatistics } from 'node:v8';
import {
  createFileDurably,
  createLogger,
  type LayoutOptions,
  type Logger,
  layoutCluster,
  loadOrCreateIdentityKey,
  PARTY_MALLOC_ARENA_MAX,
  PARTY_PID_FILE,
  type PartyProcess,
  type PartySpec,
  parseRoster,
  pidFileHolder,
  ROLE_NAMED_PARTIES,
  type Roster,
  readJsonFile,
  retryTakenPort,
  START_ATTEMPTS,
  spawnParty,
  syncDirectory,
  writeFileDurably,
} from '@aaps/agents';
import {
  AapsError,
  bytesToHex,
  firstMessageLine,
  type IdentityKey,
  innermostCause,
  ValidationError,
} from '@aaps/mpc-core';
import type { GatewayConfig } from '../config.js';
import type { Coordinator } from '../coordinator.js';
import {
  createHttpCoordinator,
  readSavedPublicPackage,
  runDkg,
  writeSavedPublicPackage,
} from '../coordinator-http.js';
import { LocalCoordinator, type LocalKeyMaterial, localMaterialKey } from '../coordinator-local.js';
import type { TokenGrant } from '../middleware/auth.js';
import { describeGrants } from '../middleware/token-file.js';
import { describeDrift, rosterDrift } from '../roster-drift.js';
import { servedRecords } from '../store.js';
import type { TrustedKeys } from '../trust.js';
import { untilAborted } from '../until-aborted.js';
import { withDataDirLock } from './data-dir-lock.js';
import { checkCanListen } from './listen-check.js';
import { openLogFile } from './log-file.js';
import { type Supervisor, superviseParties } from './party-supervisor.js';
import { type RunningGateway, startGateway } from './serve.js';
import { printable } from './terminal-text.js';
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

/** What {@link memoryHint} looks at; the running process's by default. */
export interface MemoryFacts {
  /** V8's heap limit in bytes. */
  heapLimit: number;
  /** The process's `MALLOC_ARENA_MAX`, if set. */
  mallocArenaMax: string | undefined;
  /** Whether the process runs on glibc (whose malloc takes `MALLOC_ARENA_MAX`). */
  glibc: boolean;
}

function processMemoryFacts(): MemoryFacts {
  const report = process.report?.getReport() as { header?: { glibcVersionRuntime?: string } } | undefined;
  return {
    heapLimit: getHeapStatistics().heap_size_limit,
    mallocArenaMax: process.env['MALLOC_ARENA_MAX'],
    glibc: typeof report?.header?.glibcVersionRuntime === 'string',
  };
}

/**
 * `npm start` caps the heap of `aaps up` and gives it two malloc arenas (package.json); run
 * directly, and for `aaps gateway` (which no script starts), the gateway has V8's default heap and
 * glibc's default arenas (eight a core), and its resident memory grows with what it reads
 * (docs/PERFORMANCE.md, "Memory"): say what is missing and how to set it, for the command that
 * runs, in one line. Neither can be set from inside the process once it runs.
 */
export function memoryHint(
  io: Pick<UpIo, 'print'>,
  command: 'up' | 'gateway',
  facts: MemoryFacts = processMemoryFacts(),
): void {
  const noHeapLimit = facts.heapLimit > HEAP_HINT_BYTES;
  const defaultArenas = facts.glibc && (facts.mallocArenaMax ?? '') === '';
  if (!noHeapLimit && !defaultArenas) return;
  const missing = [
    ...(noHeapLimit ? ['no heap limit'] : []),
    ...(defaultArenas ? ["glibc's default malloc arenas"] : []),
  ].join(' and ');
  const set = [
    ...(defaultArenas ? [`MALLOC_ARENA_MAX=${PARTY_MALLOC_ARENA_MAX}`] : []),
    ...(noHeapLimit ? ["NODE_OPTIONS='--max-old-space-size=160 --max-semi-space-size=4'"] : []),
  ].join(' ');
  const started = command === 'up' ? ' (npm start sets both for aaps up)' : '';
  io.print(
    `aaps: note: this process has ${missing}${started}; to cap its memory, run aaps ${command} with ${set}`,
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
): { token: string; path?: string; created: boolean; mode?: number } {
  if (given !== undefined) return { token: given, created: false };
  const path = join(dataDir, 'api-token');
  if (existsSync(path)) {
    const mode = statSync(path).mode & 0o777;
    return { token: readFileSync(path, 'utf8').trim(), path, created: false, mode };
  }
  const token = randomBytes(32).toString('hex');
  // Whole and on disk before the start goes on: an empty token after a power loss is refused.
  createFileDurably(path, `${token}\n`);
  return { token, path, created: true, mode: 0o600 };
}

/**
 * The lines a start prints about the admin token file: where it is and its mode as found, and a
 * warning when group or others may read it (one the operator made is read as it is: a client
 * command under another account may depend on it).
 */
function tokenLines(token: ReturnType<typeof ensureToken>): string[] {
  if (token.path === undefined || token.mode === undefined) return [];
  const lines = [
    `token: ${token.created ? 'created' : 'reusing'} ${token.path} (mode 0${token.mode.toString(8)})`,
  ];
  const loose = looseModeWarning(token.path, token.mode, 'the admin token');
  if (loose !== undefined) lines.push(`token: warning: ${loose}`);
  return lines;
}

/** A warning for a secret file group or others may read (none on Windows, which has no such modes). */
function looseModeWarning(path: string, mode: number, what: string): string | undefined {
  if (process.platform === 'win32' || (mode & 0o077) === 0) return undefined;
  return `${path} holds ${what} and is readable by group or others (mode 0${mode.toString(8)}): chmod 600 ${path}`;
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

/** The ids `aaps up` gives its parties, in roster order. */
const UP_IDS = UP_PARTIES.map((p) => p.id);

/** Whether `url` is a loopback `http` URL, as `aaps up` writes its parties' URLs. */
function isLoopbackUrl(url: string): boolean {
  try {
    const u = new URL(url);
    return (
      u.protocol === 'http:' && (u.hostname === '127.0.0.1' || u.hostname === 'localhost') && u.port !== ''
    );
  } catch {
    return false;
  }
}

/**
 * The roster a previous `aaps up` wrote in `dataDir`, if any, checked before anything is written:
 * a roster of other parties (another deployment's: an `aaps gateway` data directory) or of another
 * threshold or ciphersuite than asked is the operator's to sort out, never rewritten (a new roster
 * means a new DKG, a new group key). A problem is a `UsageError`.
 */
function readUpRoster(config: GatewayConfig): Roster | undefined {
  const path = join(config.dataDir, 'roster.json');
  if (!existsSync(path)) return undefined;
  let roster: Roster;
  try {
    roster = parseRoster(readJsonFile(path, 'roster'));
  } catch (e) {
    throw new UsageError(
      `${path} is not a roster aaps up can read (${firstMessageLine(e)}): move it away, or give aaps up another --data-dir`,
      { cause: e },
    );
  }
  const ids = roster.parties.map((p) => p.id);
  const foreign = roster.parties.find((p, i) => p.id !== UP_IDS[i] || !isLoopbackUrl(p.url));
  if (foreign !== undefined || ids.length !== UP_IDS.length) {
    const what = foreign === undefined ? `${ids.length} parties` : `party ${foreign.id} at ${foreign.url}`;
    throw new UsageError(
      `${path} is not a roster aaps up wrote (${what}): for parties on their own hosts run aaps gateway --data-dir ${config.dataDir}, or give aaps up another --data-dir`,
    );
  }
  refuseOtherKey(config, roster.threshold, roster.ciphersuite);
  return roster;
}

/** A key of record of another threshold or ciphersuite than asked: a `UsageError` naming the flag to give. */
function refuseOtherKey(config: GatewayConfig, t: { min: number; max: number }, ciphersuite: string): void {
  if (t.min === config.threshold && ciphersuite === config.ciphersuite) return;
  const flag = t.min !== config.threshold ? `--threshold ${t.min}` : `--ciphersuite ${ciphersuite}`;
  throw new UsageError(
    `${config.dataDir} holds a ${t.min}-of-${t.max} ${ciphersuite} key; start it with ${flag}, or use a new --data-dir`,
  );
}

/**
 * The key set a previous `aaps up --local` saved in `dataDir`, if any, checked before anything is
 * written as `readUpRoster` checks the roster: one of another threshold or ciphersuite than asked
 * is refused (it was reused without a word), one that cannot be read is the operator's to move
 * away. A problem is a `UsageError`.
 */
function readLocalMaterial(config: GatewayConfig): LocalKeyMaterial | undefined {
  const path = join(config.dataDir, 'local', 'keys.json');
  if (!existsSync(path)) return undefined;
  let material: LocalKeyMaterial;
  let key: ReturnType<typeof localMaterialKey>;
  try {
    material = readJsonFile(path, 'local keys') as LocalKeyMaterial;
    key = localMaterialKey(material);
  } catch (e) {
    throw new UsageError(
      `${path} is not a local key set aaps up can read (${firstMessageLine(e)}): move it away, or give aaps up another --data-dir`,
      { cause: e },
    );
  }
  refuseOtherKey(config, key.threshold, key.ciphersuite);
  return material;
}

/** The saved public package (`readSavedPublicPackage`), a problem with it a `UsageError`. */
function savedPackage(dataDir: string, roster: Roster): unknown | undefined {
  try {
    return readSavedPublicPackage(dataDir, roster);
  } catch (e) {
    if (e instanceof AapsError) throw new UsageError(e.message, { cause: e });
    throw e;
  }
}

/** `--data-dir` must be a directory (or not exist yet). */
function checkDataDir(dataDir: string): void {
  if (existsSync(dataDir) && !statSync(dataDir).isDirectory())
    throw new UsageError(`--data-dir: ${dataDir} is not a directory`);
}

/** A party's data directory and its store hold key shares: owner only (0700). */
function ownerOnly(path: string): void {
  try {
    if ((statSync(path).mode & 0o077) !== 0) chmodSync(path, 0o700);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
  }
}

/**
 * The file a start of `aaps up` that sets anything up writes in its data directory before
 * anything else, naming what it is about to create, and removes once it is ready (or, failing,
 * with what it wrote): while it is there, a start that never served stopped (Ctrl-C, kill -9, a
 * power loss) part way, and the next start takes back what it names before it starts afresh.
 */
export const UNFINISHED_START_FILE = 'first-start-unfinished.json';

/**
 * Remove `paths` (absolute, under `dataDir`) that exist, each whole; returns the top-most of those
 * removed, relative to `dataDir` (a file under a directory removed is gone with it).
 */
function removeWritten(dataDir: string, paths: readonly string[]): string[] {
  const removed = paths.filter((p) => {
    if (!existsSync(p)) return false;
    rmSync(p, { recursive: true, force: true });
    return true;
  });
  const names = removed.map((p) => p.slice(dataDir.length + 1));
  return names.filter((n) => !names.some((d) => n.startsWith(`${d}/`)));
}

/**
 * What a start of `aaps up` may set up in its data directory, relative to it (`/`-separated), the
 * outer before the inner: `--local` (`local`) or with party processes, and `approvers`' keys.
 */
function startWrites(local: boolean, approvers: readonly string[]): string[] {
  return [
    'api-token',
    'gateway',
    'gateway/identity.key',
    'gateway/db',
    'approvers',
    ...approvers.map((id) => `approvers/${id}.key`),
    ...(local
      ? ['local', 'local/keys.json']
      : [
          'roster.json',
          'public-package.json',
          'parties',
          ...UP_IDS.flatMap((id) => [
            `parties/${id}`,
            `parties/${id}/identity.key`,
            `parties/${id}/party.json`,
            `parties/${id}/db`,
          ]),
        ]),
  ];
}

/** Whether `rel` is a path some start of `aaps up` sets up (an approver's key by any id). */
function isStartWrite(rel: string): boolean {
  if (/^approvers\/[^/]+\.key$/.test(rel) && !rel.includes('\\')) return true;
  return startWrites(true, []).includes(rel) || startWrites(false, []).includes(rel);
}

/**
 * A start in `dataDir` serves (`aaps up`, or `aaps gateway` on what a stopped first `aaps up` set
 * up): what is there is the operator's from now on, so the record of an unfinished first start
 * goes, durably, just before the gateway takes its first request (a power loss once
 * it served must not bring it back: the next start would take back a setup that signed). A start
 * stopped after this and before its ready line leaves a setup the next start resumes, as a later
 * start does.
 */
function servedFrom(dataDir: string): void {
  const record = join(dataDir, UNFINISHED_START_FILE);
  if (!existsSync(record)) return;
  rmSync(record, { force: true });
  syncDirectory(dataDir);
}

/** How long a start waits for a party process of a stopped start to stop (it watches its parent). */
const ORPHAN_WAIT_MS = 10_000;

/**
 * If a start in `dataDir` stopped before it was ready (its {@link UNFINISHED_START_FILE} is
 * there), take back what it wrote, as a failed start does, and say so in one line: nothing of it
 * ever served, and the next start is a first start again, with the flags it is given (threshold,
 * ciphersuite, fresh party ports), not the reuse of a half-made setup. Its logs stay. A party
 * process of that start still running (orphaned by a kill -9 of `aaps up`, and stopping) is
 * waited for; one that does not stop is named and nothing is removed. A setup that served since
 * (a build from before the record ran it: {@link refuseIfServed}) is refused, and nothing is removed.
 */
async function takeBackUnfinished(config: GatewayConfig, io: Pick<UpIo, 'print'>): Promise<void> {
  const file = join(config.dataDir, UNFINISHED_START_FILE);
  if (!existsSync(file)) return;
  let wrote: string[];
  try {
    const json = JSON.parse(readFileSync(file, 'utf8')) as { wrote?: unknown };
    if (!Array.isArray(json.wrote)) throw new Error('no list of what it wrote');
    wrote = json.wrote.map((p) => {
      const rel = String(p);
      // Only what a start sets up: never the directory itself, its logs, nor what else it holds.
      if (!isStartWrite(rel)) throw new Error(`not a path a first start writes: ${printable(rel)}`);
      return join(config.dataDir, rel);
    });
  } catch (e) {
    throw new UsageError(
      `${file} says a first start there stopped before it was ready, but it cannot be read (${firstMessageLine(e)}): move ${config.dataDir} away and start again`,
      { cause: e },
    );
  }
  await refuseIfServed(config.dataDir, file, wrote);
  for (const id of UP_IDS) {
    const dir = join(config.dataDir, 'parties', id);
    if (!wrote.includes(dir)) continue;
    const pidFile = join(dir, PARTY_PID_FILE);
    const marker = join(dir, 'party.json');
    const until = Date.now() + ORPHAN_WAIT_MS;
    let holder = pidFileHolder(pidFile, marker);
    while (holder !== undefined && Date.now() < until) {
      await new Promise((r) => setTimeout(r, 100));
      holder = pidFileHolder(pidFile, marker);
    }
    if (holder !== undefined)
      throw new Error(
        `party ${id} of a first start that stopped before it was ready still runs (pid ${holder}): stop it, then start again`,
      );
  }
  const removed = removeWritten(config.dataDir, wrote);
  rmSync(file, { force: true });
  io.print(
    `aaps: the first start in ${config.dataDir} was stopped before it was ready; removed what it wrote: ${removed.length > 0 ? removed.join(', ') : 'nothing'}${existsSync(join(config.dataDir, 'logs')) ? '; kept logs/' : ''}; starting afresh`,
  );
}

/**
 * Before a take-back removes the gateway's store (`wrote`, as the record at `file` names it):
 * refuse, removing nothing and keeping the record, if a gateway served from it since. A build from
 * before the record ignores it: it may have served from what the stopped start set up and sealed
 * evidence there, and a start never deletes evidence. Served means the store holds anything a start
 * does not write before it serves (`servedRecords`: a log entry, a bundle, an incident, an unseal's
 * claim); a store that another process holds, or that does not open, cannot be told apart from one
 * that served and is refused too. A `UsageError` (one line, exit 2) telling the operator what to do.
 */
async function refuseIfServed(dataDir: string, file: string, wrote: readonly string[]): Promise<void> {
  const db = join(dataDir, 'gateway', 'db');
  if (!wrote.includes(db) && !wrote.includes(join(dataDir, 'gateway'))) return;
  const keep = `check that setup, then delete ${file} to keep it (the next start resumes it)`;
  // No LevelDB `CURRENT` file: no store was ever made there, so nothing was written.
  if (!existsSync(join(db, 'CURRENT'))) return;
  let found: Awaited<ReturnType<typeof servedRecords>>;
  try {
    found = await servedRecords(db);
  } catch (e) {
    // LevelDB's lock: a gateway (of a build without the data directory's lock) has it open.
    const locked = (e as { cause?: { code?: unknown } }).cause?.code === 'LEVEL_LOCKED';
    const why = locked
      ? 'is in use by another process (stop it, then start again)'
      : `does not open (${firstMessageLine(innermostCause(e) ?? e)})`;
    throw new UsageError(
      `${file} names a first start that stopped before it was ready, but its gateway store ${db} ${why}: nothing was removed; if a gateway served from it, ${keep}`,
      { cause: e },
    );
  }
  if (!found.served) return;
  const n = found.logEntries;
  const what =
    n === undefined || n === 0
      ? `its gateway store ${db} holds records only a serving gateway writes`
      : `its evidence log holds ${n} ${n === 1 ? 'entry' : 'entries'}`;
  throw new UsageError(
    `${file} names a first start that stopped before it was ready, but that setup has served since (${what}; a build that does not know ${UNFINISHED_START_FILE} ran it): nothing was removed; ${keep}`,
  );
}

/**
 * What a start of `aaps up` writes in `dataDir`, as far as it does not exist yet: a failed start
 * removes these (each one whole: a directory this start made holds only what it wrote), and
 * nothing that was there before it, so the next start begins afresh instead of reusing the token,
 * keys, roster (with the ports it probed) and party stores of a start that never served.
 * `--local`: the token, the gateway's and approvers' keys and store, the dealt key set. With party
 * processes, a first start only (no `roster.json` yet) and, besides the token and the gateway's
 * and approvers' files, the roster, the group key of record and each party's directory (its key,
 * config and store, once its process has stopped); a later start's setup is the operator's and
 * stays. The logs (`logs/`) stay: they may hold the only detail of why the start failed, and no
 * later start reuses anything from them. Returns `mark`, which records these in
 * {@link UNFINISHED_START_FILE} before anything else is written (a start stopped by a signal,
 * or killed, leaves them to the next start: {@link takeBackUnfinished}; `serve` removes
 * that record just before the gateway takes its first request); and the undo, which says what it removed and that it kept
 * the logs.
 */
function freshPaths(config: GatewayConfig): {
  mark: () => boolean;
  undo: (io: Pick<UpIo, 'print'>) => void;
} {
  const at = (...p: string[]) => join(config.dataDir, ...p);
  const logs = config.local ? [at('logs', 'gateway.log')] : [at('logs')];
  const candidates = startWrites(config.local, config.approvers).map((n) => at(n));
  const fresh = candidates.filter((p) => !existsSync(p));
  const freshLogs = logs.filter((p) => !existsSync(p));
  const record = at(UNFINISHED_START_FILE);
  return {
    mark() {
      if (fresh.length === 0) return false;
      const wrote = fresh.map((p) => p.slice(config.dataDir.length + 1));
      writeFileDurably(record, `${JSON.stringify({ version: 1, wrote }, null, 2)}\n`, 0o600);
      return true;
    },
    undo(io) {
      const top = removeWritten(config.dataDir, fresh);
      rmSync(record, { force: true });
      const rel = (p: string) => p.slice(config.dataDir.length + 1);
      const keptLogs = freshLogs.filter((p) => existsSync(p)).map(rel);
      const kept =
        keptLogs.length === 0
          ? ''
          : config.local
            ? `; kept ${keptLogs.join(', ')} (it may say why)`
            : `; kept ${keptLogs.map((l) => `${l}/`).join(', ')} (the gateway's and the parties' logs may say why)`;
      if (top.length > 0) io.print(`aaps: start failed; removed what it wrote: ${top.join(', ')}${kept}`);
      else if (kept !== '') io.print(`aaps: start failed${kept}`);
    },
  };
}

/** The exit code for a stop signal during start-up (128 + the signal's number). */
const SIGNAL_EXIT: Readonly<Record<string, number>> = { SIGINT: 130, SIGTERM: 143 };

/**
 * Run `startUp` until it ends or the user asks to stop, whichever comes first. On a stop signal
 * `startUp`'s abort signal fires (its waits end: a DKG survey on a silent party no longer holds
 * Ctrl-C for a minute), `stop` tears down what it started, and the result is the signal's exit
 * code; the ready line is never printed.
 */
async function startOrStop<T>(
  io: UpIo,
  startUp: (signal: AbortSignal) => Promise<T>,
  stop: () => Promise<void>,
): Promise<{ started: T } | { code: number }> {
  const abort = new AbortController();
  const signalled = io.stopSignal.then((why) => {
    abort.abort(new Error(`${why} during start-up`));
    return why;
  });
  const started = startUp(abort.signal);
  const first = await Promise.race([
    started.then((v) => ({ started: v })),
    signalled.then((why) => ({ why })),
  ]);
  if ('started' in first) return first;
  io.print(`aaps: ${first.why} during start-up, stopping`);
  // Every wait of the start-up ends on the abort: once it settled, all it started is known.
  let timer: ReturnType<typeof setTimeout> | undefined;
  await Promise.race([
    started.then(
      () => undefined,
      () => undefined,
    ),
    new Promise((r) => {
      timer = setTimeout(r, 3_000);
    }),
  ]);
  clearTimeout(timer);
  await stop();
  return { code: SIGNAL_EXIT[first.why] ?? 1 };
}

/** What both start-ups serve with: the settings, the API tokens, the gateway's key and its logger. */
interface ServeBase {
  readonly config: GatewayConfig;
  readonly token: string;
  readonly grants: readonly TokenGrant[];
  readonly gatewayKey: IdentityKey;
  readonly logger: Logger;
}

/**
 * The last step of a start-up: serve the gateway (handed to `started` at once, so that a stop
 * signal arriving now still closes it) and read the group key the ready line announces. The
 * record of an unfinished first start goes just before the app takes its first request
 * (`servedFrom`): nothing is served while the next start could take back what serves it, and a
 * start stopped before that is still taken back.
 */
async function serve(
  base: ServeBase,
  wired: { coordinator: Coordinator; trust: TrustedKeys },
  signal: AbortSignal,
  started: (running: RunningGateway) => void,
): Promise<{ url: string; keys: Awaited<ReturnType<Coordinator['keys']>> }> {
  signal.throwIfAborted();
  const running = await startGateway({
    config: base.config,
    token: base.token,
    tokens: base.grants,
    coordinator: wired.coordinator,
    trust: wired.trust,
    identity: { id: 'gateway', key: base.gatewayKey },
    logger: base.logger,
    beforeServing: () => servedFrom(base.config.dataDir),
  });
  started(running);
  signal.throwIfAborted();
  return { url: running.url, keys: await wired.coordinator.keys() };
}

/** The coordinator of a roster's party processes, and what the gateway trusts: the roster's keys. */
function rosterCoordinator(
  base: ServeBase,
  roster: Roster,
  publicPackage: unknown,
): { coordinator: Coordinator; trust: TrustedKeys } {
  const coordinator = createHttpCoordinator({
    roster,
    gatewayKey: base.gatewayKey,
    publicPackage,
    logger: base.logger.child({ component: 'coordinator' }),
    savePublicPackage: (json) => writeSavedPublicPackage(base.config.dataDir, json),
  });
  return {
    coordinator,
    trust: { parties: roster.parties, approvers: roster.approvers, gateway: roster.gateway },
  };
}

export async function runUp(config0: GatewayConfig, io: UpIo): Promise<number> {
  const config: GatewayConfig = { ...config0, dataDir: resolve(config0.dataDir) };
  checkDataDir(config.dataDir);
  const grants = loadTokenGrants(config, io);
  // A failed start leaves no directory it created and left empty (withDataDirLock).
  return await withDataDirLock(config.dataDir, () => runUpLocked(config, io, grants));
}

async function runUpLocked(config: GatewayConfig, io: UpIo, grants: readonly TokenGrant[]): Promise<number> {
  // A start that stopped before it was ready left what it wrote: taken back first (it never served).
  await takeBackUnfinished(config, io);
  // Read and checked before anything is written (a refusal leaves the data directory as it was).
  const prior = config.local ? undefined : readUpRoster(config);
  const priorSaved = prior === undefined ? undefined : savedPackage(config.dataDir, prior);
  const material = config.local ? readLocalMaterial(config) : undefined;
  // The gateway's port too: one in use stops the start here, with nothing written.
  await checkCanListen(config.host, config.port);
  // A start that fails later takes back what it wrote (--local: the token and keys it made; with
  // party processes, all a first start set up).
  const written = config.local || prior === undefined ? freshPaths(config) : undefined;
  const unfinished = written?.mark() ?? false;
  memoryHint(io, 'up');
  const token = ensureToken(config.dataDir, config.apiToken);
  for (const line of tokenLines(token)) io.print(line);
  const gatewayLog = openLogFile(join(config.dataDir, 'logs', 'gateway.log'), { warn: io.print });
  const logger = createLogger({
    component: 'gateway',
    level: config.logLevel,
    write: (l) => void gatewayLog.write(l),
  });
  const parties: PartyProcess[] = [];
  let running: RunningGateway | undefined;
  let supervisor: Supervisor | undefined;
  let stopped = false;
  const stopAll = async () => {
    if (stopped) return;
    stopped = true;
    supervisor?.stop();
    await running?.close().catch(() => undefined);
    await Promise.all(parties.map((p) => p.stop('SIGTERM')));
    await gatewayLog.close();
  };

  const startUp = async (signal: AbortSignal) => {
    let wired: { coordinator: Coordinator; trust: TrustedKeys };
    let gatewayKey: IdentityKey;
    if (config.local) {
      gatewayKey = loadOrCreateIdentityKey(join(config.dataDir, 'gateway', 'identity.key'), true);
      const approvers = approverKeys(config.dataDir, config.approvers);
      const materialPath = join(config.dataDir, 'local', 'keys.json');
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
        createFileDurably(materialPath, `${JSON.stringify(local.exportMaterial(), null, 2)}\n`);
        io.print(
          `keys: dealt a ${config.threshold}-of-5 key set for the in-process parties (${materialPath}, 0600)`,
        );
      } else {
        io.print(`keys: reusing ${materialPath}`);
        const loose = looseModeWarning(
          materialPath,
          statSync(materialPath).mode & 0o777,
          "every party's key share",
        );
        if (loose !== undefined) io.print(`keys: warning: ${loose}`);
      }
      wired = { coordinator: local, trust: local.trustedKeys() };
    } else {
      const layoutOptions: LayoutOptions = {
        dir: config.dataDir,
        parties: UP_PARTIES,
        threshold: config.threshold,
        ciphersuite: config.ciphersuite,
        approvers: config.approvers,
        // A second start keeps the parties' URLs.
        ...(prior === undefined ? {} : { ports: prior.parties.map((p) => Number(new URL(p.url).port)) }),
        // Each department may run its own policy: <id>.json, else <role>.json, else the default.
        policyFor: (party) => partyPolicyFile(config.partyPolicyDir, party),
        // The parties sign checkpoints of this log only (a fresh origin is trusted on first use).
        logOrigin: config.logOrigin,
      };
      let layout = await layoutCluster(layoutOptions);
      signal.throwIfAborted();
      gatewayKey = layout.gatewayKey;
      const partyDir = (id: string) => join(config.dataDir, 'parties', id);
      const spawn = (id: string, url: string, env?: Record<string, string>) =>
        spawnParty(id, url, layout.configPaths[id] ?? '', {
          logFile: join(config.dataDir, 'logs', `party-${id}.log`),
          ...(env === undefined ? {} : { env }),
        });
      mkdirSync(join(config.dataDir, 'logs'), { recursive: true });
      // Ports probed for a first start may be taken by another process before a party binds one:
      // lay the cluster out again on fresh ports (a second start keeps its URLs).
      await retryTakenPort(
        async (attempt) => {
          if (attempt > 1) {
            layout = await layoutCluster(layoutOptions);
            signal.throwIfAborted();
          }
          for (const p of layout.roster.parties) {
            ownerOnly(partyDir(p.id));
            ownerOnly(join(partyDir(p.id), 'db'));
            // The party writes its log file itself: this process relays none of it.
            parties.push(spawn(p.id, p.url));
          }
          io.print(
            `parties: starting ${parties.length} party processes (logs in ${join(config.dataDir, 'logs')})`,
          );
          // A failure that is not retried leaves the parties to stopAll.
          await untilAborted(Promise.all(parties.map((p) => p.ready())), signal);
        },
        {
          attempts: prior === undefined ? START_ATTEMPTS : 1,
          signal,
          onRetry: async () => {
            await Promise.all(parties.splice(0).map((p) => p.stop('SIGKILL')));
            io.print(
              'parties: a port was taken by another process before its party could listen on it (EADDRINUSE); laying the cluster out again on fresh ports',
            );
          },
        },
      );
      // The group key of record: the parties must hold it (a fresh DKG only without one).
      const saved =
        priorSaved ?? (prior === undefined ? savedPackage(config.dataDir, layout.roster) : undefined);
      // A first start's store was created by the party just now.
      for (const p of parties) ownerOnly(join(partyDir(p.id), 'db'));
      io.print(`parties: ${parties.map((p) => `${p.id} ${p.url}`).join(', ')}`);
      /** Start the parties `ids` again, with `env` (this start only: nothing is written). */
      const restart = async (ids: readonly string[], env?: Record<string, string>) => {
        const again: PartyProcess[] = [];
        for (const id of ids) {
          const i = parties.findIndex((p) => p.id === id);
          const old = parties[i];
          if (old === undefined) continue;
          await old.stop('SIGTERM');
          const proc = spawn(old.id, old.url, env);
          parties[i] = proc;
          again.push(proc);
        }
        await untilAborted(Promise.all(again.map((p) => p.ready())), signal);
      };
      const dkg = await runDkg({
        roster: layout.roster,
        gatewayKey,
        dataDir: config.dataDir,
        log: (line) => io.print(line),
        ...(saved === undefined ? {} : { saved }),
        signal,
        // This process runs the parties: it lets the holders of an unusable share (a first DKG
        // cut short) take the new key for this start only, then starts them again without.
        allowReplace: async (holders) => {
          io.print(`keys: restarting ${holders.join(', ')} with allow_key_replace on for the new DKG`);
          await restart(holders, { AAPS_PARTY_ALLOW_KEY_REPLACE: 'true' });
          return async () => {
            if (signal.aborted) return; // stopping anyway: the setting is never written
            io.print(`keys: restarting ${holders.join(', ')} with allow_key_replace off`);
            await restart(holders, { AAPS_PARTY_ALLOW_KEY_REPLACE: 'false' });
          };
        },
      });
      signal.throwIfAborted();
      supervisor = superviseParties(parties, {
        say: io.print,
        logger: logger.child({ component: 'supervisor' }),
        respawn: (p) => spawn(p.id, p.url),
      });
      wired = rosterCoordinator(
        { config, token: token.token, grants, gatewayKey, logger },
        layout.roster,
        dkg.publicPackage,
      );
    }
    return serve({ config, token: token.token, grants, gatewayKey, logger }, wired, signal, (r) => {
      running = r;
    });
  };

  // Once ready, the start has served: what it wrote is the operator's, and no failure after that
  // takes it back (the undo below is for a start that never became ready).
  let served = false;
  try {
    const out = await startOrStop(io, startUp, stopAll);
    if ('code' in out) {
      if (unfinished)
        io.print(
          `aaps: this start did not finish (${UNFINISHED_START_FILE} names what it wrote): the next start takes that back and starts afresh`,
        );
      return out.code;
    }
    served = true;
    const { url, keys } = out.started;
    io.print(
      `aaps: ready at ${url} (group key ${keys.group_public_key}, ${keys.threshold.min}-of-${keys.threshold.max}${config.local ? ', local parties' : ''})`,
    );
    const why = await io.stopSignal;
    io.print(`aaps: ${why}, shutting down`);
    await stopAll();
    io.print('aaps: stopped');
    return 0;
  } catch (e) {
    // The kept log says why the start (or, once served, the run) failed, as the one line on
    // stderr does.
    logger.error(served ? 'gateway.failed' : 'gateway.start_failed', startFailure(e));
    await stopAll();
    if (!served) written?.undo(io);
    throw e;
  }
}

/** What the log records of a failed start: the error's code (if it has one) and its first line. */
function startFailure(e: unknown): { code?: string; message: string } {
  const message = firstMessageLine(e);
  return e instanceof AapsError ? { code: e.code, message } : { message };
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
  checkDataDir(config.dataDir);
  const grants = loadTokenGrants(config, io);
  // Its setup is checked before the data directory is taken (the lock would create it): a start
  // refused for a missing roster or key leaves nothing behind, not even a new directory. It is
  // read again under the lock, where another start can no longer change it.
  readGatewaySetup(config);
  return await withDataDirLock(config.dataDir, () => runGatewayLocked(config, io, grants));
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
  // A port in use stops the start before a DKG or a token is written.
  await checkCanListen(config.host, config.port);
  let running: RunningGateway | undefined;
  const stop = async () => {
    await running?.close().catch(() => undefined);
  };
  const startUp = async (signal: AbortSignal) => {
    // Before the key survey: a party on another roster refuses the gateway's calls, so the survey
    // (or the DKG) fails, and these lines name what may be the cause.
    for (const drift of await untilAborted(rosterDrift(roster), signal))
      io.print(describeDrift(drift, roster));
    const publicPackage =
      saved ??
      (
        await runDkg({
          roster,
          gatewayKey,
          dataDir: config.dataDir,
          log: (line) => io.print(line),
          signal,
        })
      ).publicPackage;
    memoryHint(io, 'gateway');
    const token = ensureToken(config.dataDir, config.apiToken);
    for (const line of tokenLines(token)) io.print(line);
    const logger = createLogger({ component: 'gateway', level: config.logLevel });
    const base = { config, token: token.token, grants, gatewayKey, logger };
    return serve(base, rosterCoordinator(base, roster, publicPackage), signal, (r) => {
      running = r;
    });
  };
  try {
    const out = await startOrStop(io, startUp, stop);
    if ('code' in out) return out.code;
    io.print(`aaps: gateway ready at ${out.started.url} (group key ${out.started.keys.group_public_key})`);
    io.print(`aaps: ${await io.stopSignal}, shutting down`);
    await stop();
    io.print('aaps: stopped');
    return 0;
  } catch (e) {
    await stop();
    throw e;
  }
}
