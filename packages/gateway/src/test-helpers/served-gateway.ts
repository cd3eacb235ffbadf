/**
 * The gateway as `aaps gateway` serves it (its own HTTP server on a loopback port, local
 * coordinator), for tests that speak raw HTTP to it, and the raw exchange they use.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Logger } from '@aaps/agents';
import { bytesToHex, generateIdentityKey } from '@aaps/mpc-core';
import { type RunningGateway, startGateway } from '../cli/serve.js';
import { parseGatewayConfig } from '../config.js';
import { LocalCoordinator } from '../coordinator-local.js';
import { TOKENS } from './gateway.js';

export interface ServedGateway {
  readonly running: RunningGateway;
  readonly port: number;
  close(): Promise<void>;
}

/** Serve a gateway on port 0 in a fresh data directory, with `args` added to its flags. */
export async function serveLocalGateway(
  logger: Logger,
  args: readonly string[] = [],
): Promise<ServedGateway> {
  const dir = mkdtempSync(join(tmpdir(), 'aaps-served-'));
  const parsed = parseGatewayConfig(['--port', '0', '--data-dir', dir, ...args], {});
  if (!parsed.ok) throw new Error(parsed.errors.join('; '));
  const gatewayKey = generateIdentityKey();
  const local = new LocalCoordinator({
    gateway: { id: 'gateway', identity_key: bytesToHex(gatewayKey.publicKey) },
    approvers: [],
  });
  const running = await startGateway({
    config: parsed.config,
    token: TOKENS.admin,
    coordinator: local,
    trust: local.trustedKeys(),
    identity: { id: 'gateway', key: gatewayKey },
    logger,
  });
  return {
    running,
    port: Number(new URL(running.url).port),
    async close() {
      await running.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Writes `text` on a fresh connection and returns everything the server sent until it closed. */
export function rawExchange(port: number, text: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1', () => socket.write(text));
    let raw = '';
    socket.on('data', (d) => {
      raw += d.toString('latin1');
    });
    socket.on('error', reject);
    socket.on('close', () => resolve(raw));
    setTimeout(() => socket.destroy(), 15_000).unref();
  });
}
