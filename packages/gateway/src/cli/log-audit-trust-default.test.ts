/**
 * `aaps log audit` holds the log to a trusted root the auditor holds (`--trusted-root FILE`, else
 * the one pinned at `<data-dir>/audit/trusted_root.json`), never by default to the keys the
 * audited gateway serves: an audit against those is circular, and a gateway that lies about its
 * keys (a root, a checkpoint and entries all of its own making) passes it. With no root it
 * refuses (exit 2, one line saying how to pin or pass one) before asking the gateway anything;
 * the old behaviour is there only by name, `--trust-served-root`, with a warning.
 */
import { generateKeyPairSync, sign as nodeSign } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildTrustedRoot, MemoryMerkleTree, type NoteKey, signCheckpoint } from '@aaps/evidence';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { json, request, type TestGateway, TOKENS } from '../test-helpers/gateway.js';
import { auditLog, gatewayWithLog, pinRoot, type Rewrite } from '../test-helpers/log-audit.js';
import { type LoopbackServer, serveGatewayApp } from '../test-helpers/loopback-server.js';
import { takeLogAuditFlags } from './log-audit.js';
import { runCapture } from './test-helpers/run-capture.js';
import { UsageError } from './usage-error.js';

let gw: TestGateway;
const dir = mkdtempSync(join(tmpdir(), 'aaps-log-audit-trust-'));
/** The auditor's pin: `<data-dir>/audit/trusted_root.json`. */
const pinned = join(dir, 'audit', 'trusted_root.json');
/** The deployment's real trusted root, as the auditor checked it with the operator. */
let realRoot: unknown;
/** A gateway that lies about its keys: its root, checkpoint and entries are of a key it holds. */
let lying: Rewrite;

/** Every path the gateway was asked (through the helper or over HTTP). */
const asked: string[] = [];
const counting =
  (inner?: Rewrite): Rewrite =>
  async (path, res) => {
    asked.push(path);
    return inner === undefined ? res : inner(path, res);
  };

let served: LoopbackServer;

beforeAll(async () => {
  gw = await gatewayWithLog(2);
  realRoot = await json(await request(gw, 'GET', '/v1/trusted-root', { token: TOKENS.read }));
  const { origin, keyName } = (realRoot as { aaps: { log: { origin: string; keyName: string } } }).aaps.log;

  // The liar's key, root and history: its log holds one entry of its choosing (the real second
  // one, alone), under a checkpoint its own key signs.
  const { publicKey, privateKey } = generateKeyPairSync('ed25519');
  const raw = new Uint8Array(publicKey.export({ format: 'der', type: 'spki' }).subarray(12));
  const key: NoteKey = { name: keyName, type: 'ed25519', publicKey: raw };
  const fakeRoot = buildTrustedRoot({
    groupPublicKey: raw,
    threshold: { min: 1, max: 1 },
    logKey: key,
    origin,
    validFrom: '2026-01-01T00:00:00Z',
  });
  const page = (await json(
    await request(gw, 'GET', '/v1/log/entries?start=0&count=2', { token: TOKENS.read }),
  )) as { entries: Record<string, unknown>[] };
  const only: Record<string, unknown> = { ...page.entries[1]!, leaf_index: 0 };
  const tree = new MemoryMerkleTree();
  tree.append(new Uint8Array(Buffer.from(String(only['body']), 'base64')));
  const note = await signCheckpoint(
    { origin, size: tree.size, rootHash: tree.root(), extensions: [] },
    key,
    async (m) => new Uint8Array(nodeSign(null, m, privateKey)),
  );
  lying = async (path, res) => {
    if (path === '/v1/trusted-root') return Response.json(fakeRoot);
    if (path === '/v1/log/checkpoint')
      return new Response(note, { headers: { 'content-type': 'text/plain' } });
    if (path.startsWith('/v1/log/entries?')) {
      const start = Number(new URL(path, 'http://x').searchParams.get('start'));
      return Response.json({ start, log_size: 1, entries: start === 0 ? [only] : [] });
    }
    return res;
  };

  served = await serveGatewayApp(gw, asked);
});
afterAll(async () => {
  await served.close();
  await gw.cleanup();
  rmSync(dir, { recursive: true, force: true });
});

const unpin = () => rmSync(pinned, { force: true });
/** `aaps log audit` through the CLI against the served gateway and `dir`, with `flags` first. */
const auditCli = (...flags: string[]) =>
  runCapture(['log', 'audit', ...flags, '--url', served.url, '--api-token', TOKENS.read, '--data-dir', dir]);

describe('aaps log audit trusts no served root by default', () => {
  it('no --trusted-root and no root pinned: a usage error naming where to pin one, the gateway not asked', async () => {
    unpin();
    asked.length = 0;
    const r = auditLog(gw, dir, {}, counting());
    await expect(r).rejects.toThrow(UsageError);
    await expect(auditLog(gw, dir, {}, counting())).rejects.toThrow(pinned);
    expect(asked).toEqual([]);
  });

  it('a gateway that lies about its keys does not pass an audit given no root (before: exit 0, "checks out")', async () => {
    unpin();
    asked.length = 0;
    await expect(auditLog(gw, dir, {}, counting(lying))).rejects.toThrow(UsageError);
    expect(asked).toEqual([]);
  });

  it('through the CLI: exit 2, one line naming the pin path and --trusted-root, nothing asked', async () => {
    unpin();
    asked.length = 0;
    const r = await auditCli();
    expect(r.code).toBe(2);
    expect(r.err).toHaveLength(1);
    expect(r.err[0]).toContain(pinned);
    expect(r.err[0]).toContain('--trusted-root');
    expect(r.out).toBe('');
    expect(asked).toEqual([]);
  });

  it('the root pinned at <data-dir>/audit/trusted_root.json is used: the lying gateway FAILS, the honest one passes', async () => {
    pinRoot(dir, realRoot);
    try {
      const lied = await auditLog(gw, dir, {}, lying);
      expect(lied.code).toBe(1);
      expect(lied.err).toEqual([expect.stringMatching(/^aaps: log audit: FAILED: the latest checkpoint: /)]);
      const honest = await auditLog(gw, dir, {});
      expect(honest.err).toEqual([]);
      expect(honest.code).toBe(0);
      expect(honest.out.join('\n')).not.toContain("gateway's trusted root");
    } finally {
      unpin();
    }
  });

  it('--trust-served-root: the served root is taken as it is (the lying gateway passes), and a warning on stderr says so', async () => {
    unpin();
    const r = await auditLog(gw, dir, { trustServedRoot: true }, lying);
    expect(r.code).toBe(0);
    expect(r.err).toEqual([expect.stringMatching(/^aaps: warning: --trust-served-root: /)]);
  });

  it('--trusted-root and --trust-served-root together: a usage error naming both, nothing asked', async () => {
    const file = join(dir, 'root.json');
    writeFileSync(file, JSON.stringify(realRoot), { mode: 0o600 });
    asked.length = 0;
    const r = await auditCli('--trusted-root', file, '--trust-served-root');
    expect(r.code).toBe(2);
    expect(r.err).toEqual([expect.stringContaining('--trusted-root')]);
    expect(r.err[0]).toContain('--trust-served-root');
    expect(asked).toEqual([]);
  });

  it('aaps log audit --help names the pin and --trust-served-root', async () => {
    const r = await runCapture(['log', 'audit', '--help']);
    expect(r.code).toBe(0);
    expect(r.out).toContain('<data-dir>/audit/trusted_root.json');
    expect(r.out).toContain('--trusted-root F | --trust-served-root');
  });

  it('takeLogAuditFlags takes --trust-served-root (false unless given)', () => {
    expect(takeLogAuditFlags(['--trust-served-root', '--url', 'u'])).toEqual({
      rest: ['--url', 'u'],
      flags: { trustServedRoot: true },
    });
    expect(takeLogAuditFlags(['--url', 'u']).flags).toEqual({});
  });
});
