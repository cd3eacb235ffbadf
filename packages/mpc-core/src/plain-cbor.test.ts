import { Decoder } from 'cbor-x';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { weightedRiskRecord } from './aggregation/test-helpers/record-fixture.js';
import {
  ciphersuites,
  decodeAggregationRecordCbor,
  decodeCbor,
  encodeAggregationRecordCbor,
  encodeCbor,
  KeyPackageCodec,
  scanCbor,
  trustedDealer,
  ValidationError,
  VerificationError,
  verifyAggregation,
} from './index.js';
import { seededRng } from './test-helpers/rng.js';

const hex = (h: string) => Uint8Array.from(Buffer.from(h, 'hex'));

/**
 * `levels + 1` arrays where level i is `[level i-1, level i-1]` through tags 28 (shareable) and 29
 * (reference to shareable number n): 12 bytes a level, 2^levels paths for a walk of the decoded value.
 */
function sharedReferenceDag(levels: number): number[] {
  const out = [0x98, levels + 1, 0xd8, 0x1c, 0x81, 0x01];
  for (let i = 1; i <= levels; i++)
    out.push(0xd8, 0x1c, 0x82, 0xd8, 0x1d, 0x18, i - 1, 0xd8, 0x1d, 0x18, i - 1);
  return out;
}

/** JSON-like values as the AAPS forms hold them (no undefined, no tags). */
const plainValue = fc.jsonValue({ maxDepth: 4 }).map((v) => JSON.parse(JSON.stringify(v)) as unknown);

describe('scanCbor', () => {
  it('reads whatever encodeCbor writes: no tag, no repeated key', () => {
    fc.assert(
      fc.property(plainValue, fc.uint8Array({ maxLength: 40 }), (value, bytes) => {
        expect(scanCbor(encodeCbor({ value, bytes }))).toEqual({});
      }),
      { numRuns: 200 },
    );
  });

  it('finds a tag wherever it is, by number and offset, and decodeCbor refuses it before decoding', () => {
    fc.assert(
      fc.property(
        plainValue,
        fc.nat(),
        fc.constantFrom([0xc1], [0xd8, 0x1c], [0xd9, 0x01, 0x02], [0xda, 0, 1, 0, 0]),
        (value, where, tagHead) => {
          // Tag the value in one slot of an array: [value, 1, "x"] with one element tagged.
          const slot = where % 3;
          const items = [encodeCbor(value), encodeCbor(1), encodeCbor('x')];
          const parts: Uint8Array[] = [Uint8Array.of(0x83)];
          let offset = 1;
          for (let i = 0; i < 3; i++) {
            if (i === slot) parts.push(Uint8Array.from(tagHead));
            else if (i < slot) offset += items[i]!.length;
            parts.push(items[i]!);
          }
          const bytes = Buffer.concat(parts);
          const scan = scanCbor(bytes);
          expect(scan.tag?.offset).toBe(offset);
          expect(scan.tag?.number).toBe(decodeHeadNumber(tagHead));
          expect(() => decodeCbor(bytes)).toThrow(
            expect.objectContaining({
              code: 'DECODE_FAILED',
              message: `CBOR tag ${scan.tag!.number} at byte ${offset} (AAPS CBOR has no tags)`,
            }),
          );
        },
      ),
      { numRuns: 100 },
    );
  });

  it('refuses every proper prefix and any trailing byte of well-formed CBOR', () => {
    fc.assert(
      fc.property(plainValue, fc.nat(), fc.integer({ min: 0, max: 255 }), (value, cut, extra) => {
        const bytes = encodeCbor({ value });
        const prefix = bytes.subarray(0, cut % bytes.length);
        expect(() => scanCbor(prefix)).toThrow(ValidationError);
        expect(() => scanCbor(Buffer.concat([bytes, Uint8Array.of(extra)]))).toThrow(
          /1 bytes after the item/,
        );
      }),
      { numRuns: 200 },
    );
  });

  it('names the first repeated map key: text (definite or chunked) and integers alike', () => {
    expect(scanCbor(hex('a2616101616102')).duplicateKey).toBe('a');
    expect(scanCbor(hex('bf6161017f616160ff02ff')).duplicateKey).toBe('a'); // chunked "a"
    expect(scanCbor(hex('a2010a010b')).duplicateKey).toBe('1');
    // Integer keys past 2^53 by their exact value, as cbor-x names them (it reads them as BigInt):
    // 2^53 + 1 and 2^53 + 2 are two properties, and 5 in eight bytes is "5".
    const u64 = (n: bigint) => `1b${n.toString(16).padStart(16, '0')}`;
    expect(scanCbor(hex(`a2${u64(2n ** 53n + 1n)}00${u64(2n ** 53n + 2n)}01`)).duplicateKey).toBeUndefined();
    expect(scanCbor(hex(`a2${u64(2n ** 53n + 1n)}00${u64(2n ** 53n + 1n)}01`)).duplicateKey).toBe(
      '9007199254740993',
    );
    expect(scanCbor(hex(`a2${u64(5n)}000501`)).duplicateKey).toBe('5');
    expect(scanCbor(hex('a2616101616202')).duplicateKey).toBeUndefined();
    // cbor-x renames "__proto__" to "__proto_" (prototype pollution): one property for it.
    const proto = [0xa2, 0x69, ...Buffer.from('__proto__'), 0x00, 0x68, ...Buffer.from('__proto_'), 0x01];
    expect(
      Object.keys(new Decoder({ mapsAsObjects: true }).decode(Uint8Array.from(proto)) as object),
    ).toEqual(['__proto_']);
    expect(scanCbor(Uint8Array.from(proto)).duplicateKey).toBe('__proto_');
  });

  it('refuses a map key that is not text or an integer where it starts, before walking it', () => {
    // cbor-x makes 1.0 and true the properties "1" and "true" (so {"1": 0, 1.0: 1} would hide a
    // duplicate), and reads a whole map or array before refusing it as a key.
    for (const [h, at] of [
      ['a26131 00 f93c00 01', 4], // {"1": 0, 1.0: 1}
      ['a26474727565 00 f5 01', 7], // {"true": 0, true: 1}
      ['a1 420102 00', 1], // a byte-string key
      ['a1 80 00', 1], // an array key
    ] as const) {
      const bytes = hex(h.replaceAll(' ', ''));
      expect(() => scanCbor(bytes), h).toThrow(`the map key at byte ${at} is not text or an integer`);
      expect(() => decodeCbor(bytes), h).toThrow(ValidationError);
    }
    // Maps as keys of maps, 1,500 deep around a 2 MB byte string: refused at the first key, so no
    // key is walked (a walk of each key inside each key is depth x size).
    const depth = 1_500;
    const nested = new Uint8Array(depth + 5 + 2_000_000 + depth).fill(0xa1, 0, depth);
    nested[depth] = 0x5a;
    new DataView(nested.buffer).setUint32(depth + 1, 2_000_000);
    expect(() => scanCbor(nested)).toThrow('the map key at byte 1 is not text or an integer');
    expect(() => decodeCbor(nested)).toThrow(expect.objectContaining({ code: 'DECODE_FAILED' }));
  });

  it('refuses reserved heads, stray breaks and mixed chunks', () => {
    for (const [h, why] of [
      ['1c', /reserved additional information 28/],
      ['ff', /break outside/],
      ['7f4161ff', /a chunk of another kind/],
      ['1f', /indefinite length on major type 0/],
    ] as const)
      expect(() => scanCbor(hex(h)), h).toThrow(why);
    expect(() => scanCbor('a1' as never)).toThrow(ValidationError);
  });

  it('a thing nested deeper than the stack is DECODE_FAILED, not a RangeError', () => {
    const deep = new Uint8Array(1_000_000).fill(0x81);
    expect(() => scanCbor(deep)).toThrow(expect.objectContaining({ code: 'DECODE_FAILED' }));
    expect(() => decodeCbor(deep)).toThrow(ValidationError);
  });
});

describe('decoders refuse CBOR tags before anything walks the value', () => {
  it('a protocol message with a shared reference is DECODE_FAILED naming its type', () => {
    const deal = trustedDealer(ciphersuites.ed25519, { min: 2, max: 3 }, { rng: seededRng(7) });
    const bytes = KeyPackageCodec.encode('FROST-ED25519-SHA512-v1', deal.keyPackages[0]!);
    // The top-level map marked shareable: cbor-x would decode it as it did before.
    const tagged = Buffer.concat([Uint8Array.of(0xd8, 0x1c), bytes]);
    expect(() => KeyPackageCodec.decode(tagged)).toThrow(
      expect.objectContaining({
        code: 'DECODE_FAILED',
        message: expect.stringMatching(/^KeyPackage.*CBOR tag 28 at byte 0/),
      }),
    );
  });

  it('an aggregation record whose circuit is a 240-byte DAG of shared references fails aggregation.format', async () => {
    const record = await weightedRiskRecord();
    const valid = encodeAggregationRecordCbor(record);
    const raw = decodeCbor(valid) as Record<string, unknown>;
    raw.circuit = '@@DAG@@';
    const bytes = Buffer.from(encodeCbor(raw));
    const marker = Buffer.concat([Buffer.of(0x67), Buffer.from('@@DAG@@')]);
    const at = bytes.indexOf(marker);
    // circuit = {"x": <DAG of 19 levels>}: 2^19 paths, in fewer bytes than the genuine record.
    const dag = [0xa1, 0x61, 0x78, ...sharedReferenceDag(19)];
    const hostile = Buffer.concat([
      bytes.subarray(0, at),
      Buffer.from(dag),
      bytes.subarray(at + marker.length),
    ]);
    expect(hostile.length).toBeLessThan(valid.length);
    expect(() => decodeAggregationRecordCbor(hostile)).toThrow(
      expect.objectContaining({ code: 'DECODE_FAILED', fields: ['record'] }),
    );
    let error: unknown;
    try {
      verifyAggregation(hostile);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(VerificationError);
    expect((error as VerificationError).check).toBe('aggregation.format');
    expect((error as Error).message).toMatch(/CBOR tag 28 at byte \d+/);
    // The genuine record still verifies.
    expect(() => verifyAggregation(valid)).not.toThrow();
  });
});

/** The tag number a tag head encodes. */
function decodeHeadNumber(head: readonly number[]): number {
  const ai = head[0]! & 31;
  if (ai < 24) return ai;
  return head.slice(1).reduce((n, b) => n * 256 + b, 0);
}
