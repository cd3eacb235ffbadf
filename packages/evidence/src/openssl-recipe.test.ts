import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildBundle } from './bundle/build.js';
import type { EvidenceBundle } from './bundle/types.js';
import {
  gatewaySigned,
  type LoggedFixture,
  logBundles,
  makeInput,
  makeLoggedBundles,
  makeTranscript,
  ORIGIN,
  reloggedUnderLogKey,
} from './test-helpers/fixtures.js';
import { hasOpenssl, recipeScript } from './test-helpers/openssl-recipe.js';

// Runs the auditor recipe exactly as docs/evidence.md prints it, as the script file it says to
// save it as, with the system's OpenSSL and awk.

type Form = 'compact' | 'pretty' | 'ascii';

/**
 * The bundle's JSON: compact, pretty, or compact with every non-ASCII character escaped as `\uXXXX`
 * and every `/` as `\/` (as other JSON writers do).
 */
function jsonOf(bundle: EvidenceBundle, form: Form): string {
  if (form === 'pretty') return JSON.stringify(bundle, null, 2);
  const text = JSON.stringify(bundle);
  if (form === 'compact') return text;
  return text
    .replace(/[\u007f-\uffff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`)
    .replace(/\//g, '\\/');
}

describe.skipIf(!hasOpenssl)('the OpenSSL recipe in docs/evidence.md', () => {
  let dir: string;
  let fx: LoggedFixture;
  let keyHex: string;
  /** A bundle whose transcript carries a validly signed checkpoint note of another log, and decoys. */
  let planted: EvidenceBundle;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'aaps-openssl-'));
    writeFileSync(join(dir, 'verify-bundle.sh'), recipeScript());
    fx = await makeLoggedBundles(2);
    keyHex = Buffer.from(fx.group.publicKey).toString('hex');
    // A genuine note, signed by the same group key under the same origin (another log of one leaf),
    // that incident data could carry: string fields named like every field the recipe reads.
    const other = await makeLoggedBundles(1, { group: fx.group, roster: fx.r });
    const note = other.bundle.transparencyLog!.checkpoint;
    const decoys = {
      checkpoint: note,
      transparencyLog: { checkpoint: note },
      dsseEnvelope: other.bundle.dsseEnvelope,
      payload: other.bundle.dsseEnvelope.payload,
      payloadType: 'x',
      sig: other.bundle.dsseEnvelope.signatures[0]!.sig,
    };
    const transcript = [
      gatewaySigned(fx.r, 'alertmanager', 'IncidentSignal', { labels: decoys, note: 'em dash — here' }),
      ...makeTranscript(fx.r).slice(1),
    ];
    const bundle = await buildBundle(makeInput(fx.group, fx.r, { transcript }), fx.group.sign);
    planted = (await logBundles([bundle], fx.group))[0]!;
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  function runRecipe(bundle: EvidenceBundle, form: Form, env: Record<string, string> = {}) {
    return runRecipeOn(jsonOf(bundle, form), env);
  }

  function runRecipeOn(text: string, env: Record<string, string> = {}) {
    writeFileSync(join(dir, 'bundle.json'), text);
    const r = spawnSync('bash', ['verify-bundle.sh'], {
      cwd: dir,
      // A UTF-8 locale outside: the script sets LC_ALL=C itself.
      env: { PATH: process.env.PATH, LC_ALL: 'C.UTF-8', B: 'bundle.json', KEY_HEX: keyHex, ...env },
      encoding: 'utf8',
    });
    return { code: r.status, out: `${r.stdout}${r.stderr}` };
  }

  const verified = (out: string) => out.match(/Signature Verified Successfully/g)?.length ?? 0;
  /** The fresh directory the script worked in, from its last line. */
  const workDir = (out: string) => {
    const m = /^OK: the group key signed the Statement \((.+)\/payload\.json\)/m.exec(out);
    if (!m) throw new Error(`no OK line naming the working directory:\n${out}`);
    return m[1]!;
  };

  it('verifies the DSSE signature and the checkpoint of a real bundle, compact, pretty or ASCII-escaped', () => {
    for (const form of ['compact', 'pretty', 'ascii'] as const) {
      const r = runRecipe(fx.bundles[1]!, form);
      expect({ form, code: r.code }).toEqual({ form, code: 0 });
      expect(verified(r.out)).toBe(2);
      expect(r.out).toMatch(/^OK: /m);
      expect(readFileSync(join(workDir(r.out), 'checkpoint.note'), 'utf8')).toBe(
        fx.bundles[1]!.transparencyLog!.checkpoint,
      );
      rmSync(workDir(r.out), { recursive: true, force: true });
    }
    // Nothing was written beside the bundle.
    expect(readdirSync(dir).sort()).toEqual(['bundle.json', 'verify-bundle.sh']);
  });

  it("reads the bundle's own fields when the transcript carries fields of the same names", () => {
    expect(JSON.stringify(planted.transcript)).toContain('"checkpoint":"aaps.test/log');
    for (const form of ['compact', 'pretty', 'ascii'] as const) {
      const r = runRecipe(planted, form);
      expect({ form, code: r.code, out: r.out }).toMatchObject({ form, code: 0 });
      const w = workDir(r.out);
      expect(readFileSync(join(w, 'checkpoint.note'), 'utf8')).toBe(planted.transparencyLog!.checkpoint);
      expect(readFileSync(join(w, 'payload.json'))).toEqual(
        Buffer.from(planted.dsseEnvelope.payload, 'base64'),
      );
      rmSync(w, { recursive: true, force: true });
    }
    // The bundle's own checkpoint tampered: the genuine note in the transcript does not save it.
    const cp = structuredClone(planted);
    cp.transparencyLog!.checkpoint = cp.transparencyLog!.checkpoint.replace(/\n(\d+)\n/, '\n9$1\n');
    for (const form of ['compact', 'ascii'] as const) {
      const r = runRecipe(cp, form);
      expect({ form, code: r.code }).toEqual({ form, code: 1 });
      expect(r.out).toContain('FAILED: checkpoint signature');
    }
  });

  it('fails a bundle with a duplicate key on a path it reads (parsers take the last, a scanner the first)', () => {
    // A valid envelope first, a forged one after: JSON.parse (and aaps-verify) see the forged one.
    const forged = structuredClone(fx.bundles[1]!);
    forged.dsseEnvelope.payload = Buffer.from('{"forged":true}').toString('base64');
    const genuine = JSON.stringify(fx.bundles[1]!.dsseEnvelope);
    const text = `{"dsseEnvelope":${genuine},${JSON.stringify(forged).slice(1)}`;
    expect((JSON.parse(text) as EvidenceBundle).dsseEnvelope.payload).toBe(forged.dsseEnvelope.payload);
    const r = runRecipeOn(text);
    expect(r.code).toBe(1);
    expect(r.out).toContain('FAILED: dsseEnvelope.payloadType appears more than once');
    expect(r.out).not.toMatch(/^OK/m);
    const log = JSON.stringify(fx.bundles[1]!.transparencyLog);
    const twice = `{"transparencyLog":${log},${JSON.stringify(fx.bundles[1]!).slice(1)}`;
    expect(runRecipeOn(twice).out).toContain('FAILED: transparencyLog.checkpoint appears more than once');
  });

  it('fails on a tampered payload, a tampered checkpoint, or another key, naming the step', () => {
    const payload = structuredClone(fx.bundle);
    const p = Buffer.from(payload.dsseEnvelope.payload, 'base64');
    p[10]! ^= 1;
    payload.dsseEnvelope.payload = p.toString('base64');
    const r1 = runRecipe(payload, 'compact');
    expect(r1.code).toBe(1);
    expect(r1.out).toContain('Signature Verification Failure');
    expect(r1.out).toContain('FAILED: DSSE signature');
    expect(r1.out).not.toMatch(/^OK/m);

    const cp = structuredClone(fx.bundle);
    cp.transparencyLog!.checkpoint = cp.transparencyLog!.checkpoint.replace('\n2\n', '\n7\n');
    const r = runRecipe(cp, 'pretty');
    expect(r.code).toBe(1);
    expect(verified(r.out)).toBe(1);
    expect(r.out).toContain('FAILED: checkpoint signature');

    const other = Buffer.alloc(32, 0x25).toString('hex');
    expect(runRecipe(fx.bundle, 'compact', { KEY_HEX: other }).code).toBe(1);
    expect(runRecipe(fx.bundle, 'compact', { KEY_HEX: '00' }).out).toContain('FAILED: KEY_HEX must be');
  });

  it('checks the checkpoint under a separate log key (aaps.log.publicKeyHex) and its key name', async () => {
    const { bundle, logSigner, logKey } = await reloggedUnderLogKey(fx.bundle);
    const logHex = Buffer.from(logSigner.publicKey).toString('hex');
    const ok = runRecipe(bundle, 'compact', { LOG_KEY_HEX: logHex, LOG_NAME: logKey.name });
    expect(ok.code).toBe(0);
    expect(verified(ok.out)).toBe(2);
    // Under the group key, or looking for a signature by the origin's name, it fails.
    expect(runRecipe(bundle, 'compact', { LOG_NAME: logKey.name }).out).toContain(
      'FAILED: checkpoint signature',
    );
    expect(runRecipe(bundle, 'compact', { LOG_KEY_HEX: logHex }).out).toContain(
      `FAILED: the checkpoint has no signature line by ${ORIGIN}`,
    );
  });
});
