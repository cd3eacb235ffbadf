/**
 * Local cluster plumbing for `aaps up`, `aaps party init` and the end-to-end tests: create party
 * data directories (identity key 0600), a roster and per-party config files, and spawn party
 * processes on loopback. File and process I/O lives here, not in the party app.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { closeSync, fstatSync, mkdirSync, openSync, readSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { dirname, join, resolve } from 'node:path';
import type { Readable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { AapsError, bytesToHex, type CiphersuiteId, type IdentityKey } from '@aaps/mpc-core';
import { PARTY_LISTENING } from './party-signal.js';
import type { PartyRole } from './policy/roles.js';
import type { Roster, RosterParty } from './roster.js';
import { loadOrCreateIdentityKey, writeJsonFile } from './store/files.js';

export interface PartySpec {
  id: string;
  role: PartyRole;
  department?: string;
}

export interface ClusterLayout {
  dir: string;
  roster: Roster;
  rosterPath: string;
  configPaths: Record<string, string>;
  gatewayKey: IdentityKey;
  approverKeys: Record<string, IdentityKey>;
}

/** The five party roles `aaps up` runs, named as the seed document names its agents. */
export const DEFAULT_PARTIES: readonly PartySpec[] = [
  { id: 'monitoring-agent', role: 'monitoring', department: 'sre' },
  { id: 'problem-solver-agent', role: 'problem-solver', department: 'platform' },
  { id: 'strategy-agent', role: 'strategy', department: 'risk' },
  { id: 'quality-assurance-agent', role: 'quality-assurance', department: 'qa' },
  { id: 'audit-agent', role: 'audit', department: 'compliance' },
];

/** The same five parties with their roles as ids, as `aaps up` runs them. */
export const ROLE_NAMED_PARTIES: readonly PartySpec[] = DEFAULT_PARTIES.map(({ role, department }) => ({
  id: role,
  role,
  department,
}));

/** A free TCP port on 127.0.0.1 (probe and release). */
export async function freePort(host = '127.0.0.1'): Promise<number> {
  return (await freePorts(1, host))[0]!;
}

/** `count` distinct free TCP ports: every probe is held open until all are found, then released. */
export async function freePorts(count: number, host = '127.0.0.1'): Promise<number[]> {
  const servers: Server[] = [];
  try {
    const ports: number[] = [];
    for (let i = 0; i < count; i++) {
      const srv = createServer();
      srv.unref();
      servers.push(srv);
      ports.push(
        await new Promise<number>((res, rej) => {
          srv.once('error', rej);
          srv.listen(0, host, () => {
            const addr = srv.address();
            if (typeof addr === 'object' && addr) res(addr.port);
            else rej(new Error('no port'));
          });
        }),
      );
    }
    return ports;
  } finally {
    await Promise.all(servers.map((s) => new Promise((res) => s.close(res))));
  }
}

/** What {@link layoutCluster} takes. */
export interface LayoutOptions {
  dir: string;
  parties?: readonly PartySpec[];
  threshold?: number;
  ciphersuite?: CiphersuiteId;
  host?: string;
  ports?: readonly number[];
  approvers?: readonly string[];
  /** A policy file for a party (its department's own policy); default: the role's default policy. */
  policyFor?: (party: RosterParty) => string | undefined;
  /** Let the coordinator replace the parties' keys (`allow_key_replace`; tests and benchmarks that re-key). */
  allowKeyReplace?: boolean;
  /** The log origin the parties sign checkpoints for (`log_origin`); default: any. */
  logOrigin?: string;
}

/** Create (or reuse) the identity keys, roster and configs of a local cluster under `dir`. */
export async function layoutCluster(opts: LayoutOptions): Promise<ClusterLayout> {
  const dir = resolve(opts.dir);
  const parties = opts.parties ?? DEFAULT_PARTIES;
  const host = opts.host ?? '127.0.0.1';
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const rosterParties: RosterParty[] = [];
  const configPaths: Record<string, string> = {};
  // Ports not given are probed together, so no two parties of this cluster get the same one.
  const probed = await freePorts(parties.filter((_, i) => opts.ports?.[i] === undefined).length, host);
  for (const [i, p] of parties.entries()) {
    const dataDir = join(dir, 'parties', p.id);
    const key = loadOrCreateIdentityKey(join(dataDir, 'identity.key'), true);
    const port = opts.ports?.[i] ?? probed.shift()!;
    rosterParties.push({
      id: p.id,
      role: p.role,
      department: p.department ?? p.role,
      url: `http://${host}:${port}`,
      identity_key: bytesToHex(key.publicKey),
      index: i + 1,
    });
    configPaths[p.id] = join(dataDir, 'party.json');
  }
  const gatewayKey = loadOrCreateIdentityKey(join(dir, 'gateway', 'identity.key'), true);
  const approverKeys: Record<string, IdentityKey> = {};
  for (const a of opts.approvers ?? [])
    approverKeys[a] = loadOrCreateIdentityKey(join(dir, 'approvers', `${a}.key`), true);
  const roster: Roster = {
    version: 1,
    ciphersuite: opts.ciphersuite ?? 'FROST-ED25519-SHA512-v1',
    threshold: { min: opts.threshold ?? Math.floor(parties.length / 2) + 1, max: parties.length },
    parties: rosterParties,
    gateway: { id: 'gateway', identity_key: bytesToHex(gatewayKey.publicKey) },
    approvers: Object.entries(approverKeys).map(([id, k]) => ({ id, identity_key: bytesToHex(k.publicKey) })),
  };
  const rosterPath = join(dir, 'roster.json');
  writeJsonFile(rosterPath, roster);
  for (const p of rosterParties) {
    const port = Number(new URL(p.url).port);
    const policy = opts.policyFor?.(p);
    writeJsonFile(configPaths[p.id]!, {
      id: p.id,
      host,
      port,
      data_dir: '.',
      roster: rosterPath,
      ...(policy === undefined ? {} : { policy }),
      ...(opts.allowKeyReplace ? { allow_key_replace: true } : {}),
      ...(opts.logOrigin === undefined ? {} : { log_origin: opts.logOrigin }),
    });
  }
  return { dir, roster, rosterPath, configPaths, gatewayKey, approverKeys };
}

export interface PartyProcess {
  readonly id: string;
  readonly url: string;
  readonly child: ChildProcess;
  /**
   * Wait until this process says it listens and `/healthz` at its URL answers as this party (or
   * the process exits: e.g. its port was taken; or is killed by a signal, named in the error; or
   * could not be spawned: `UNAVAILABLE` with the errno code in `details.errno`).
   */
  ready(timeoutMs?: number): Promise<void>;
  /** Send a signal and wait for the exit. */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
  output(): string;
}

/**
 * V8 limits for party processes: V8 grows its heap lazily under steady load (resident memory rose
 * about 3.5 MiB per 100 incidents without a limit); bounded, it stays flat well under 120 MiB.
 */
export const PARTY_NODE_ARGS: readonly string[] = ['--max-old-space-size=64', '--max-semi-space-size=2'];

/**
 * glibc malloc arenas for party processes, unless the environment sets its own: the default (8 a
 * core) keeps memory freed by the libuv and LevelDB threads in arenas of their own. Two measured
 * 7 MiB less resident memory a party and 22 MiB less for the gateway over 9,000 incidents
 * (docs/PERFORMANCE.md, "Memory"); `npm start` sets it for the gateway.
 */
export const PARTY_MALLOC_ARENA_MAX = '2';

/** The built party entry point (`packages/agents/dist/main.js`), from source or build alike. */
export const PARTY_MAIN = join(dirname(dirname(fileURLToPath(import.meta.url))), 'dist', 'main.js');

/** Spawn `node dist/main.js --config <path>` for one party. */
/** At most the last `max` bytes of `path` from byte `from` on, as text; '' if it cannot be read. */
function readTail(path: string, from: number, max: number): string {
  let fd: number | undefined;
  try {
    fd = openSync(path, 'r');
    const end = fstatSync(fd).size;
    const start = Math.max(from, end - max);
    const buf = Buffer.alloc(Math.max(0, end - start));
    readSync(fd, buf, 0, buf.length, start);
    return buf.toString('utf8');
  } catch {
    return '';
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

/**
 * The `AAPS_PARTY_` settings a spawned party takes from this process's environment: those every
 * department may share (how it logs, how long it keeps nonces, whether it drops them at start, its
 * replay window and body limit), so an operator can set them for all the parties `aaps up` runs.
 */
export const SHARED_PARTY_SETTINGS: readonly string[] = [
  'AAPS_PARTY_LOG_LEVEL',
  'AAPS_PARTY_NONCE_TTL_SEC',
  'AAPS_PARTY_DROP_NONCES_AT_START',
  'AAPS_PARTY_TIMESTAMP_WINDOW_SEC',
  'AAPS_PARTY_MAX_BODY_BYTES',
];

/**
 * What a spawned party inherits from this process's environment: everything but the `AAPS_`
 * settings, except {@link SHARED_PARTY_SETTINGS}. The others configure this process (the gateway's
 * admin token and webhook secret among them) or one party each (its id, port, files, its
 * `AAPS_PARTY_DATA_KEY`: one at-rest key for five departments); a party gets those from its config
 * file and the caller's `env`.
 */
export function partyEnvironment(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  return Object.fromEntries(
    Object.entries(env).filter(([name]) => !name.startsWith('AAPS_') || SHARED_PARTY_SETTINGS.includes(name)),
  );
}

export function spawnParty(
  id: string,
  url: string,
  configPath: string,
  opts: {
    env?: Record<string, string>;
    mainPath?: string;
    nodeArgs?: readonly string[];
    onLine?: (line: string) => void;
    /**
     * Append the party's stdout and stderr to this file directly (the child writes to the file
     * descriptor; this process handles none of it). Takes precedence over `onLine`.
     */
    logFile?: string;
  } = {},
): PartyProcess {
  const fd = opts.logFile === undefined ? undefined : openSync(opts.logFile, 'a', 0o600);
  // The log file is appended across runs: what this run wrote starts here.
  const logStart = fd === undefined ? 0 : fstatSync(fd).size;
  let child: ChildProcess;
  try {
    child = spawn(
      process.execPath,
      [...(opts.nodeArgs ?? PARTY_NODE_ARGS), opts.mainPath ?? PARTY_MAIN, '--config', configPath],
      {
        // fd 3 is a pipe the party watches: it stops when this process goes away (see main.ts).
        env: {
          MALLOC_ARENA_MAX: PARTY_MALLOC_ARENA_MAX,
          ...partyEnvironment(process.env),
          AAPS_PARTY_PARENT_FD: '3',
          ...opts.env,
        },
        stdio: fd === undefined ? ['ignore', 'pipe', 'pipe', 'pipe'] : ['ignore', fd, fd, 'pipe'],
      },
    );
  } finally {
    // Also when spawn throws (E2BIG, EMFILE): the log file is not left open.
    if (fd !== undefined) closeSync(fd);
  }
  // A process that cannot be spawned (EAGAIN, ENOMEM, a missing node) emits 'error' and no
  // 'exit': without a listener that would be an uncaught exception in this process.
  let spawnError: NodeJS.ErrnoException | undefined;
  child.on('error', (e: NodeJS.ErrnoException) => {
    if (child.pid === undefined) spawnError ??= e;
  });
  let out = '';
  const keep = (chunk: Buffer) => {
    const text = chunk.toString();
    out = (out + text).slice(-64 * 1024);
    if (opts.onLine) for (const line of text.split('\n')) if (line) opts.onLine(line);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  // The child says on fd 3 when its own server listens (see party-signal.ts).
  let listening = false;
  let signal = '';
  const pipe = child.stdio[3] as Readable | null | undefined;
  pipe?.on('data', (chunk: Buffer) => {
    signal = (signal + chunk.toString()).slice(-256);
    if (signal.includes(PARTY_LISTENING)) listening = true;
  });
  pipe?.on('error', () => {});
  /** The last 64 KiB of what this run of the party wrote. */
  const tail = () => (opts.logFile === undefined ? out : readTail(opts.logFile, logStart, 64 * 1024));
  const exited = new Promise<number | null>((res) => {
    child.once('exit', (code) => res(code));
    child.once('error', () => {
      if (child.pid === undefined) res(null);
    });
  });
  return {
    id,
    url,
    child,
    output: tail,
    async ready(timeoutMs = 15_000) {
      const deadline = Date.now() + timeoutMs;
      while (Date.now() < deadline) {
        if (spawnError !== undefined)
          throw new AapsError(
            'UNAVAILABLE',
            `party ${id} could not be started (${spawnError.code ?? 'spawn'})`,
            {
              cause: spawnError,
              details: { errno: spawnError.code },
            },
          );
        // Killed by a signal (the OOM killer, V8's abort at its heap limit, kill -9), a process
        // has no exit code: it is as gone as one that exited, and says so with its signal.
        if (child.exitCode !== null || child.signalCode !== null) {
          const how =
            child.exitCode !== null ? `exited with ${child.exitCode}` : `was killed by ${child.signalCode}`;
          throw new Error(`party ${id} ${how}: ${tail().trim().split('\n').slice(-12).join(' | ')}`);
        }
        if (listening) {
          let body: { party?: unknown } | undefined;
          try {
            const r = await fetch(`${url}/healthz`, { signal: AbortSignal.timeout(1000) });
            if (r.ok) body = (await r.json()) as { party?: unknown };
          } catch {
            // not answering yet
          }
          if (body?.party === id) return;
          if (body) throw new Error(`party ${id}: ${url} is answered by ${String(body.party)}`);
        }
        await new Promise((r) => setTimeout(r, 50));
      }
      throw new Error(`party ${id} did not become ready in ${timeoutMs} ms`);
    },
    async stop(signal: NodeJS.Signals = 'SIGTERM') {
      if (child.exitCode !== null || child.signalCode !== null) return child.exitCode;
      if (spawnError !== undefined) return null;
      child.kill(signal);
      return exited;
    },
  };
}

/**
 * Whether a party failed to start because its port was taken: a probed port is free when probed,
 * and another process (a connection's ephemeral port, another cluster's probe) may bind it before
 * the party does.
 */
export function portTaken(error: unknown): boolean {
  return error instanceof Error && /cannot listen on \S+: EADDRINUSE/.test(error.message);
}

/** How many times {@link startCluster} lays out and starts a cluster whose ports it probed. */
export const START_ATTEMPTS = 3;

/**
 * Run `start` (lay a cluster out on probed ports and start its parties) again while it fails
 * because another process took a probed port ({@link portTaken}), up to `attempts` times in all
 * (default {@link START_ATTEMPTS}). `start` stops what it started before it fails, or `onRetry`
 * does, before the next attempt. Any other failure, the last attempt's, or one after `signal`
 * aborted is thrown as it is: a stop request is never answered with another layout.
 */
export async function retryTakenPort<T>(
  start: (attempt: number) => Promise<T>,
  opts: {
    attempts?: number;
    signal?: AbortSignal;
    onRetry?: (error: unknown, attempt: number) => void | Promise<void>;
  } = {},
): Promise<T> {
  const attempts = opts.attempts ?? START_ATTEMPTS;
  for (let attempt = 1; ; attempt++) {
    try {
      return await start(attempt);
    } catch (e) {
      if (attempt >= attempts || opts.signal?.aborted || !portTaken(e)) throw e;
      await opts.onRetry?.(e, attempt);
    }
  }
}

/**
 * Lay out a cluster (`layoutCluster`), let `prepare` adjust its files, and start its parties. When
 * the ports were probed (none given) and a party could not listen because another process took
 * its port meanwhile ({@link portTaken}), every party is stopped and the cluster laid out again on
 * fresh ports (keys and data directories kept), up to {@link START_ATTEMPTS} times in all.
 */
export async function startCluster(
  layoutOpts: LayoutOptions,
  opts: {
    env?: Record<string, string>;
    prepare?: (layout: ClusterLayout) => void | Promise<void>;
    attempts?: number;
  } = {},
): Promise<{ layout: ClusterLayout; procs: PartyProcess[] }> {
  // startParties stops every party of a start that fails.
  return retryTakenPort(
    async () => {
      const layout = await layoutCluster(layoutOpts);
      await opts.prepare?.(layout);
      const procs = await startParties(layout, opts.env === undefined ? {} : { env: opts.env });
      return { layout, procs };
    },
    { attempts: layoutOpts.ports === undefined ? (opts.attempts ?? START_ATTEMPTS) : 1 },
  );
}

/** Spawn every party of a layout and wait until all are ready. */
export async function startParties(
  layout: ClusterLayout,
  opts: { env?: Record<string, string> } = {},
): Promise<PartyProcess[]> {
  const procs: PartyProcess[] = [];
  try {
    // A spawn that throws (E2BIG) stops the parties already spawned too.
    for (const p of layout.roster.parties)
      procs.push(spawnParty(p.id, p.url, layout.configPaths[p.id]!, opts));
    await Promise.all(procs.map((p) => p.ready()));
  } catch (e) {
    await Promise.all(procs.map((p) => p.stop('SIGKILL')));
    throw e;
  }
  return procs;
}
