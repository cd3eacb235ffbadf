/**
 * Session review: docs/api.md says a `--port` another process listens on stops `aaps up` "before
 * it writes anything, not even a new data directory". runUp creates the data directory with
 * `mkdirSync(..., {recursive: true})` (the data-dir lock), and on the refusal removes only the
 * leaf (`removeIfEmpty(dataDir)`): parents it created for a nested `--data-dir` stay behind.
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { type AddressInfo, createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseGatewayConfig } from '../config.js';
import { runUp } from './up.js';

const root = mkdtempSync(join(tmpdir(), 'aaps-session-review-up-'));
let busy: Server;
let port: number;

beforeAll(async () => {
  busy = createServer();
  await new Promise<void>((r) => busy.listen(0, '127.0.0.1', r));
  port = (busy.address() as AddressInfo).port;
});
afterAll(async () => {
  await new Promise((r) => busy.close(r));
  rmSync(root, { recursive: true, force: true });
});

describe('aaps up --local on a busy port, nested --data-dir', () => {
  it('leaves no directory it created', async () => {
    const dataDir = join(root, 'new', 'deployments', 'data');
    const parsed = parseGatewayConfig(['--local', '--data-dir', dataDir, '--port', String(port)], {});
    if (!parsed.ok) throw new Error(parsed.errors.join('; '));
    const said: string[] = [];
    await expect(
      runUp(parsed.config, { print: (l) => said.push(l), stopSignal: new Promise(() => undefined) }),
    ).rejects.toThrow(/EADDRINUSE/);
    expect(existsSync(dataDir)).toBe(false);
    // "not even a new data directory": the parents this start made are as new.
    expect(existsSync(join(root, 'new'))).toBe(false);
  }, 60_000);
});
