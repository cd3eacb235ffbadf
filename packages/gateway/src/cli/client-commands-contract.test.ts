/**
 * The `aaps` client commands keep the CLI contract (docs/api.md): one line on stderr that says
 * what went wrong; 2 for bad usage or a file named that cannot be used, found before the gateway is
 * asked anything; 1 for a failure at run time, naming the HTTP status and the gateway's reason even
 * when what answered is not the gateway (a proxy's HTML page).
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadOrCreateIdentityKey } from '@aaps/agents';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { standInTrustedRoot } from '../test-helpers/log-audit.js';
import {
  type DownGateway,
  downGateway,
  type LoopbackServer,
  listenLoopback,
} from '../test-helpers/loopback-server.js';
import { runCapture } from './test-helpers/run-capture.js';

const dir = mkdtempSync(join(tmpdir(), 'aaps-contract-'));
const TOKEN = 'x'.repeat(40);
let down: DownGateway;

beforeAll(async () => {
  loadOrCreateIdentityKey(join(dir, 'approvers', 'oncall.key'), true, 'approver');
  // The approver's pinned trusted root (aaps unseal asks nothing without one): any will do here,
  // as these gateways fail before a bundle is served to check against it.
  writeFileSync(join(dir, 'approvers', 'trusted_root.json'), standInTrustedRoot(), { mode: 0o600 });
  writeFileSync(join(dir, 'push.json'), '{"workflow_run":{}}');
  // A reverse proxy in front of a gateway that is down: 502 with an HTML page, for every request.
  down = await downGateway();
});
afterAll(async () => {
  await down.close();
  rmSync(dir, { recursive: true, force: true });
});

const common = () => ['--url', down.url, '--data-dir', dir, '--api-token', TOKEN];

describe('aaps client commands: usage errors are exit 2', () => {
  it('submit --source github without --github-webhook-secret is bad usage: exit 2, nothing sent', async () => {
    down.hits = 0;
    const r = await runCapture(['submit', join(dir, 'push.json'), '--source', 'github', ...common()]);
    expect(r.err).toHaveLength(1);
    expect(r.err[0]).toContain('github-webhook-secret');
    expect(down.hits).toBe(0);
    expect(r.code).toBe(2);
  });

  it.each([
    ['blank', ' '],
    ['multi-line', 'rotate\nthe password'],
  ])('unseal with a %s --reason: exit 2, nothing sent', async (_kind, reason) => {
    down.hits = 0;
    const r = await runCapture(['unseal', 'a'.repeat(64), '--reason', reason, ...common()]);
    expect(r.code).toBe(2);
    expect(r.err).toHaveLength(1);
    expect(r.err[0]).toContain('--reason');
    expect(down.hits).toBe(0);
  });

  it('unseal with a --reason the gateway and parties can never accept (> 1024 characters) is refused before signing: exit 2', async () => {
    down.hits = 0;
    const r = await runCapture(['unseal', 'a'.repeat(64), '--reason', 'r'.repeat(1025), ...common()]);
    expect(down.hits).toBe(0);
    expect(r.code).toBe(2);
    expect(r.err).toHaveLength(1);
    expect(r.err[0]).toContain('reason');
  });
});

describe('aaps client commands: a key file named on the command line that cannot be used is exit 2 (usage-error.ts: "the files they name")', () => {
  it.each([
    [['approve', 'inc-1'], 'missing'],
    [['unseal', 'a'.repeat(64), '--reason', 'rotate the leaked password'], 'missing'],
    [['approve', 'inc-1'], 'garbage'],
    [['unseal', 'a'.repeat(64), '--reason', 'rotate the leaked password'], 'garbage'],
  ])('%j with a %s --approver-key: one line, exit 2, the gateway not asked', async (argv, kind) => {
    const file = join(dir, `key-${kind}`);
    if (kind === 'garbage') writeFileSync(file, 'not a key\n', { mode: 0o600 });
    down.hits = 0;
    const r = await runCapture([...argv, ...common(), '--approver-key', file]);
    expect(r.err).toHaveLength(1);
    expect(r.err[0]).toContain(file);
    expect(down.hits).toBe(0);
    expect(r.code).toBe(2);
  });
});

describe('aaps client commands: a gateway answering garbage', () => {
  it.each([
    [['approve', 'inc-1']],
    [['unseal', 'a'.repeat(64), '--reason', 'rotate the leaked password']],
    [['keys']],
    [['submit', join(dir, 'push.json'), '--source', 'kubernetes']],
  ])('%j against a 502 HTML page: one line naming the HTTP status, exit 1', async (argv) => {
    const r = await runCapture([...argv, ...common()]);
    expect(r.code).toBe(1);
    expect(r.err).toHaveLength(1);

    expect(r.err[0]).toContain('502');
    expect(r.err[0]).not.toMatch(/Unexpected token|not valid JSON/);
  });
});

describe('aaps unseal: the gateway’s reason for refusing the evidence is shown', () => {
  it('a token without the read scope: the line says so, not only "HTTP 403"', async () => {
    const { parseGatewayConfig } = await import('../config.js');
    const { runUnseal } = await import('./unseal.js');
    const parsed = parseGatewayConfig(['--data-dir', dir, '--url', 'http://gw.test'], {});
    if (!parsed.ok) throw new Error(parsed.errors.join('; '));
    const err: string[] = [];
    const fetch = (async () =>
      Response.json(
        { error: { code: 'FORBIDDEN', message: 'this token lacks the read scope' } },
        { status: 403 },
      )) as typeof globalThis.fetch;
    const code = await runUnseal(
      { evidenceId: 'a'.repeat(64), reason: 'rotate the leaked password', fields: [], json: false },
      parsed.config,
      't',
      { print: () => {}, error: (l) => void err.push(l), fetch },
    );
    expect(code).toBe(1);
    expect(err[0]).toContain('read scope');
  });
});

describe('aaps client commands: a --url with a path the gateway does not serve', () => {
  let gateway: LoopbackServer;
  let base: string;
  beforeAll(async () => {
    // What the gateway answers for a path it has no route for.
    gateway = await listenLoopback((req, res) => {
      req.resume();
      res.writeHead(404, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ error: { code: 'NOT_FOUND', message: 'no such endpoint' } }));
    });
    base = gateway.url;
  });
  afterAll(() => gateway.close());

  it.each([
    [['approve', 'inc-1'], 'GET /v1/incidents/inc-1'],
    [
      ['unseal', 'a'.repeat(64), '--reason', 'rotate the leaked password'],
      `GET /v1/evidence/${'a'.repeat(64)}`,
    ],
    [['keys'], 'GET /v1/keys'],
    [['submit', join(dir, 'push.json'), '--source', 'kubernetes'], 'POST /v1/webhooks/kubernetes'],
  ])('%j: the 404 names the URL asked and says --url is the base URL; exit 1', async (argv, asked) => {
    const [method, path] = asked.split(' ');
    const r = await runCapture([...argv, '--data-dir', dir, '--api-token', TOKEN, '--url', `${base}/v1`]);
    expect(r.code).toBe(1);
    expect(r.err).toHaveLength(1);
    expect(r.err[0]).toContain(
      `HTTP 404 NOT_FOUND no such endpoint (${method} ${base}/v1${path}; --url is the gateway's base URL, under which aaps asks /v1/…: is /v1 part of the gateway's address?)`,
    );
  });

  it('without a path in --url, the URL is named and no hint is given', async () => {
    const r = await runCapture(['keys', '--data-dir', dir, '--api-token', TOKEN, '--url', base]);
    expect(r.code).toBe(1);
    expect(r.err).toHaveLength(1);
    expect(r.err[0]).toContain(`HTTP 404 NOT_FOUND no such endpoint (GET ${base}/v1/keys)`);
    expect(r.err[0]).not.toContain('base URL');
  });
});
