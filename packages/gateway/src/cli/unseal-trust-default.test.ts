/**
 * `aaps unseal` is safe by default: the bundle the gateway serves must verify under a trusted root
 * the approver holds (`--trusted-root FILE`, else the one pinned at
 * `<data-dir>/approvers/trusted_root.json`) before anything is signed. With neither, it refuses
 * (exit 2, one line saying how to pin one) and the gateway is not asked: a compromised or
 * impersonated gateway could otherwise serve a bundle of its own making, with party keys of its
 * own, and have the approver's request signed and logged against it. The old behaviour (trust the
 * served bundle) is only there when asked for by name, `--trust-served-root`, and says so.
 */
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { buildTrustedRoot } from '@aaps/evidence';
import { generateIdentityKey, ReleasedShareCodec, type SealedField } from '@aaps/mpc-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sealedFieldsBundle } from './test-helpers/evidence-bundle.js';
import { runCapture } from './test-helpers/run-capture.js';
import { unsealFixture } from './test-helpers/unseal-fixture.js';
import { runUnseal, type UnsealOptions } from './unseal.js';
import { UsageError } from './usage-error.js';

const fx = unsealFixture('aaps-unseal-trust-');
afterAll(fx.cleanup);
const { dir, parties, config } = fx;

const INCIDENT = 'inc-unseal-trust';
const SECRET = 'canary-trust-default-31';
let field: SealedField;

/** A loopback gateway serving the fixture's bundle and releasing 3 of 5 shares; it counts what it is asked. */
let server: Server;
let url: string;
let evidenceId: string;
let hits = 0;
let posts = 0;

/** `aaps unseal` of the fixture's evidence against the test gateway, with `flags` between. */
const unsealCli = (...flags: string[]) =>
  runCapture([
    'unseal',
    evidenceId,
    '--reason',
    'rotate the database password',
    ...flags,
    '--url',
    url,
    '--api-token',
    't'.repeat(40),
  ]);

beforeAll(async () => {
  field = await fx.seal(INCIDENT, SECRET);
  const served = sealedFieldsBundle(
    INCIDENT,
    [field],
    parties.map((p) => ({ id: p.id, identityKey: p.key.publicKey })),
  );
  evidenceId = served.evidenceId;
  server = createServer((req, res) => {
    hits++;
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      res.writeHead(200, { 'content-type': 'application/json' });
      if (req.method !== 'POST') return res.end(JSON.stringify(served.bundle));
      posts++;
      const { request } = JSON.parse(Buffer.concat(chunks).toString()) as {
        request: { request_id: string; requester: string };
      };
      const posted = { requestId: request.request_id, incidentId: INCIDENT, requester: request.requester };
      res.end(
        JSON.stringify({
          releases: [0, 1, 2].map((i) => ({
            field: field.id,
            release: ReleasedShareCodec.toJSON(fx.release(field, i, posted)),
          })),
          refusals: [],
          evidence: { request: 'a'.repeat(64), releases: 'b'.repeat(64) },
        }),
      );
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => new Promise<void>((r) => server.close(() => r())));

const opts = (more: Partial<UnsealOptions> = {}): UnsealOptions => ({
  evidenceId,
  reason: 'rotate the database password',
  fields: [],
  json: false,
  ...more,
});

/** An `io` against the loopback gateway, with what it printed. */
function io() {
  const out: string[] = [];
  const err: string[] = [];
  return {
    out,
    err,
    io: {
      print: (l: string) => void out.push(l),
      error: (l: string) => void err.push(l),
      fetch: ((u: string | URL | Request, init?: RequestInit) =>
        fetch(String(u).replace('http://gw.test', url), init)) as typeof globalThis.fetch,
    },
  };
}

/** A trusted root for a group key the served bundle was not signed with. */
function otherRoot(): unknown {
  const group = generateIdentityKey();
  return buildTrustedRoot({
    groupPublicKey: group.publicKey,
    threshold: { min: 3, max: 5 },
    logKey: { name: 'aaps.test/log', type: 'ed25519', publicKey: group.publicKey },
    origin: 'aaps.test/log',
    validFrom: '2026-01-01T00:00:00Z',
  });
}

const pinned = () => join(dir, 'approvers', 'trusted_root.json');

describe('aaps unseal trusts no bundle by default', () => {
  it('with no --trusted-root and no root pinned: a usage error naming where to pin one, the gateway not asked', async () => {
    hits = 0;
    const g = io();
    await expect(runUnseal(opts(), config(), 't', g.io)).rejects.toThrow(UsageError);
    await expect(runUnseal(opts(), config(), 't', g.io)).rejects.toThrow(pinned());
    expect(hits).toBe(0);
    expect(g.out).toEqual([]);
  });

  it('through the CLI: exit 2, one line, nothing signed or posted', async () => {
    hits = 0;
    const r = await unsealCli('--data-dir', dir);
    expect(r.code).toBe(2);
    expect(r.err).toHaveLength(1);
    expect(r.err[0]).toContain('--trusted-root');
    expect(r.err[0]).toContain(pinned());
    expect(hits).toBe(0);
    expect(r.out).toBe('');
  });

  it('a root pinned in the data directory is used: a bundle that does not verify under it is refused before anything is posted', async () => {
    mkdirSync(join(dir, 'approvers'), { recursive: true, mode: 0o700 });
    writeFileSync(pinned(), JSON.stringify(otherRoot()), { mode: 0o600 });
    try {
      posts = 0;
      const g = io();
      expect(await runUnseal(opts(), config(), 't', g.io)).toBe(1);
      expect(posts).toBe(0);
      expect(g.out).toEqual([]);
      expect(g.err).toEqual([
        expect.stringMatching(
          new RegExp(
            `^aaps: not signed: the bundle the gateway served for ${evidenceId} does not verify under the trusted root \\(`,
          ),
        ),
      ]);
    } finally {
      rmSync(pinned());
    }
  });

  it('--trust-served-root takes the served bundle as it is, and says on stderr that nothing pinned it', async () => {
    const r = await unsealCli(
      '--trust-served-root',
      '--data-dir',
      join(dir, 'elsewhere-but-keyed'),
      '--approver-key',
      join(dir, 'approvers', 'oncall.key'),
    );
    expect(r.code).toBe(0);
    expect(r.out).toContain(SECRET);
    expect(r.err).toEqual([expect.stringMatching(/^aaps: warning: --trust-served-root: /)]);
  });

  it('a trusted root (--trusted-root or pinned) that gives a key twice: exit 2, one line naming the file and the key, the gateway not asked', async () => {
    const twice = JSON.stringify(otherRoot()).replace(
      '"publicKeyHex":',
      `"publicKeyHex":"${'11'.repeat(32)}","publicKeyHex":`,
    );
    const why =
      'aaps.groupKey.publicKeyHex is given twice in one object (JSON parsers differ on which one counts)';
    const file = join(dir, 'root-twice.json');
    writeFileSync(file, twice);
    hits = 0;
    const r = await unsealCli('--trusted-root', file, '--data-dir', dir);
    expect(r.code).toBe(2);
    expect(r.err).toEqual([`aaps: unseal: --trusted-root ${file}: ${why}`]);
    expect(hits).toBe(0);
    mkdirSync(join(dir, 'approvers'), { recursive: true });
    writeFileSync(pinned(), twice);
    try {
      const g = io();
      await expect(runUnseal(opts(), config(), 't', g.io)).rejects.toThrow(
        new UsageError(`unseal: the trusted root pinned at ${pinned()}: ${why}`),
      );
      expect(hits).toBe(0);
    } finally {
      rmSync(pinned());
    }
  });

  it('--trusted-root and --trust-served-root together are a usage error', async () => {
    const file = join(dir, 'root.json');
    writeFileSync(file, JSON.stringify(otherRoot()), { mode: 0o600 });
    hits = 0;
    const r = await unsealCli('--trusted-root', file, '--trust-served-root', '--data-dir', dir);
    expect(r.code).toBe(2);
    expect(r.err).toEqual([expect.stringContaining('--trusted-root')]);
    expect(r.err[0]).toContain('--trust-served-root');
    expect(hits).toBe(0);
  });
});
