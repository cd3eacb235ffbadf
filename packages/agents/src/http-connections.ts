/**
 * Connection bounds both HTTP servers share (the party's and the gateway's): how long a request's
 * headers may take, and how many connections the server keeps open, in all and per remote
 * address, below the process's file-descriptor limit. A client that opens connections and sends
 * nothing (or one byte) then holds each for at most `HEADERS_TIMEOUT_MS`, and never more than the
 * caps, so the process keeps descriptors for honest clients and for its own files.
 *
 * Node 20 checks `headersTimeout` and `requestTimeout` every `connectionsCheckingInterval` (30 s
 * by default, hence a shorter one here), and only on connections with a request under way: a fresh
 * connection counts from its accept, a kept-alive one from the first byte of its next request. An
 * idle kept-alive connection is bounded by `keepAliveTimeout` instead, which stays longer than the
 * clients' own (undici keeps them ~4 s), so a coordinator never sends on a connection this server
 * is closing at that moment.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import type { Server, ServerOptions } from 'node:http';
import type { Socket } from 'node:net';
import { coalescedLog } from './coalesced-log.js';
import type { Logger } from './logger.js';

/** The longest a request's headers may take, counted from a fresh connection's accept. */
export const HEADERS_TIMEOUT_MS = 10_000;
/** How long an idle kept-alive connection stays open (longer than the clients keep theirs). */
export const KEEP_ALIVE_TIMEOUT_MS = 65_000;
/** How often Node looks for requests past their header or request deadline. */
export const CONNECTIONS_CHECK_MS = 1_000;
/** The file-descriptor limit assumed when the process's own cannot be read. */
export const ASSUMED_FD_LIMIT = 1024;

/** The options a server is created with (`http.createServer`), for the deadlines above. */
export function serverTimeoutOptions(): ServerOptions {
  return {
    headersTimeout: HEADERS_TIMEOUT_MS,
    requestTimeout: 300_000,
    keepAliveTimeout: KEEP_ALIVE_TIMEOUT_MS,
    connectionsCheckingInterval: CONNECTIONS_CHECK_MS,
  };
}

/**
 * The soft `RLIMIT_NOFILE` of this process (Node raises it to the hard limit at start): read from
 * `/proc/self/limits`, else from `ulimit -n`; `undefined` when neither answers or it is unlimited.
 */
export function openFileLimit(): number | undefined {
  try {
    const m = /^Max open files\s+(\d+)/m.exec(readFileSync('/proc/self/limits', 'utf8'));
    if (m) return Number(m[1]);
  } catch {
    // not Linux: ask the shell, whose limit is this process's (inherited)
  }
  try {
    const out = execFileSync('sh', ['-c', 'ulimit -n'], { encoding: 'utf8', timeout: 2000 }).trim();
    return /^\d+$/.test(out) ? Number(out) : undefined;
  } catch {
    return undefined;
  }
}

export interface ConnectionLimits {
  /** Open connections in all; one past it is closed at accept. */
  maxConnections: number;
  /** Open connections from one remote address; one past it is closed at accept. */
  maxPerAddress: number;
}

/** The most connections a default allows, whatever the descriptor limit (memory bounds them too). */
const DEFAULT_CEILING = 8192;

/**
 * Defaults for a process with `fdLimit` descriptors: half of them for connections (the rest for
 * databases, logs, outgoing calls), at most 8192; a quarter of those from one address.
 */
export function defaultConnectionLimits(
  fdLimit: number = openFileLimit() ?? ASSUMED_FD_LIMIT,
): ConnectionLimits {
  return connectionLimitsFor(Math.max(16, Math.min(DEFAULT_CEILING, Math.floor(fdLimit / 2))));
}

/** `maxConnections` in all, and a quarter of them (rounded up) from one address. */
export function connectionLimitsFor(maxConnections: number): ConnectionLimits {
  return { maxConnections, maxPerAddress: Math.max(1, Math.ceil(maxConnections / 4)) };
}

/**
 * Bounds the connections `server` keeps open: one past `maxConnections` (Node's own check, before
 * a socket is made) or past `maxPerAddress` from its remote address is closed at once, and the
 * connections already open carry on. Refusals are logged per cap as {@link coalescedLog} says
 * (the first, then at most one line a minute with how many were refused since). Returns the count of open connections per address, for tests.
 */
export function limitConnections(
  server: Server,
  limits: ConnectionLimits,
  logger: Logger,
): { open(address: string): number } {
  const perAddress = new Map<string, number>();
  const refusals = coalescedLog(logger, 'http.connections_refused');
  const note = (reason: 'total_cap' | 'per_address_cap') =>
    refusals.note(reason, {
      reason,
      max_connections: limits.maxConnections,
      max_per_address: limits.maxPerAddress,
      detail: 'new connections past the cap are closed at accept; open ones carry on',
    });
  server.maxConnections = limits.maxConnections;
  server.on('drop', () => note('total_cap'));
  server.on('connection', (socket: Socket) => {
    const address = socket.remoteAddress ?? '';
    const open = perAddress.get(address) ?? 0;
    if (open >= limits.maxPerAddress) {
      socket.destroy();
      note('per_address_cap');
      return;
    }
    perAddress.set(address, open + 1);
    socket.once('close', () => {
      const left = (perAddress.get(address) ?? 1) - 1;
      if (left > 0) perAddress.set(address, left);
      else perAddress.delete(address);
    });
  });
  return { open: (address) => perAddress.get(address) ?? 0 };
}
