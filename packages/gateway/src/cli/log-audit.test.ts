/**
 * `aaps log audit` against a real gateway app (its routes through `app.request`): a log that checks
 * out, a checkpoint kept and then extended, and a gateway that serves a log other than the one its
 * checkpoint signs, goes back behind a kept checkpoint, or forks from it: exit 1 with one line
 * saying where.
 */

import { generateKeyPairSync, sign as nodeSign } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildTrustedRoot, hashLeaf, MemoryMerkleTree, type NoteKey, signCheckpoint } from '@aaps/evidence';
import { bytesToHex } from '@aaps/mpc-core';
import { sha256 } from '@noble/hashes/sha2.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type GatewayConfig, parseGatewayConfig } from '../config.js';
import { json, makeGateway, request, SIGNALS, type TestGateway, TOKENS } from '../test-helpers/gateway.js';
import { auditLog, pinServedRoot, type Rewrite } from '../test-helpers/log-audit.js';
import { type LogAuditFlags, runLogAudit, takeLogAuditFlags } from './log-audit.js';
import { UsageError } from './usage-error.js';

let gw: TestGateway;
const dir = mkdtempSync(join(tmpdir(), 'aaps-log-audit-'));

async function submitOne(): Promise<void> {
  const res = await request(gw, 'POST', '/v1/incidents', { token: TOKENS.submit, body: SIGNALS.quota() });
  expect(res.status).toBe(202);
  await gw.runner.idle();
}

beforeAll(async () => {
  gw = await makeGateway();
  await submitOne();
  await submitOne();
  // The auditor's pinned root (aaps log audit asks nothing without one): the deployment's own.
  await pinServedRoot(gw, dir);
});
afterAll(async () => {
  await gw.cleanup();
  rmSync(dir, { recursive: true, force: true });
});

function config(): GatewayConfig {
  const parsed = parseGatewayConfig(['--data-dir', dir, '--url', 'http://gw.test'], {});
  if (!parsed.ok) throw new Error(parsed.errors.join('; '));
  return parsed.config;
}

/** Run the audit with the gateway's answers passed through `rewrite` (a hostile gateway). */
const audit = (flags: LogAuditFlags, rewrite?: Rewrite) => auditLog(gw, dir, flags, rewrite);

/** Rewrite the entries pages with `change` applied to each entry. */
const entries =
  (change: (e: Record<string, unknown>) => Record<string, unknown>): Rewrite =>
  async (path, res) => {
    if (!path.startsWith('/v1/log/entries?')) return res;
    const page = (await res.json()) as { entries: Record<string, unknown>[] };
    return Response.json({ ...page, entries: page.entries.map(change) });
  };

describe('aaps log audit', () => {
  it('walks every entry to the root its checkpoint signs; --save keeps the checkpoint', async () => {
    const save = join(dir, 'kept.note');
    const r = await audit({ save });
    expect(r.err).toEqual([]);
    expect(r.code).toBe(0);
    const size = Number(
      (await (await request(gw, 'GET', '/v1/log/checkpoint', { token: TOKENS.read })).text()).split('\n')[1],
    );
    expect(size).toBeGreaterThanOrEqual(2);
    expect(r.out.at(-1)).toMatch(
      new RegExp(
        `^log aaps\\.test/log: ${size} entries hash to the root its checkpoint signs \\(3-of-5 group key\\); checkpoint saved to `,
      ),
    );
    expect(readFileSync(save, 'utf8').split('\n')[1]).toBe(String(size));
  });

  it('a kept checkpoint: the log extends it after more incidents', async () => {
    const kept = join(dir, 'kept.note');
    await submitOne();
    const r = await audit({ checkpoint: kept });
    expect(r.code).toBe(0);
    expect(
      r.out.some((l) =>
        /^log: extends the checkpoint kept \(size \d+\) by (1 entry|[1-9]\d* entries)$/.test(l),
      ),
    ).toBe(true);
  });

  it('an entry whose body is not its leaf hash, or names another bundle: FAILED naming the entry', async () => {
    const other = new TextEncoder().encode('{"not":"the leaf"}');
    const swapped = await audit(
      {},
      entries((e) => (e['leaf_index'] === 1 ? { ...e, body: Buffer.from(other).toString('base64') } : e)),
    );
    expect(swapped.code).toBe(1);
    expect(swapped.err).toEqual(['aaps: log audit: FAILED: entry 1: leaf_hash is not the hash of its body']);
    const renamed = await audit(
      {},
      entries((e) => (e['leaf_index'] === 0 ? { ...e, evidence_id: 'ab'.repeat(32) } : e)),
    );
    expect(renamed.err).toEqual([
      'aaps: log audit: FAILED: entry 0: evidence_id is not the SHA-256 of its body',
    ]);
  });

  it('entries consistent in themselves but not the signed log: FAILED, the log served is not the log signed', async () => {
    const r = await audit(
      {},
      entries((e) => {
        if (e['leaf_index'] !== 0) return e;
        const leaf = new TextEncoder().encode('{"apiVersion":"0.0.1","kind":"dsse","spec":{}}');
        return {
          ...e,
          body: Buffer.from(leaf).toString('base64'),
          leaf_hash: bytesToHex(hashLeaf(leaf)),
          evidence_id: bytesToHex(sha256(leaf)),
        };
      }),
    );
    expect(r.code).toBe(1);
    expect(r.err[0]).toMatch(
      /FAILED: the \d+ entr(y|ies) served hash(es)? to another root than the checkpoint's/,
    );
  });

  it('a gateway that shows an older checkpoint than the one kept: FAILED, the log went back', async () => {
    const older = await (await request(gw, 'GET', '/v1/log/checkpoint', { token: TOKENS.read })).text();
    await submitOne();
    const kept = join(dir, 'newer.note');
    expect((await audit({ save: kept })).code).toBe(0);
    const r = await audit({ checkpoint: kept }, async (path, res) =>
      path === '/v1/log/checkpoint'
        ? new Response(older, { headers: { 'content-type': 'text/plain' } })
        : res,
    );
    expect(r.code).toBe(1);
    expect(r.err[0]).toMatch(/FAILED: the log went back: its checkpoint is of size \d+, the one kept of \d+/);
  });

  it('a log forked from the checkpoint kept (a group that signed two histories): FAILED, before --save writes', async () => {
    // Only a group whose k parties all signed two histories can fork a log (each party witnesses
    // one): the auditor's own trusted root names a key this test holds, which signs both.
    const { publicKey, privateKey } = generateKeyPairSync('ed25519');
    const raw = new Uint8Array(publicKey.export({ format: 'der', type: 'spki' }).subarray(12));
    const served = (await json(await request(gw, 'GET', '/v1/trusted-root', { token: TOKENS.read }))) as {
      aaps: { log: { origin: string; keyName: string } };
    };
    const { origin, keyName } = served.aaps.log;
    const key: NoteKey = { name: keyName, type: 'ed25519', publicKey: raw };
    const root = buildTrustedRoot({
      groupPublicKey: raw,
      threshold: { min: 1, max: 1 },
      logKey: key,
      origin,
      validFrom: '2026-01-01T00:00:00Z',
    });
    const rootFile = join(dir, 'own-root.json');
    writeFileSync(rootFile, JSON.stringify(root), { mode: 0o600 });
    const sign = async (m: Uint8Array) => new Uint8Array(nodeSign(null, m, privateKey));
    const checkpointOf = async (leaves: Uint8Array[]) => {
      const tree = new MemoryMerkleTree();
      for (const leaf of leaves) tree.append(leaf);
      return signCheckpoint({ origin, size: tree.size, rootHash: tree.root(), extensions: [] }, key, sign);
    };
    // The real log's entries; the fork swaps its first two.
    const page = (await json(
      await request(gw, 'GET', '/v1/log/entries?start=0&count=2', { token: TOKENS.read }),
    )) as { entries: Record<string, unknown>[] };
    const [a, b] = page.entries as [Record<string, unknown>, Record<string, unknown>];
    const leaf = (e: Record<string, unknown>) => new Uint8Array(Buffer.from(String(e['body']), 'base64'));
    const kept = join(dir, 'kept-fork.note');
    writeFileSync(kept, await checkpointOf([leaf(a)]));
    const forked = await checkpointOf([leaf(b), leaf(a)]);
    const save = join(dir, 'after-fork.note');
    let walked = 0;
    const r = await audit({ trustedRoot: rootFile, checkpoint: kept, save }, async (path, res) => {
      if (path === '/v1/log/checkpoint')
        return new Response(forked, { headers: { 'content-type': 'text/plain' } });
      if (path.startsWith('/v1/log/entries?')) {
        walked++;
        return Response.json({ entries: [b, a].map((e, i) => ({ ...e, leaf_index: i })) });
      }
      return res;
    });
    expect(walked).toBe(1);
    expect(r.code).toBe(1);
    expect(r.err).toEqual([
      'aaps: log audit: FAILED: the log no longer holds the checkpoint kept (size 1): its first entry hashes to another root (a fork or a rewrite)',
    ]);
    expect(() => readFileSync(save)).toThrow(/ENOENT/);
  });

  it('a kept checkpoint note the group did not sign: FAILED naming it, before the walk', async () => {
    const note = await (await request(gw, 'GET', '/v1/log/checkpoint', { token: TOKENS.read })).text();
    const lines = note.split('\n');
    lines[2] = Buffer.alloc(32, 7).toString('base64');
    const forged = join(dir, 'forged.note');
    writeFileSync(forged, lines.join('\n'));
    let walked = 0;
    const r = await audit({ checkpoint: forged }, (path, res) => {
      if (path.startsWith('/v1/log/entries?')) walked++;
      return res;
    });
    expect(walked).toBe(0);
    expect(r.code).toBe(1);
    expect(r.err[0]).toMatch(new RegExp(`^aaps: log audit: FAILED: --checkpoint ${forged}: `));
  });

  it('a kept file that is no checkpoint note: a usage error before the gateway is asked', async () => {
    for (const text of ['', 'aaps.test/log\n1\nAAAA\n\n— aaps.test/log AAAA\n', '{"checkpoint":1}']) {
      const bad = join(dir, 'bad.note');
      writeFileSync(bad, text);
      const asked: string[] = [];
      await expect(
        audit({ checkpoint: bad }, async (path, res) => {
          asked.push(path);
          return res;
        }),
      ).rejects.toThrow(new RegExp(`^log audit: --checkpoint ${bad} is not a signed checkpoint note: `));
      expect(asked).toEqual([]);
    }
  });

  it('a --trusted-root that gives a key twice: a usage error naming the file and the key, before the gateway is asked', async () => {
    const served = await (await request(gw, 'GET', '/v1/trusted-root', { token: TOKENS.read })).text();
    const file = join(dir, 'root-twice.json');
    // The gateway's own root, with a second group key first: JSON.parse keeps the last (the real one).
    writeFileSync(
      file,
      served.replace('"publicKeyHex":', `"publicKeyHex":"${'11'.repeat(32)}","publicKeyHex":`),
    );
    const asked: string[] = [];
    await expect(
      audit({ trustedRoot: file }, async (path, res) => {
        asked.push(path);
        return res;
      }),
    ).rejects.toThrow(
      new UsageError(
        `log audit: --trusted-root ${file}: aaps.groupKey.publicKeyHex is given twice in one object (JSON parsers differ on which one counts)`,
      ),
    );
    expect(asked).toEqual([]);
  });

  it('--save that cannot be written (a directory, a missing directory): a usage error before the gateway is asked', async () => {
    for (const save of [dir, join(dir, 'no-such-dir', 'kept.note'), join(dir, 'kept.note', 'x')]) {
      const asked: string[] = [];
      await expect(
        audit({ save }, async (path, res) => {
          asked.push(path);
          return res;
        }),
      ).rejects.toThrow(UsageError);
      expect(asked).toEqual([]);
    }
  });

  it('usage: an unknown subcommand, a missing file or flag value is exit 2 (UsageError)', async () => {
    await expect(runLogAudit(['verify'], config(), 't', { print: () => {}, fetch }, {})).rejects.toThrow(
      UsageError,
    );
    await expect(audit({ trustedRoot: join(dir, 'absent.json') })).rejects.toThrow(
      /--trusted-root .*absent\.json: ENOENT/,
    );
    expect(() => takeLogAuditFlags(['--save'])).toThrow(UsageError);
    expect(takeLogAuditFlags(['--save', 'x', '--url', 'u']).rest).toEqual(['--url', 'u']);
  });
});
