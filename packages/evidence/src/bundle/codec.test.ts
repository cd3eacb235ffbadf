import { describe, expect, it } from 'vitest';
import { makeLoggedBundles } from '../test-helpers/fixtures.js';
import { aggregationRecord, refFor } from '../test-helpers/pooled.js';
import { decodeBundleCbor, encodeBundleCbor } from './codec.js';
import { verifyBundle } from './verify.js';

describe('bundle CBOR', () => {
  it('round-trips a bundle to the same JSON data model, which still verifies', async () => {
    const record = aggregationRecord();
    const { group, bundle } = await makeLoggedBundles(2, { pooled: { record, ref: refFor(record, 80) } });
    const bytes = encodeBundleCbor(bundle);
    const back = decodeBundleCbor(bytes);
    expect(back).toEqual(JSON.parse(JSON.stringify(bundle)));
    verifyBundle(back, { groupPublicKey: group.publicKey });
    // Plain CBOR: a map (major type 5) at the top, no cbor-x record tags.
    expect(bytes[0]! >> 5).toBe(5);
    // Any JSON in the record's place survives too (fractions, negatives, mixed arrays).
    const odd = { ...bundle, aggregation: { output: 3, parts: [1.5, -2, 'x'] } };
    expect(decodeBundleCbor(encodeBundleCbor(odd))).toEqual(JSON.parse(JSON.stringify(odd)));
  });

  it('refuses any CBOR tag with DECODE_FAILED before decoding: shared references would decode to a graph whose walk is exponential', async () => {
    const { group, bundle } = await makeLoggedBundles(1);
    const edited = structuredClone(bundle) as unknown as { transcript: { payload: unknown }[] };
    edited.transcript[0]!.payload = '@@DAG@@';
    const bytes = Buffer.from(encodeBundleCbor(edited as never));
    const marker = Buffer.concat([Buffer.of(0x67), Buffer.from('@@DAG@@')]);
    const at = bytes.indexOf(marker);
    // 23 arrays, each [previous, previous] through tags 28 (shareable) and 29 (reference): 2^22
    // paths to walk from 270 bytes, which the verifier's canonicalisation would walk.
    const dag = [0x97, 0xd8, 0x1c, 0x81, 0x01];
    for (let i = 1; i <= 22; i++)
      dag.push(0xd8, 0x1c, 0x82, 0xd8, 0x1d, 0x18, i - 1, 0xd8, 0x1d, 0x18, i - 1);
    const hostile = Buffer.concat([
      bytes.subarray(0, at),
      Buffer.from(dag),
      bytes.subarray(at + marker.length),
    ]);
    expect(() => decodeBundleCbor(hostile)).toThrow(
      expect.objectContaining({
        code: 'DECODE_FAILED',
        message: `bundle: CBOR tag 28 at byte ${at + 1} (AAPS CBOR has no tags)`,
      }),
    );
    // The same place holding plain CBOR decodes, and the genuine bundle still verifies.
    verifyBundle(decodeBundleCbor(encodeBundleCbor(bundle)), { groupPublicKey: group.publicKey });
  });

  it('refuses bytes that are not CBOR with DECODE_FAILED', () => {
    expect(() => decodeBundleCbor(Uint8Array.of(0xff, 0xff))).toThrow(
      expect.objectContaining({ code: 'DECODE_FAILED' }),
    );
  });
});
