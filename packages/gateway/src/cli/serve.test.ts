/** `startGateway`'s stop: a request being handled is answered before the store closes; later ones are not taken. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { memoryLogger } from '@aaps/agents';
import { bytesToHex, generateIdentityKey } from '@aaps/mpc-core';
import { afterEach, describe, expect, it } from 'vitest';
import { parseGatewayConfig } from '../config.js';
import type { KeysInfo } from '../coordinator.js';
import { LocalCoordinator } from '../coordinator-local.js';
import { delegating, TOKENS } from '../test-helpers/gateway.js';
import { startGateway } from './serve.js';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

describe('startGateway close', () => {
  it('answers the request in flight, then stops taking requests', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'aaps-serve-'));
    dirs.push(dir);
    const parsed = parseGatewayConfig(['--port', '0', '--data-dir', dir], {});
    if (!parsed.ok) throw new Error(parsed.errors.join('; '));
    const gatewayKey = generateIdentityKey();
    const local = new LocalCoordinator({
      gateway: { id: 'gateway', identity_key: bytesToHex(gatewayKey.publicKey) },
      approvers: [],
    });
    // GET /v1/keys waits until the test lets it go.
    let release: () => void = () => {};
    let entered: () => void = () => {};
    const inHandler = new Promise<void>((r) => {
      entered = r;
    });
    const coordinator = delegating(local, {
      keys: async (): Promise<KeysInfo> => {
        entered();
        await new Promise<void>((r) => {
          release = r;
        });
        return local.keys();
      },
    });
    const logger = memoryLogger('gateway');
    const running = await startGateway({
      config: parsed.config,
      token: TOKENS.admin,
      coordinator,
      trust: local.trustedKeys(),
      identity: { id: 'gateway', key: gatewayKey },
      logger,
    });
    const auth = { authorization: `Bearer ${TOKENS.admin}` };
    const pending = fetch(`${running.url}/v1/keys`, { headers: auth });
    await inHandler;
    let closed = false;
    const closing = running.close().then(() => {
      closed = true;
    });
    await new Promise((r) => setTimeout(r, 50));
    expect(closed).toBe(false);
    release();
    const res = await pending;
    expect(res.status).toBe(200);
    expect(((await res.json()) as KeysInfo).group_public_key).toBe((await local.keys()).group_public_key);
    await closing;
    await expect(fetch(`${running.url}/healthz`)).rejects.toThrow();
    expect(logger.lines.some((l) => l.includes('gateway.drain_timeout'))).toBe(false);
  });
});
