/**
 * The OpenSSL recipe in docs/evidence.md checks the checkpoint's origin line against `LOG_ORIGIN`
 * (the trusted root's `aaps.log.origin`), as aaps-verify does (`log.checkpoint`): with a log key
 * separate from the group key, a checkpoint that key signed for another log is not "OK".
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { attachLogEntry, bundleLogLeaf } from './bundle/build.js';
import type { EvidenceBundle } from './bundle/types.js';
import { createBundleVerifier } from './bundle/verify.js';
import { TransparencyLog } from './log.js';
import {
  MemoryStore,
  makeEd25519Key,
  makeLoggedBundles,
  noteKeyFor,
  ORIGIN,
} from './test-helpers/fixtures.js';
import { hasOpenssl, recipeScript } from './test-helpers/openssl-recipe.js';

describe.skipIf(!hasOpenssl)('the OpenSSL recipe and the checkpoint origin', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'aaps-recipe-origin-'));
    writeFileSync(join(dir, 'verify-bundle.sh'), recipeScript());
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('a checkpoint of another log, signed by the trusted log key, is not OK', async () => {
    const fx = await makeLoggedBundles(1);
    const logSigner = makeEd25519Key();
    const keyName = 'log.aaps.test/tree';
    const logKey = { ...noteKeyFor(logSigner), name: keyName };
    // The same bundle, appended to a log of ANOTHER origin, whose checkpoint the log key signs.
    const other = await TransparencyLog.open(new MemoryStore(), { origin: 'elsewhere.example/log' });
    const { transparencyLog: _old, ...unlogged } = fx.bundle;
    const index = await other.append(bundleLogLeaf(unlogged as EvidenceBundle));
    await other.signCheckpoint(logKey, logSigner.sign);
    const bundle = attachLogEntry(unlogged as EvidenceBundle, await other.position(index));

    // aaps-verify with the trusted root's log key, key name and origin: refused.
    const report = createBundleVerifier({
      groupPublicKey: fx.group.publicKey,
      logKeys: [logKey],
      logOrigin: ORIGIN,
    }).report(JSON.parse(JSON.stringify(bundle)));
    expect(report.failure?.check).toBe('log.checkpoint');

    // The recipe, given the same trusted root's log key and key name.
    writeFileSync(join(dir, 'bundle.json'), JSON.stringify(bundle, null, 2));
    const r = spawnSync('bash', ['verify-bundle.sh'], {
      cwd: dir,
      env: {
        PATH: process.env.PATH,
        B: 'bundle.json',
        KEY_HEX: Buffer.from(fx.group.publicKey).toString('hex'),
        LOG_KEY_HEX: Buffer.from(logSigner.publicKey).toString('hex'),
        LOG_NAME: keyName,
        LOG_ORIGIN: ORIGIN, // the trusted root's aaps.log.origin
      },
      encoding: 'utf8',
    });
    const out = `${r.stdout}${r.stderr}`;
    const w = /^OK: .*\((.+)\/payload\.json\)/m.exec(out)?.[1];
    if (w !== undefined) rmSync(w, { recursive: true, force: true });
    expect({ code: r.status, ok: /^OK/m.test(out) }).toEqual({ code: 1, ok: false });
    expect(out).toContain('FAILED: checkpoint origin (the note is not of the log aaps.test/log)');
  });

  it('a checkpoint of the trusted log is OK with LOG_ORIGIN given', async () => {
    const fx = await makeLoggedBundles(1);
    writeFileSync(join(dir, 'genuine.json'), JSON.stringify(fx.bundle));
    const r = spawnSync('bash', ['verify-bundle.sh'], {
      cwd: dir,
      env: {
        PATH: process.env.PATH,
        B: 'genuine.json',
        KEY_HEX: Buffer.from(fx.group.publicKey).toString('hex'),
        LOG_ORIGIN: ORIGIN,
      },
      encoding: 'utf8',
    });
    const w = /^OK: .*\((.+)\/payload\.json\)/m.exec(r.stdout)?.[1];
    if (w !== undefined) rmSync(w, { recursive: true, force: true });
    expect({ code: r.status, ok: w !== undefined }).toEqual({ code: 0, ok: true });
  });
});
