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

  it('refuses bytes that are not CBOR with DECODE_FAILED', () => {
    expect(() => decodeBundleCbor(Uint8Array.of(0xff, 0xff))).toThrow(
      expect.objectContaining({ code: 'DECODE_FAILED' }),
    );
  });
});
