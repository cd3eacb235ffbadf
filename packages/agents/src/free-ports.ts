/**
 * Free TCP ports for listeners that start later (the parties `aaps up` lays out, whose URLs the
 * roster keeps for every later start; the tests' gateways and clusters).
 *
 * A port the kernel picks for `listen(0)` comes from the ephemeral range, the one outgoing
 * connections take their local ports from: between the probe and the real `listen`, or on any later
 * start, a connection of any process on the host can hold it, and the listener fails with
 * `EADDRINUSE`. So ports are drawn at random below that range (Linux's `ip_local_port_range`, whose
 * default starts at 32768; other systems start theirs at 49152 or above) and each is probed with a
 * `listen` on it; the kernel's pick is the fallback when nothing below is free.
 */
import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';

/** The lowest port drawn (above the registered ports most services use). */
const LOWEST = 20_000;
/** Below the default ephemeral range of Linux (32768), macOS and Windows (49152). */
const DEFAULT_EPHEMERAL_START = 32_768;
/** Random draws tried per port before the kernel picks one. */
const TRIES = 64;

/** Where this host's ephemeral range starts (Linux: `ip_local_port_range`), if it can tell. */
function ephemeralStart(): number {
  try {
    const low = Number(readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0]);
    if (Number.isInteger(low) && low > 1024 && low <= 65_535) return low;
  } catch {
    // Not Linux, or no /proc: the common default.
  }
  return DEFAULT_EPHEMERAL_START;
}

/** The ports drawn from: [LOWEST, the ephemeral range's start), or none if that is too narrow. */
export function drawRange(): { from: number; to: number } | undefined {
  const to = ephemeralStart();
  return to - LOWEST >= 1_000 ? { from: LOWEST, to } : undefined;
}

/** Listen on `port` (0: the kernel's pick); resolves with the server, or undefined if it is taken. */
function probe(port: number, host: string): Promise<Server | undefined> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.once('error', (e: NodeJS.ErrnoException) => {
      if (port !== 0 && (e.code === 'EADDRINUSE' || e.code === 'EACCES')) resolve(undefined);
      else reject(e);
    });
    srv.listen(port, host, () => resolve(srv));
  });
}

const portOf = (srv: Server): number => {
  const addr = srv.address();
  if (typeof addr === 'object' && addr !== null) return addr.port;
  throw new Error('a probe listener has no port');
};

/**
 * `count` distinct free TCP ports on `host`, below the ephemeral range where the host has room
 * there: every probe is held open until all are found, then released.
 */
export async function freePorts(count: number, host = '127.0.0.1'): Promise<number[]> {
  const servers: Server[] = [];
  const range = drawRange();
  try {
    for (let i = 0; i < count; i++) {
      let srv: Server | undefined;
      for (let t = 0; range !== undefined && srv === undefined && t < TRIES; t++)
        srv = await probe(range.from + Math.floor(Math.random() * (range.to - range.from)), host);
      srv ??= await probe(0, host);
      servers.push(srv!);
    }
    return servers.map(portOf);
  } finally {
    await Promise.all(servers.map((s) => new Promise((res) => s.close(res))));
  }
}

/** A free TCP port on `host` (probed and released). */
export async function freePort(host = '127.0.0.1'): Promise<number> {
  return (await freePorts(1, host))[0]!;
}
