/**
 * Library misuse (from a library review): docs/evidence.md says "Verification takes bytes and keys"; a developer
 * who reads a bundle file and hands its bytes (a Buffer) to `verifyBundle` gets a `bundle.format`
 * failure whose message lists every byte index as an unknown field: the message grows about
 * 8x the input (a 1 MB upload gives a ~7.9 MB message and report, which services log or return).
 * A string (the same file as text) is refused in one short line. And `parseCheckpoint` is
 * declared to throw `log.checkpoint` for what is not a checkpoint, but a non-string gives a raw
 * TypeError.
 */

import { ValidationError } from '@aaps/mpc-core';
import { describe, expect, it } from 'vitest';
import { parseCheckpoint } from './checkpoint.js';
import { createBundleVerifier, validateBundle, verifyBundle } from './index.js';
import { makeLoggedBundles } from './test-helpers/fixtures.js';

describe('evidence library misuse', () => {
  it('a bundle passed as bytes is refused in a bounded message, as a string is', async () => {
    const { group, bundle } = await makeLoggedBundles(1);
    const bytes = Buffer.from(JSON.stringify(bundle));
    let message = '';
    try {
      verifyBundle(bytes, { groupPublicKey: group.publicKey });
    } catch (e) {
      message = (e as Error).message;
    }
    expect(message).not.toBe('');
    expect(message.length, `message for ${bytes.length} bytes`).toBeLessThan(1000);
    const report = createBundleVerifier({ groupPublicKey: group.publicKey }).report(new Uint8Array(100_000));
    expect(report.valid).toBe(false);
    expect(JSON.stringify(report).length, 'report for 100,000 zero bytes').toBeLessThan(10_000);
  });

  it('parseCheckpoint refuses a non-string with the typed log.checkpoint error, not a TypeError', () => {
    for (const bad of [7, undefined, new Uint8Array([0x61, 0x0a])]) {
      let error: unknown;
      try {
        parseCheckpoint(bad as never);
      } catch (e) {
        error = e;
      }
      expect((error as { check?: string })?.check, `parseCheckpoint(${String(bad)})`).toBe('log.checkpoint');
    }
  });

  it('a bundle with many bad fields is refused naming the first 20 and counting the rest', async () => {
    const { bundle } = await makeLoggedBundles(1);
    const junk: Record<string, unknown> = { ...(bundle as unknown as Record<string, unknown>) };
    for (let i = 0; i < 5000; i++) junk[`${'x'.repeat(500)}${i}`] = i;
    let error: unknown;
    try {
      validateBundle(junk);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ValidationError);
    const e = error as ValidationError;
    expect(e.code).toBe('DECODE_FAILED');
    expect(e.fields).toHaveLength(20);
    expect(e.details['problems']).toBe(5000);
    expect(e.message).toContain('and 4980 more');
    expect(e.message.length).toBeLessThan(3000);
  });
});
