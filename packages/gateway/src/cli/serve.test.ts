/** `startGateway`'s stop: a request being handled is answered before the store closes; later ones are not taken. */

import { generateKeyPairSync, sign } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { memoryLogger } from '@aaps/agents';
import { TransparencyLog } from '@aaps/evidence';
import { bytesToHex, generateIdentityKey, ValidationError } from '@aaps/mpc-core';
import { afterEach, describe, expect, it } from 'vitest';
import { parseGatewayConfig } from '../config.js';
import type { KeysInfo } from '../coordinator.js';
import { LocalCoordinator } from '../coordinator-local.js';
import { openGatewayStore } from '../store.js';
import { connectionRefused } from '../test-helpers/connection-refused.js';
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
    expect(await connectionRefused(`${running.url}/healthz`)).toBe(true);
    expect(logger.lines.some((l) => l.includes('gateway.drain_timeout'))).toBe(false);
  });
});

describe('startGateway and its log origin', () => {
  it("refuses to start under another origin than its log's checkpoints, before it serves", async () => {
    const dir = mkdtempSync(join(tmpdir(), 'aaps-serve-'));
    dirs.push(dir);
    // A log with one checkpoint under the default origin.
    const store = await openGatewayStore(join(dir, 'gateway', 'db'));
    const log = await TransparencyLog.open(store.log, { origin: 'aaps.local/log' });
    await log.append(new Uint8Array([1]));
    const { publicKey, privateKey } = generateKeyPairSync('ed25519');
    const spki = publicKey.export({ format: 'der', type: 'spki' });
    await log.signCheckpoint(
      { name: 'aaps.local/log', type: 'ed25519', publicKey: new Uint8Array(spki.subarray(spki.length - 32)) },
      async (m) => new Uint8Array(sign(null, m, privateKey)),
    );
    await store.close();
    const start = (origin: string[]) => {
      const parsed = parseGatewayConfig(['--port', '0', '--data-dir', dir, ...origin], {});
      if (!parsed.ok) throw new Error(parsed.errors.join('; '));
      const gatewayKey = generateIdentityKey();
      const local = new LocalCoordinator({
        gateway: { id: 'gateway', identity_key: bytesToHex(gatewayKey.publicKey) },
        approvers: [],
      });
      return startGateway({
        config: parsed.config,
        token: TOKENS.admin,
        coordinator: local,
        trust: local.trustedKeys(),
        identity: { id: 'gateway', key: gatewayKey },
        logger: memoryLogger('gateway'),
      });
    };
    const refused = await start(['--log-origin', 'corp.example/aaps-log']).catch((e) => e);
    expect(refused).toBeInstanceOf(ValidationError);
    expect((refused as ValidationError).fields).toEqual(['origin']);
    // Nothing was left open: the store opens again, and under its own origin the gateway starts.
    const running = await start([]);
    expect((await fetch(`${running.url}/healthz`)).status).toBe(200);
    await running.close();
  });
});
