/**
 * Session review: the served gateway logs refusals (`http.rejected`) coalesced per status and code,
 * one log shared by its server (pre-route refusals) and its app. docs/api.md "Errors" promises
 * that "a stranger's flood never hides a client's own refusals". A GitHub delivery authenticates
 * by its HMAC, not a token, so its refusals share the stranger key: a stranger's request the server
 * refuses before the app (a backslash in the path: 400 INVALID_ARGUMENT, route unmatched) hides, for
 * a minute, the line of a genuine, correctly signed GitHub delivery the gateway refuses for schema
 * drift (400 INVALID_ARGUMENT on /v1/webhooks/github): the operator finds no line for it.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { memoryLogger } from '@aaps/agents';
import { bytesToHex, generateIdentityKey } from '@aaps/mpc-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseGatewayConfig } from '../config.js';
import { LocalCoordinator } from '../coordinator-local.js';
import { signGithubPayload } from '../intake/github-signature.js';
import { TOKENS } from '../test-helpers/gateway.js';
import { type RunningGateway, startGateway } from './serve.js';

const SECRET = 'session-review-github-secret';

function exchange(port: number, text: string): Promise<string> {
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

let dir: string;
let running: RunningGateway;
let port: number;
const logger = memoryLogger('gateway');

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'aaps-session-review-'));
  const parsed = parseGatewayConfig(
    ['--port', '0', '--data-dir', dir, '--github-webhook-secret', SECRET],
    {},
  );
  if (!parsed.ok) throw new Error(parsed.errors.join('; '));
  const gatewayKey = generateIdentityKey();
  const local = new LocalCoordinator({
    gateway: { id: 'gateway', identity_key: bytesToHex(gatewayKey.publicKey) },
    approvers: [],
  });
  running = await startGateway({
    config: parsed.config,
    token: TOKENS.admin,
    coordinator: local,
    trust: local.trustedKeys(),
    identity: { id: 'gateway', key: gatewayKey },
    logger,
  });
  port = Number(new URL(running.url).port);
});

afterAll(async () => {
  await running?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('http.rejected coalescing (served gateway)', () => {
  it("a stranger's pre-route refusal does not hide a signed GitHub delivery's refusal", async () => {
    // The stranger: a backslash in the target, refused before the app (400 INVALID_ARGUMENT).
    const stranger = await exchange(
      port,
      'GET /x\\y HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n',
    );
    expect(stranger).toMatch(/^HTTP\/1\.1 400 /);
    // GitHub, correctly signed, with a payload the gateway refuses (schema drift).
    const raw = JSON.stringify({ action: 'completed', workflow_run: { id: 'x' } });
    const res = await fetch(`${running.url}/v1/webhooks/github`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        'x-github-event': 'workflow_run',
        'x-github-delivery': 'delivery-1',
        'x-hub-signature-256': signGithubPayload(new TextEncoder().encode(raw), SECRET),
      },
      body: raw,
    });
    expect(res.status).toBe(400);
    const lines = logger.lines
      .map((l) => JSON.parse(l) as { event?: string; route?: string; code?: string })
      .filter((l) => l.event === 'http.rejected');
    // The operator must find the GitHub delivery's refusal in the log.
    expect(lines.map((l) => `${l.route} ${l.code}`)).toContain('/v1/webhooks/github INVALID_ARGUMENT');
  });
});
