import { beforeAll, describe, expect, it } from 'vitest';
import { bytesToHex } from '../bytes.js';
import { VerificationError } from '../errors.js';
import { getCiphersuite } from '../suite/registry.js';
import { loadCircuit } from './circuit.js';
import { createAggregationSession } from './protocol.js';
import {
  type AggregationRecord,
  aggregationDigest,
  aggregationRecordFromJson,
  aggregationRecordToJson,
  decodeAggregationRecordCbor,
  decodeAggregationRecordJson,
  encodeAggregationRecordCbor,
  encodeAggregationRecordJson,
  type VerifiedProofs,
  verifyAggregation,
} from './record.js';
import { circuitJson, circuits } from './test-helpers/fixtures.js';
import { RISK_EXPECTED, roundRecord, weightedRiskRecord } from './test-helpers/record-fixture.js';

let record: AggregationRecord;
beforeAll(async () => {
  record = await weightedRiskRecord();
});

function failsWith(check: string, input: Parameters<typeof verifyAggregation>[0], opts = {}) {
  try {
    verifyAggregation(input, opts);
  } catch (e) {
    expect(e).toBeInstanceOf(VerificationError);
    expect((e as VerificationError).check).toBe(check);
    return;
  }
  expect.unreachable('the record verified');
}

const edit = (f: (j: ReturnType<typeof aggregationRecordToJson>) => void): AggregationRecord => {
  const j = aggregationRecordToJson(record);
  f(j);
  return aggregationRecordFromJson(j);
};

describe('aggregation record', () => {
  it('verifies, with the opened result and its digest', () => {
    const v = verifyAggregation(record, { circuit: circuits['weighted-risk'] });
    expect(v.circuitId).toBe('weighted-risk');
    expect(v.outputs).toEqual([{ name: 'weighted_risk', value: RISK_EXPECTED, scale: 1 }]);
    expect(bytesToHex(v.digest)).toBe(bytesToHex(aggregationDigest(record)));
  });

  it('its JSON form is a JSON object as JSON-typed fields take it (checked by tsc)', () => {
    // A JSON object type as other packages declare one: an index signature over JSON values. An
    // `interface` is not assignable to it (TS2322); the type alias is.
    type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
    const asJson: { [key: string]: Json } = aggregationRecordToJson(record);
    expect(aggregationRecordFromJson(asJson).sessionId).toBe(record.sessionId);
  });

  it('round-trips through CBOR and canonical JSON with the same digest', () => {
    const cbor = encodeAggregationRecordCbor(record);
    const json = encodeAggregationRecordJson(record);
    const a = decodeAggregationRecordCbor(cbor);
    const b = decodeAggregationRecordJson(json);
    expect(bytesToHex(aggregationDigest(a))).toBe(bytesToHex(aggregationDigest(record)));
    expect(bytesToHex(aggregationDigest(b))).toBe(bytesToHex(aggregationDigest(record)));
    expect(encodeAggregationRecordJson(a)).toBe(json);
    expect(verifyAggregation(cbor).outputs[0]!.value).toBe(RISK_EXPECTED);
    expect(verifyAggregation(json).outputs[0]!.value).toBe(RISK_EXPECTED);
    expect(JSON.parse(json).inputs[0].commitmentHex).toMatch(/^[0-9a-f]{64}$/);
  });

  it('names the failing check', () => {
    failsWith(
      'aggregation.opening',
      edit((j) => {
        j.outputs[0]!.blindingHex = j.inputs[0]!.commitmentHex.replace(/^../, '00').replace(/..$/, '00');
      }),
    );
    failsWith(
      'aggregation.opening',
      edit((j) => {
        j.outputs[0]!.value = String(RISK_EXPECTED - 1n);
      }),
    );
    failsWith(
      'aggregation.result',
      edit((j) => {
        j.outputs[0]!.value = '1001';
      }),
    );
    failsWith(
      'aggregation.range-proof',
      edit((j) => {
        j.sessionId = 'incident-8.weighted-risk';
      }),
    );
    failsWith(
      'aggregation.range-proof',
      edit((j) => {
        j.inputs[1]!.rangeProofHex = null;
      }),
    );
    failsWith(
      'aggregation.circuit',
      edit((j) => {
        j.inputs[1]!.provider = j.inputs[2]!.provider;
      }),
    );
    // A changed circuit changes the session digest every range proof is bound to.
    failsWith(
      'aggregation.range-proof',
      edit((j) => {
        (j.circuit as Record<string, unknown>).version = 3;
      }),
    );
    failsWith(
      'aggregation.circuit',
      edit((j) => {
        (j.circuit as Record<string, unknown>).extra = 1;
      }),
    );
    failsWith(
      'aggregation.commitment',
      edit((j) => {
        j.inputs[0]!.commitmentHex = `${'00'.repeat(31)}80`;
      }),
    );
    failsWith(
      'aggregation.session',
      edit((j) => {
        j.threshold = 9;
      }),
    );
    failsWith('aggregation.circuit', record, { circuit: circuits['approval-tally'] });
    const other = loadCircuit({ ...(circuits['weighted-risk'].json as object), description: 'other' });
    failsWith('aggregation.circuit', record, { circuit: other });
  });

  it('refuses non-canonical encodings as aggregation.format', () => {
    const json = encodeAggregationRecordJson(record);
    failsWith('aggregation.format', ` ${json}`);
    failsWith('aggregation.format', JSON.stringify(JSON.parse(json), null, 1));
    failsWith('aggregation.format', new Uint8Array([0xa0]));
    failsWith('aggregation.format', '{}');
  });

  it('a malformed record names the field that failed (details.fields) beside the check', () => {
    const json = encodeAggregationRecordJson(record).replace(/"threshold":(\d+)/, '"threshold":"$1"');
    const e = (() => {
      try {
        verifyAggregation(json);
      } catch (x) {
        return x;
      }
      return expect.unreachable('the record verified');
    })();
    expect(e).toBeInstanceOf(VerificationError);
    expect((e as VerificationError).check).toBe('aggregation.format');
    expect((e as VerificationError).details['fields']).toEqual(['record.threshold']);
    expect((e as VerificationError).message).toMatch(/record\.threshold/);
  });
});

describe('aggregation record: range proofs the caller verified', () => {
  /** What a party that verified `r`'s dealings would pass: its session digest, each input's bytes. */
  function verifiedOf(r: AggregationRecord): VerifiedProofs {
    const session = createAggregationSession(getCiphersuite(r.suite), {
      circuit: loadCircuit(r.circuit),
      sessionId: r.sessionId,
      threshold: r.threshold,
      parties: r.parties,
    });
    return {
      sessionDigest: session.digest,
      inputs: r.inputs.map((i) => ({ commitment: i.commitment, rangeProof: i.rangeProof })),
    };
  }
  /** `r` with input `i`'s proof replaced by bytes that do not verify. */
  const badProof = (i: number) =>
    edit((j) => {
      const hex = j.inputs[i]!.rangeProofHex!;
      j.inputs[i]!.rangeProofHex =
        `${hex.slice(0, 64)}${hex.slice(64, 66) === '00' ? '01' : '00'}${hex.slice(66)}`;
    });

  it('gives the same result, and skips only proofs with the very bytes verified, in the same session', () => {
    const full = verifyAggregation(record);
    expect(verifyAggregation(record, { verified: verifiedOf(record) })).toEqual(full);
    // A record whose proof differs from the one verified is verified, and fails.
    failsWith('aggregation.range-proof', badProof(2), { verified: verifiedOf(record) });
    // What the caller vouches for is its business: a bad proof it lists for this session is skipped.
    const bad = badProof(2);
    expect(verifyAggregation(bad, { verified: verifiedOf(bad) }).outputs).toEqual(full.outputs);
    // Under another session digest nothing is skipped.
    failsWith('aggregation.range-proof', bad, {
      verified: { ...verifiedOf(bad), sessionDigest: new Uint8Array(32) },
    });
    // Nor when the commitment it lists is another.
    const other = verifiedOf(bad);
    failsWith('aggregation.range-proof', bad, {
      verified: {
        ...other,
        inputs: other.inputs.map((x, i) =>
          i === 2 ? { ...x, commitment: record.inputs[3]!.commitment } : x,
        ),
      },
    });
  });

  it('refuses a malformed verified option', () => {
    expect(() => verifyAggregation(record, { verified: { sessionDigest: 'x' } as never })).toThrow(
      /opts\.verified\.sessionDigest/,
    );
    expect(() =>
      verifyAggregation(record, { verified: { sessionDigest: new Uint8Array(32), inputs: 1 } as never }),
    ).toThrow(/opts\.verified\.inputs/);
  });
});

describe('aggregation record: no range proof binds the session', () => {
  it('another sessionId or threshold verifies as well; only the digest the parties sign tells them apart', async () => {
    const json = structuredClone(circuitJson['cost-total']) as { inputs: Record<string, unknown>[] };
    json.inputs = json.inputs.map((i) => ({ ...i, rangeProof: false }));
    const circuit = loadCircuit(json);
    const unbound = await roundRecord(circuit, [10, 20, 30, 40, 50], {
      seed: 'unbound-session',
      sessionId: 'real-session',
    });
    const j = aggregationRecordToJson(unbound);
    const moved = aggregationRecordFromJson({ ...j, sessionId: 'another-session' });
    const lowered = aggregationRecordFromJson({ ...j, threshold: 2 });
    // What docs/aggregation.md ("Record") says: the opening binds no session field.
    for (const r of [unbound, moved, lowered]) {
      expect(verifyAggregation(encodeAggregationRecordJson(r), { circuit }).outputs[0]!.value).toBe(150n);
    }
    const digests = new Set([unbound, moved, lowered].map((r) => bytesToHex(aggregationDigest(r))));
    expect(digests.size).toBe(3);
  });
});
