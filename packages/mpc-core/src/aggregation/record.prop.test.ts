/** Public verification fails on any changed byte of an encoded record (CBOR and JSON). */
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { utf8 } from '../bytes.js';
import { VerificationError } from '../errors.js';
import {
  type AggregationRecord,
  encodeAggregationRecordCbor,
  encodeAggregationRecordJson,
  verifyAggregation,
} from './record.js';
import { weightedRiskRecord } from './test-helpers/record-fixture.js';

let record: AggregationRecord;
beforeAll(async () => {
  record = await weightedRiskRecord('record-prop');
});

function refused(input: Uint8Array | string): void {
  try {
    verifyAggregation(input);
  } catch (e) {
    expect(e).toBeInstanceOf(VerificationError);
    expect((e as VerificationError).check).toMatch(/^aggregation\./);
    return;
  }
  expect.unreachable('a changed record verified');
}

describe('record integrity', () => {
  it('the untouched encodings verify', () => {
    expect(() => verifyAggregation(encodeAggregationRecordCbor(record))).not.toThrow();
    expect(() => verifyAggregation(encodeAggregationRecordJson(record))).not.toThrow();
  });

  it('any changed byte of the CBOR record fails verification', () => {
    const bytes = encodeAggregationRecordCbor(record);
    fc.assert(
      fc.property(fc.nat({ max: bytes.length - 1 }), fc.integer({ min: 1, max: 255 }), (pos, xor) => {
        const bad = bytes.slice();
        bad[pos]! ^= xor;
        refused(bad);
      }),
      { numRuns: 60 },
    );
  });

  it('any changed byte of the JSON record fails verification', () => {
    const bytes = utf8(encodeAggregationRecordJson(record));
    fc.assert(
      fc.property(fc.nat({ max: bytes.length - 1 }), fc.integer({ min: 1, max: 127 }), (pos, xor) => {
        const bad = bytes.slice();
        bad[pos]! ^= xor;
        refused(new TextDecoder().decode(bad));
      }),
      { numRuns: 60 },
    );
  });
});
