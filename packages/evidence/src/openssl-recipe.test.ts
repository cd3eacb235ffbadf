import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { EvidenceBundle } from './bundle/types.js';
import { type LoggedFixture, makeLoggedBundles } from './test-helpers/fixtures.js';

// Runs the auditor recipe exactly as docs/evidence.md prints it, with the system's OpenSSL.
const DOC = new URL('../../../docs/evidence.md', import.meta.url);
const hasOpenssl = spawnSync('openssl', ['version']).status === 0;

function recipe(): string {
  const doc = readFileSync(DOC, 'utf8');
  const m = /<!-- openssl-recipe:start -->\n```bash\n([\s\S]*?)```\n<!-- openssl-recipe:end -->/.exec(doc);
  if (!m) throw new Error('docs/evidence.md has no openssl recipe block');
  return m[1]!;
}

describe.skipIf(!hasOpenssl)('the OpenSSL recipe in docs/evidence.md', () => {
  let dir: string;
  let fx: LoggedFixture;
  let keyHex: string;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'aaps-openssl-'));
    fx = await makeLoggedBundles(2);
    keyHex = Buffer.from(fx.group.publicKey).toString('hex');
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  function runRecipe(bundle: EvidenceBundle, pretty: boolean, key = keyHex) {
    writeFileSync(join(dir, 'bundle.json'), JSON.stringify(bundle, null, pretty ? 2 : undefined));
    const r = spawnSync('bash', ['-c', recipe()], {
      cwd: dir,
      env: { PATH: process.env.PATH, B: 'bundle.json', KEY_HEX: key },
      encoding: 'utf8',
    });
    return { code: r.status, out: `${r.stdout}${r.stderr}` };
  }

  it('verifies the DSSE signature and the checkpoint of a real bundle, compact or pretty', () => {
    for (const pretty of [false, true]) {
      const r = runRecipe(fx.bundles[1]!, pretty);
      expect(r.code).toBe(0);
      expect(r.out.match(/Signature Verified Successfully/g)).toHaveLength(2);
    }
  });

  it('fails on a tampered payload, a tampered checkpoint, or another key', () => {
    const payload = structuredClone(fx.bundle);
    const p = Buffer.from(payload.dsseEnvelope.payload, 'base64');
    p[10]! ^= 1;
    payload.dsseEnvelope.payload = p.toString('base64');
    expect(runRecipe(payload, false)).toMatchObject({ code: 1 });
    expect(runRecipe(payload, false).out).toContain('Signature Verification Failure');

    const cp = structuredClone(fx.bundle);
    cp.transparencyLog!.checkpoint = cp.transparencyLog!.checkpoint.replace('\n2\n', '\n7\n');
    const r = runRecipe(cp, true);
    expect(r.code).toBe(1);
    expect(r.out.match(/Signature Verified Successfully/g)).toHaveLength(1);

    const other = Buffer.alloc(32, 0x25).toString('hex');
    expect(runRecipe(fx.bundle, false, other).code).not.toBe(0);
  });
});
