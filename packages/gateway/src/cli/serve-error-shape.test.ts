/**
 * API review: the served gateway (`startGateway`, as `aaps up` and `aaps gateway` run it) answers
 * every error as DESIGN.md's HTTP API says: `{"error":{"code","message"}}`, JSON (docs/api.md,
 * "Errors": "Every error is JSON"; the one exception documented is Node's bare 408 for headers
 * that arrive too slowly). Requests are written on a raw socket, as a client with an odd id or a
 * proxy with an odd Host header sends them.
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
import { TOKENS } from '../test-helpers/gateway.js';
import { type RunningGateway, startGateway } from './serve.js';

/** Writes `text` on a fresh connection and returns the status and headers of the answer. */
function exchange(port: number, text: string): Promise<{ status: number; contentType: string; raw: string }> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1', () => socket.write(text));
    let raw = '';
    socket.on('data', (d) => {
      raw += d.toString('latin1');
    });
    socket.on('error', reject);
    socket.on('close', () => {
      const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(raw)?.[1] ?? 0);
      const contentType = /\r\ncontent-type: ([^\r\n]*)/i.exec(raw)?.[1] ?? '';
      resolve({ status, contentType, raw });
    });
    setTimeout(() => socket.destroy(), 5000).unref();
  });
}

let dir: string;
let running: RunningGateway;
let port: number;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'aaps-serve-shape-'));
  const parsed = parseGatewayConfig(['--port', '0', '--data-dir', dir], {});
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
    logger: memoryLogger('gateway'),
  });
  port = Number(new URL(running.url).port);
});

afterAll(async () => {
  await running?.close();
  rmSync(dir, { recursive: true, force: true });
});

const AUTH = `Authorization: Bearer ${TOKENS.admin}\r\n`;

describe('the served gateway answers malformed requests with the error shape', () => {
  it('a backslash in an incident id, a Host header that is not a host, a 20 KB id: JSON {error:{code,message}}', async () => {
    const cases: Record<string, string> = {
      'backslash in the id': `GET /v1/incidents/team\\inc-1 HTTP/1.1\r\nHost: 127.0.0.1\r\n${AUTH}Connection: close\r\n\r\n`,
      'Host with a path': `GET /v1/keys HTTP/1.1\r\nHost: gw.example/x\r\n${AUTH}Connection: close\r\n\r\n`,
      '20 KB incident id': `GET /v1/incidents/${'a'.repeat(20_000)} HTTP/1.1\r\nHost: 127.0.0.1\r\n${AUTH}Connection: close\r\n\r\n`,
    };
    const answers: Record<string, string> = {};
    for (const [what, text] of Object.entries(cases)) {
      const res = await exchange(port, text);
      const body = res.raw.slice(res.raw.indexOf('\r\n\r\n') + 4);
      const shaped =
        res.contentType.startsWith('application/json') && /"error":\{"code":"[A-Z_]+","message":/.test(body);
      answers[what] = `${res.status} ${shaped ? 'error JSON' : `bare (content-type "${res.contentType}")`}`;
    }
    expect(answers).toEqual({
      'backslash in the id': expect.stringMatching(/^4\d\d error JSON$/),
      'Host with a path': expect.stringMatching(/^4\d\d error JSON$/),
      '20 KB incident id': expect.stringMatching(/^4\d\d error JSON$/),
    });
  });
});
