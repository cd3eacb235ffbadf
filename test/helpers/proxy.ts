/**
 * Proxies the fault suites put between a coordinator (the gateway, or a test's `PartyClient`) and
 * a party, so the party code stays untouched:
 * - `startFaultProxy`: HTTP. Passes requests through, or makes the party a liar (a corrupted
 *   share or commitment, re-signed with the party's own identity key, as a compromised party would
 *   send), stalls past the coordinator's timeout, or drops the connection.
 * - `startTcpProxy`: TCP. Adds latency, loses connections at a rate, and partitions (every
 *   connection cut, new ones refused) until healed.
 */
import { randomBytes } from 'node:crypto';
import { createServer as createHttpServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { CALL_HEADER, RPC_PATHS, type RpcKind } from '@aaps/agents';
import {
  type CiphersuiteId,
  type IdentityKey,
  Round1CommitmentBatchCodec,
  SignatureShareCodec,
  type SignedEnvelope,
  signEnvelope,
} from '@aaps/mpc-core';
import type { Rng } from './rng.js';

export type FaultMode =
  | 'pass'
  | 'corrupt-share'
  | 'corrupt-commitment'
  | 'corrupt-aggregation'
  | 'stall'
  | 'drop';

export interface FaultProxy {
  readonly url: string;
  mode: FaultMode;
  /** Requests seen, by path. */
  readonly seen: Map<string, number>;
  /** Responses the proxy altered or withheld. */
  tampered: number;
  close(): Promise<void>;
}

function readBody(req: IncomingMessage): Promise<Buffer> {
  return new Promise((res, rej) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => res(Buffer.concat(chunks)));
    req.on('error', rej);
  });
}

type Body = Record<string, unknown>;

/** The corrupted answer body a lying party sends for a call to `path`, if it lies about that call. */
function tamperBody(mode: FaultMode, path: string, body: Body, suite: CiphersuiteId): Body | undefined {
  if (mode === 'corrupt-share' && path === '/v1/sign/round2' && body.share !== undefined) {
    const share = SignatureShareCodec.fromJSON(body.share, suite).value;
    // A random scalar below 2^252 (so canonical): two liars' errors cannot cancel in the aggregate,
    // as two opposite single-bit flips would.
    const bytes = randomBytes(share.share.length);
    bytes[bytes.length - 1] = bytes[bytes.length - 1]! & 0x0f;
    return { ...body, share: SignatureShareCodec.toJSON(suite, { ...share, share: bytes }) };
  }
  if (mode === 'corrupt-commitment' && path === '/v1/sign/commit' && body.commitments !== undefined) {
    const batch = Round1CommitmentBatchCodec.fromJSON(body.commitments, suite).value;
    const swapped = batch.commitments.map((c) => ({ ...c, hiding: c.binding, binding: c.hiding }));
    return { ...body, commitments: Round1CommitmentBatchCodec.toJSON(suite, { commitments: swapped }) };
  }
  if (mode === 'corrupt-aggregation' && path === '/v1/agg/evaluate' && Array.isArray(body.result_shares)) {
    // Result shares of the secret-shared aggregation: each share replaced by random bytes.
    return {
      ...body,
      result_shares: (body.result_shares as { share: string }[]).map((r) => ({
        ...r,
        share: Buffer.from(randomBytes(Buffer.from(r.share, 'base64').length)).toString('base64'),
      })),
    };
  }
  return undefined;
}

/**
 * Corrupt a party's answer and sign it again with the party's key (a lying, not a broken, party).
 * A `batch` answer is corrupted call by call, each as the call's own route would be.
 */
function tamper(
  mode: FaultMode,
  path: string,
  request: { payload?: { body?: { calls?: { kind?: string }[] } } },
  env: SignedEnvelope<{ body: Body }>,
  suite: CiphersuiteId,
  key: IdentityKey,
): SignedEnvelope<{ body: Body }> | undefined {
  const body = env.payload.body;
  let next: Body | undefined;
  if (path === '/v1/batch' && Array.isArray(body.results)) {
    const calls = request.payload?.body?.calls ?? [];
    let changed = false;
    const results = (body.results as { body?: Body }[]).map((r, i) => {
      const path = RPC_PATHS[calls[i]?.kind as RpcKind] ?? '';
      const lie = r.body ? tamperBody(mode, path, r.body, suite) : undefined;
      if (!lie) return r;
      changed = true;
      return { ...r, body: lie };
    });
    if (changed) next = { ...body, results };
  } else {
    next = tamperBody(mode, path, body, suite);
  }
  if (!next) return undefined;
  const { signature: _drop, ...meta } = env.meta;
  return signEnvelope(
    { ...env, meta, payload: { ...env.payload, body: next } },
    key.secretKey,
  ) as SignedEnvelope<{
    body: Body;
  }>;
}

export async function startFaultProxy(opts: {
  upstream: string;
  suite: CiphersuiteId;
  /** The party's identity key, so a lying answer still carries the party's signature. */
  partyKey: IdentityKey;
  stallMs?: number;
}): Promise<FaultProxy> {
  const sockets = new Set<Socket>();
  const timers = new Set<NodeJS.Timeout>();
  const state: FaultProxy = {
    url: '',
    mode: 'pass',
    seen: new Map(),
    tampered: 0,
    close: async () => {
      for (const t of timers) clearTimeout(t);
      for (const s of sockets) s.destroy();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    const path = new URL(req.url ?? '/', 'http://x').pathname;
    state.seen.set(path, (state.seen.get(path) ?? 0) + 1);
    const body = await readBody(req);
    const mode = state.mode;
    if (mode === 'drop') {
      state.tampered++;
      req.socket.destroy();
      return;
    }
    let upstream: Response;
    try {
      upstream = await fetch(new URL(req.url ?? '/', opts.upstream), {
        method: req.method ?? 'GET',
        headers: {
          'content-type': req.headers['content-type'] ?? 'application/json',
          // The coordinator's call header, as a relay on the path passes it on (call-auth.ts).
          ...(typeof req.headers[CALL_HEADER] === 'string'
            ? { [CALL_HEADER]: req.headers[CALL_HEADER] }
            : {}),
        },
        ...(req.method === 'GET' || req.method === 'HEAD' ? {} : { body }),
        signal: AbortSignal.timeout(30_000),
      });
    } catch {
      req.socket.destroy();
      return;
    }
    let text = await upstream.text();
    if (mode === 'stall') {
      state.tampered++;
      await new Promise<void>((r) => {
        const t = setTimeout(r, opts.stallMs ?? 60_000);
        timers.add(t);
        req.socket.once('close', () => {
          clearTimeout(t);
          r();
        });
      });
      if (req.socket.destroyed) return;
    }
    if (upstream.ok && mode.startsWith('corrupt-')) {
      const request = body.length > 0 ? JSON.parse(body.toString('utf8')) : {};
      const lie = tamper(mode, path, request, JSON.parse(text), opts.suite, opts.partyKey);
      if (lie) {
        state.tampered++;
        text = JSON.stringify(lie);
      }
    }
    res.writeHead(upstream.status, {
      'content-type': upstream.headers.get('content-type') ?? 'application/json',
    });
    res.end(text);
  };
  const server = createHttpServer((req, res) => {
    handle(req, res).catch(() => req.socket.destroy());
  });
  server.on('connection', (s) => {
    sockets.add(s);
    s.once('close', () => sockets.delete(s));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const addr = server.address();
  (state as { url: string }).url = `http://127.0.0.1:${typeof addr === 'object' && addr ? addr.port : 0}`;
  return state;
}

export interface TcpProxy {
  readonly port: number;
  readonly host: string;
  latencyMs: number;
  /**
   * Fraction of new connections cut at once, and of requests cut on their way (TCP retransmits
   * single packets; a lost link shows as a cut connection).
   */
  lossRate: number;
  /** New connections are refused (the far side answers with a reset). */
  partitioned: boolean;
  /** New connections are accepted and held, nothing forwarded (packets vanish); cut on heal. */
  blackhole: boolean;
  /** End a partition or black hole: held connections are cut, new ones flow again. */
  heal(): void;
  /** Cut every open connection (a partition starting). */
  cutAll(): void;
  readonly stats: { connections: number; lost: number; refused: number; held: number };
  close(): Promise<void>;
}

/** A TCP proxy from `listenHost:0` to `target`, with latency, connection loss and partitions. */
export async function startTcpProxy(opts: {
  listenHost?: string;
  targetHost: string;
  targetPort: number;
  rng: Rng;
}): Promise<TcpProxy> {
  const open = new Set<Socket>();
  const stats = { connections: 0, lost: 0, refused: 0, held: 0 };
  const held = new Set<Socket>();
  const delay = (fn: () => void) => {
    if (proxy.latencyMs <= 0) fn();
    else setTimeout(fn, proxy.latencyMs);
  };
  const server: Server = createServer((client) => {
    stats.connections++;
    if (proxy.partitioned) {
      stats.refused++;
      client.destroy();
      return;
    }
    if (proxy.blackhole) {
      stats.held++;
      held.add(client);
      client.on('error', () => held.delete(client));
      client.on('close', () => held.delete(client));
      return;
    }
    if (opts.rng.next() < proxy.lossRate) {
      stats.lost++;
      client.destroy();
      return;
    }
    const upstream = createConnection({ host: opts.targetHost, port: opts.targetPort });
    open.add(client);
    open.add(upstream);
    const closeBoth = () => {
      client.destroy();
      upstream.destroy();
      open.delete(client);
      open.delete(upstream);
    };
    client.on('data', (d) => {
      // Loss mid-connection too: a request cut on its way (the coordinator sees a reset).
      if (opts.rng.next() < proxy.lossRate) {
        stats.lost++;
        closeBoth();
        return;
      }
      delay(() => upstream.writable && upstream.write(d));
    });
    upstream.on('data', (d) => delay(() => client.writable && client.write(d)));
    client.on('close', closeBoth);
    upstream.on('close', closeBoth);
    client.on('error', closeBoth);
    upstream.on('error', closeBoth);
  });
  await new Promise<void>((r) => server.listen(0, opts.listenHost ?? '127.0.0.1', () => r()));
  const addr = server.address();
  const proxy: TcpProxy = {
    port: typeof addr === 'object' && addr ? addr.port : 0,
    host: opts.listenHost ?? '127.0.0.1',
    latencyMs: 0,
    lossRate: 0,
    partitioned: false,
    blackhole: false,
    heal() {
      proxy.partitioned = false;
      proxy.blackhole = false;
      for (const s of held) s.destroy();
      held.clear();
    },
    cutAll() {
      for (const s of open) s.destroy();
      open.clear();
    },
    stats,
    close: async () => {
      proxy.heal();
      proxy.cutAll();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
  return proxy;
}
