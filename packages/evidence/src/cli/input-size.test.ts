/**
 * A bundle larger than the verifier can hold is refused before it is read or parsed (one line,
 * exit 2), not left to end the process with a V8 out-of-memory crash. The limit is a sixteenth of
 * the heap (at most 64 MiB); here the CLI runs under a 64 MiB heap, so a 20 MB bundle stands for
 * one far past any real bundle under the default heap.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLI, ensureBuilt } from '../test-helpers/build-dist.js';
import { type LoggedFixture, makeLoggedBundles } from '../test-helpers/fixtures.js';

let dir: string;
let fx: LoggedFixture;
let keyHex: string;
let big: string;

beforeAll(async () => {
  ensureBuilt();
  dir = mkdtempSync(join(tmpdir(), 'aaps-verify-size-'));
  fx = await makeLoggedBundles(1);
  keyHex = Buffer.from(fx.group.publicKey).toString('hex');
  // A real bundle with a 20 MB member: JSON that would parse to about 80 MB of heap.
  const n = 10_000_000;
  big = `${JSON.stringify(fx.bundle).slice(0, -1)},"aggregation":{"pad":[${'0,'.repeat(n - 1)}0]}}\n`;
  writeFileSync(join(dir, 'big.json'), big);
}, 120_000);

afterAll(() => rmSync(dir, { recursive: true, force: true }));

function runSmallHeap(args: string[], input?: string) {
  const r = spawnSync(process.execPath, ['--max-old-space-size=64', CLI, ...args], {
    input,
    encoding: 'utf8',
    timeout: 120_000,
    maxBuffer: 64 * 1024 * 1024,
  });
  return { code: r.status, signal: r.signal, out: r.stdout.trim(), err: r.stderr.trim() };
}

describe('aaps-verify: a bundle larger than it can hold', () => {
  it('as a BUNDLE file: one line naming its size, exit 2', () => {
    const r = runSmallHeap([join(dir, 'big.json'), '--key', keyHex]);
    expect({ code: r.code, signal: r.signal, lines: r.err.split('\n').length }).toEqual({
      code: 2,
      signal: null,
      lines: 1,
    });
    expect(r.err).toMatch(
      new RegExp(
        `^aaps-verify: .*big\\.json: ${Buffer.byteLength(big)} bytes, more than the \\d+ bytes one bundle may have$`,
      ),
    );
  });

  it('on stdin, between good bundles: that item is unreadable (exit 2), the others are verified', () => {
    const good = JSON.stringify(fx.bundle);
    const r = runSmallHeap(['-', '--key', keyHex, '--jobs', '1'], `${good}\n${big}${good}\n`);
    expect({ code: r.code, signal: r.signal }).toEqual({ code: 2, signal: null });
    expect(r.err).not.toMatch(/FATAL ERROR|heap out of memory/);
    expect(r.out).toMatch(/^3 bundles: 2 valid, 0 invalid, 1 unreadable/m);
    expect(`${r.out}\n${r.err}`).toMatch(/stdin#2.*more than the \d+ bytes one bundle may have/);
  });
});
