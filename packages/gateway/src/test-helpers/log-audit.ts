/**
 * Run `aaps log audit` (`runLogAudit`) against a test gateway's app, through `app.request`, with
 * its answers optionally passed through `rewrite` (a hostile or broken gateway).
 */
import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { buildTrustedRoot } from '@aaps/evidence';
import { generateIdentityKey } from '@aaps/mpc-core';
import { expect } from 'vitest';
import { type LogAuditFlags, pinnedAuditRootPath, runLogAudit } from '../cli/log-audit.js';
import { type GatewayConfig, parseGatewayConfig } from '../config.js';
import { json, makeGateway, request, SIGNALS, type TestGateway, TOKENS } from './gateway.js';

export type Rewrite = (path: string, res: Response) => Promise<Response> | Response;

const BASE = 'http://gw.test';

/** The client configuration of `dataDir` against the test gateway's stand-in URL. */
function clientConfig(dataDir: string): GatewayConfig {
  const parsed = parseGatewayConfig(['--data-dir', dataDir, '--url', BASE], {});
  if (!parsed.ok) throw new Error(parsed.errors.join('; '));
  return parsed.config;
}

/**
 * Pin `root` in `dataDir` as an auditor does once (its group key checked with the operator), where
 * `aaps log audit` looks for it: `<dataDir>/audit/trusted_root.json` ({@link pinnedAuditRootPath}),
 * 0600 in a 0700 directory (the CLI refuses a root others can write). Its path.
 */
export function pinRoot(dataDir: string, root: unknown): string {
  const path = pinnedAuditRootPath(clientConfig(dataDir));
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  chmodSync(dirname(path), 0o700);
  writeFileSync(path, JSON.stringify(root), { mode: 0o600 });
  chmodSync(path, 0o600);
  return path;
}

/** Pin the test gateway's trusted root in `dataDir` ({@link pinRoot}). Its path. */
export async function pinServedRoot(gw: TestGateway, dataDir: string): Promise<string> {
  return pinRoot(dataDir, await json(await request(gw, 'GET', '/v1/trusted-root', { token: TOKENS.read })));
}

/** The audit's exit code and the lines it printed (`out`) and said on stderr (`err`). */
export async function auditLog(
  gw: TestGateway,
  dataDir: string,
  flags: LogAuditFlags,
  rewrite?: Rewrite,
): Promise<{ code: number; out: string[]; err: string[] }> {
  const out: string[] = [];
  const err: string[] = [];
  const fetch = (async (url: string | URL | Request, init?: RequestInit) => {
    const path = String(url).slice(BASE.length);
    const res = await gw.app.request(path, init);
    return rewrite === undefined ? res : rewrite(path, res);
  }) as typeof globalThis.fetch;
  const io = { print: (l: string) => void out.push(l), error: (l: string) => void err.push(l), fetch };
  const code = await runLogAudit(['audit'], clientConfig(dataDir), TOKENS.read, io, flags);
  return { code, out, err };
}

/** A test gateway (in-process parties) whose log holds `incidents` entries, each incident ended. */
export async function gatewayWithLog(incidents = 2): Promise<TestGateway> {
  const gw = await makeGateway();
  for (let i = 0; i < incidents; i++) {
    const res = await request(gw, 'POST', '/v1/incidents', { token: TOKENS.submit, body: SIGNALS.quota() });
    expect(res.status).toBe(202);
    await gw.runner.idle();
  }
  return gw;
}

/**
 * A trusted root of a fresh group key (3-of-5, origin `aaps.test/log`), as JSON text: a root the
 * client CLI accepts, for tests whose gateway fails before a bundle is checked against it.
 */
export function standInTrustedRoot(): string {
  const group = generateIdentityKey();
  return JSON.stringify(
    buildTrustedRoot({
      groupPublicKey: group.publicKey,
      threshold: { min: 3, max: 5 },
      logKey: { name: 'aaps.test/log', type: 'ed25519', publicKey: group.publicKey },
      origin: 'aaps.test/log',
      validFrom: '2026-01-01T00:00:00Z',
    }),
  );
}
