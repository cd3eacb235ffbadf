/**
 * Vector inputs: the bucket multi-scalar multiplication against plain scalar multiplication, and
 * the protocol on element-wise circuits: any t result shares open the plaintext result, a bad
 * share vector names its dealer, a lying opener is named and skipped, and the record verifies
 * offline and fails on a changed element.
 */
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { ProtocolError, ValidationError, VerificationError } from '../errors.js';
import { SecretBytes } from '../secret.js';
import { getCiphersuite, loadFastBackends } from '../suite/registry.js';
import type { AnyCiphersuite } from '../suite/types.js';
import { randomWeights } from './batch.js';
import { evaluateCircuit, loadCircuit, MAX_VECTOR_LENGTH } from './circuit.js';
import { msm, pointClass } from './curve.js';
import {
  createAggregationSession,
  dealInputs,
  evaluateShares,
  type InputDealing,
  openResult,
  publicDealing,
  type ResultShare,
  verifyDealing,
  verifyDealings,
} from './protocol.js';
import {
  aggregationRecordFromJson,
  aggregationRecordToJson,
  buildAggregationRecord,
  decodeAggregationRecordCbor,
  encodeAggregationRecordCbor,
  encodeAggregationRecordJson,
  verifyAggregation,
} from './record.js';
import {
  byteHistogram,
  chiSquareTwoSample,
  chiSquareUniform,
  countBytes,
} from './test-helpers/byte-histogram.js';
import { partiesFor, ROLES, seededRng } from './test-helpers/fixtures.js';
import { dealVector, msmGenerators, vectorGenerators } from './vector.js';
import { prepareVectorPad } from './vector-pad.js';

let suites: AnyCiphersuite[];
beforeAll(async () => {
  await loadFastBackends();
  suites = [getCiphersuite('FROST-ED25519-SHA512-v1'), getCiphersuite('FROST-secp256k1-SHA256-v1')];
});

/** Per role a vector of `length` counts and one scalar; outputs: the weighted vector sum, the scalar sum. */
function mixedCircuit(length: number) {
  return loadCircuit({
    format: 'aaps-circuit/v1',
    id: 'mixed-vector',
    version: 1,
    inputs: ROLES.flatMap((role) => [
      { name: `v.${role}`, role, range: { min: -50, max: 1000 }, rangeProof: false, length },
      { name: `s.${role}`, role, range: { min: 0, max: 100 } },
    ]),
    outputs: [
      { name: 'sums', terms: ROLES.map((role, i) => ({ input: `v.${role}`, weight: i + 1 })), constant: 7 },
      { name: 'total', terms: ROLES.map((role) => ({ input: `s.${role}` })) },
    ],
  });
}

describe('msm', () => {
  it('equals the sum of scalar multiplications, for any scalars', () => {
    const suite = getCiphersuite('FROST-ED25519-SHA512-v1');
    const Pc = pointClass(suite.id);
    const G = vectorGenerators(suite, 12);
    const q = suite.field.ORDER;
    fc.assert(
      fc.property(
        fc.array(
          fc.oneof(fc.constant(0n), fc.bigInt({ min: 0n, max: 1000n }), fc.bigInt({ min: 0n, max: q - 1n })),
          { minLength: 1, maxLength: 12 },
        ),
        (scalars) => {
          const points = G.slice(0, scalars.length);
          let naive = Pc.ZERO;
          scalars.forEach((s, k) => {
            if (s !== 0n) naive = naive.add(points[k]!.multiply(s));
          });
          expect(msm(Pc, points, scalars).subtract(naive).is0()).toBe(true);
        },
      ),
      { numRuns: 40 },
    );
  });

  it('agrees over the generators with and without their window tables', () => {
    for (const suite of suites) {
      const Pc = pointClass(suite.id);
      const q = suite.field.ORDER;
      const G = vectorGenerators(suite, 80);
      fc.assert(
        fc.property(
          fc.array(fc.oneof(fc.constant(0n), fc.bigInt({ min: 0n, max: q - 1n })), {
            minLength: 64,
            maxLength: 80,
          }),
          (scalars) => {
            // The first full-size call runs before the tables exist, later ones on them.
            const viaTables = msmGenerators(suite, scalars);
            expect(viaTables.subtract(msm(Pc, G.slice(0, scalars.length), scalars)).is0()).toBe(true);
          },
        ),
        { numRuns: 4 },
      );
    }
  });

  it('derives distinct generators, stable across calls and lengths', () => {
    const suite = getCiphersuite('FROST-ED25519-SHA512-v1');
    const a = vectorGenerators(suite, 4).map((p) => p.toBytes());
    const b = vectorGenerators(suite, 9)
      .slice(0, 4)
      .map((p) => p.toBytes());
    expect(b).toEqual(a);
    expect(new Set(a.map((x) => Buffer.from(x).toString('hex'))).size).toBe(4);
  });
});

describe('dealVector', () => {
  it('gives t-1 receivers uniform share elements whatever the vector, with or without a pad (chi-square, fixed seed)', () => {
    const suite = suites[0]!;
    const F = suite.field;
    const xs = [1n, 2n, 3n, 4n, 5n];
    const t = 3;
    const rng = seededRng('vector-uniformity');
    const hist = (vector: bigint[], padded: boolean, bytes = 31) => {
      const out = byteHistogram();
      // 40 dealings: 24,800 bytes a histogram, about 97 a value, enough for the chi-square
      // approximation (every expected count far above 5) and for the control below.
      for (let i = 0; i < 40; i++) {
        const pad = padded
          ? prepareVectorPad(suite, { length: vector.length, threshold: t }, rng)
          : undefined;
        for (const s of dealVector(suite, vector, xs, t, rng, pad).shares.slice(0, t - 1)) {
          // The low 31 bytes of a uniform scalar mod q ~ 2^252 are uniform; the top one is not.
          for (const v of s.values) countBytes(out, F.toBytes(v).subarray(0, bytes));
        }
      }
      return out;
    };
    for (const padded of [false, true]) {
      const zeros = hist(new Array<bigint>(10).fill(0n), padded);
      const counts = hist(
        Array.from({ length: 10 }, (_, k) => BigInt(k * 1000)),
        padded,
      );
      // 255 degrees of freedom: mean 255, sd ~22.6.
      expect(chiSquareUniform(zeros)).toBeLessThan(400);
      expect(chiSquareUniform(counts)).toBeLessThan(400);
      expect(chiSquareTwoSample(zeros, counts)).toBeLessThan(400);
    }
    // Control: the statistic catches the top byte's bias.
    expect(chiSquareUniform(hist(new Array<bigint>(10).fill(0n), false, 32))).toBeGreaterThan(400);
  });
});

describe('loadCircuit: vector inputs', () => {
  const base = (input: Record<string, unknown>, terms?: unknown[]) => ({
    format: 'aaps-circuit/v1',
    id: 'v',
    version: 1,
    inputs: [
      { name: 'a', role: 'monitoring', range: { min: 0, max: 10 }, rangeProof: false, length: 3 },
      { name: 'b', role: 'audit', range: { min: 0, max: 10 }, ...input },
    ],
    outputs: [{ name: 'o', terms: terms ?? [{ input: 'a' }, { input: 'b' }] }],
  });
  const fields = (json: unknown) => {
    try {
      loadCircuit(json);
    } catch (e) {
      expect(e).toBeInstanceOf(ValidationError);
      return (e as ValidationError).fields;
    }
    return [];
  };

  it('sums vectors of one length and keeps scalar digests unchanged', () => {
    const c = loadCircuit(base({ rangeProof: false, length: 3 }));
    expect(c.outputs[0]!.length).toBe(3);
    expect(c.inputs.map((i) => i.length)).toEqual([3, 3]);
    expect((c.json as { inputs: { length?: number }[] }).inputs[0]!.length).toBe(3);
    const scalar = loadCircuit({
      ...base({}),
      inputs: [base({}).inputs[1]],
      outputs: [{ name: 'o', terms: [{ input: 'b' }] }],
    });
    expect('length' in (scalar.json as { inputs: object[] }).inputs[0]!).toBe(false);
  });

  it('refuses a range proof on a vector, mixed lengths, and lengths out of bounds', () => {
    expect(fields(base({ rangeProof: true, length: 3 }))).toContain('circuit.inputs[1].rangeProof');
    expect(fields(base({ length: 3 }))).toContain('circuit.inputs[1].rangeProof');
    expect(fields(base({ rangeProof: false, length: 4 }))).toContain('circuit.outputs[0].terms[1].input');
    expect(fields(base({}))).toContain('circuit.outputs[0].terms[1].input');
    expect(fields(base({ rangeProof: false, length: 1 }))).toContain('circuit.inputs[1].length');
    expect(fields(base({ rangeProof: false, length: 100_000 }))).toContain('circuit.inputs[1].length');
  });
});

function run(suite: AnyCiphersuite, length: number, t: number, seed: number) {
  const circuit = mixedCircuit(length);
  const parties = partiesFor(suite, 5);
  const session = createAggregationSession(suite, {
    circuit,
    sessionId: `vec-${seed}`,
    threshold: t,
    parties,
  });
  const rng = seededRng(seed);
  const values: Record<string, bigint | bigint[]> = {};
  const dealings: InputDealing[] = parties.flatMap((p, i) => {
    const vector = Array.from({ length }, (_, k) => BigInt(((k * 37 + i * 101 + seed) % 1051) - 50));
    const scalar = BigInt((i * 13 + seed) % 101);
    values[`v.${p.role}`] = vector;
    values[`s.${p.role}`] = scalar;
    return dealInputs(
      session,
      {
        dealer: p.id,
        values: [
          { input: `v.${p.role}`, value: vector },
          { input: `s.${p.role}`, value: scalar },
        ],
      },
      rng,
    );
  });
  return { circuit, parties, session, rng, values, dealings };
}

describe('aggregation over vector inputs', () => {
  it('opens the plaintext result from any t parties, and the record verifies offline', () => {
    for (const suite of suites) {
      fc.assert(
        fc.property(
          fc.integer({ min: 2, max: 6 }),
          fc.integer({ min: 2, max: 5 }),
          fc.integer({ min: 0, max: 1000 }),
          fc.shuffledSubarray([0, 1, 2, 3, 4], { minLength: 5, maxLength: 5 }),
          (length, t, seed, order) => {
            const { circuit, parties, session, rng, values, dealings } = run(suite, length, t, seed);
            const shares: ResultShare[] = order
              .slice(0, t)
              .flatMap((i) =>
                evaluateShares(
                  session,
                  parties[i]!.id,
                  verifyDealings(session, dealings, parties[i]!.id, rng),
                ),
              );
            const opened = openResult(session, dealings.map(publicDealing), shares, rng);
            const plain = evaluateCircuit(circuit, values);
            expect(opened.outputs.map((o) => o.value)).toEqual([plain.get('sums'), plain.get('total')]);
            const record = buildAggregationRecord(session, dealings, opened);
            const verified = verifyAggregation(encodeAggregationRecordCbor(record), { circuit });
            expect(verified.outputs[0]!.value).toEqual(plain.get('sums'));
            expect(verifyAggregation(encodeAggregationRecordJson(record)).digest).toEqual(verified.digest);
          },
        ),
        { numRuns: 4 },
      );
    }
  });

  it('names the dealer of a share vector off its commitments, batched or alone', () => {
    const suite = suites[0]!;
    const { session, parties, rng, dealings } = run(suite, 5, 3, 11);
    const receiver = parties[1]!.id;
    const victim = dealings.findIndex((d) => d.input === 'v.strategy');
    const d = dealings[victim]!;
    const bytes = Uint8Array.from(d.shares[receiver]!.share.expose());
    bytes[32 * 3]! ^= 1; // element 3
    const tampered: InputDealing = {
      ...d,
      shares: {
        ...d.shares,
        [receiver]: { share: new SecretBytes(bytes), blinding: d.shares[receiver]!.blinding },
      },
    };
    const all = dealings.map((x, i) => (i === victim ? tampered : x));
    const err = (() => {
      try {
        verifyDealings(session, all, receiver, rng);
      } catch (e) {
        return e;
      }
    })();
    expect(err).toBeInstanceOf(ProtocolError);
    expect((err as ProtocolError).culprits).toEqual([parties[2]!.id]);
    expect(() => verifyDealing(session, tampered, receiver)).toThrow(ProtocolError);
    expect(verifyDealing(session, d, receiver).dealer).toBe(parties[2]!.id);
    // A share vector of the wrong size is the dealer's fault too.
    const short: InputDealing = {
      ...d,
      shares: {
        ...d.shares,
        [receiver]: { share: new SecretBytes(bytes.subarray(32)), blinding: d.shares[receiver]!.blinding },
      },
    };
    expect(() =>
      verifyDealings(
        session,
        dealings.map((x, i) => (i === victim ? short : x)),
        receiver,
        rng,
      ),
    ).toThrow(ProtocolError);
  });

  it('names a party whose result vector lies and opens from the others', () => {
    const suite = suites[0]!;
    const { circuit, session, parties, rng, values, dealings } = run(suite, 4, 3, 5);
    const shares = parties.flatMap((p) =>
      evaluateShares(session, p.id, verifyDealings(session, dealings, p.id, rng)),
    );
    const liar = parties[0]!.id;
    const bent = shares.map((s) => {
      if (s.party !== liar || s.output !== 'sums') return s;
      const share = Uint8Array.from(s.share);
      share[32 * 2 + 5]! ^= 4;
      return { ...s, share };
    });
    const opened = openResult(session, dealings, bent, rng);
    expect(opened.culprits).toEqual([liar]);
    expect(opened.openers).not.toContain(liar);
    expect(opened.outputs[0]!.value).toEqual(evaluateCircuit(circuit, values).get('sums'));
  });

  it('fails the record on a changed element, blinding, commitment or shape', () => {
    const suite = suites[0]!;
    const { session, parties, rng, dealings } = run(suite, 3, 2, 9);
    const shares = parties.flatMap((p) =>
      evaluateShares(session, p.id, verifyDealings(session, dealings, p.id, rng)),
    );
    const record = buildAggregationRecord(session, dealings, openResult(session, dealings, shares, rng));
    const json = aggregationRecordToJson(record);
    const check = (mutate: (j: typeof json) => void) => {
      const copy = structuredClone(json);
      mutate(copy);
      try {
        verifyAggregation(JSON.stringify(copy));
      } catch (e) {
        expect(e).toBeInstanceOf(VerificationError);
        return (e as VerificationError).check;
      }
      return 'verified';
    };
    expect(check(() => {})).toBe('aggregation.format'); // JSON.stringify is not canonical
    const canonical = (mutate: (j: typeof json) => void) => {
      const copy = structuredClone(json);
      mutate(copy);
      try {
        verifyAggregation(encodeAggregationRecordJson(aggregationRecordFromJson(copy)));
      } catch (e) {
        expect(e).toBeInstanceOf(VerificationError);
        return (e as VerificationError).check;
      }
      return 'verified';
    };
    expect(canonical(() => {})).toBe('verified');
    expect(
      canonical((j) => {
        (j.outputs[0]!.value as string[])[1] = String(BigInt((j.outputs[0]!.value as string[])[1]!) + 1n);
      }),
    ).toBe('aggregation.opening');
    expect(
      canonical((j) => {
        j.outputs[0]!.value = (j.outputs[0]!.value as string[]).slice(1);
      }),
    ).toBe('aggregation.circuit');
    expect(
      canonical((j) => {
        j.outputs[1]!.value = [j.outputs[1]!.value as string, '0'];
      }),
    ).toBe('aggregation.circuit');
    expect(
      canonical((j) => {
        j.inputs[0]!.commitmentHex = j.inputs[2]!.commitmentHex;
      }),
    ).toBe('aggregation.opening');
    // And any changed byte of the CBOR form.
    const cbor = encodeAggregationRecordCbor(record);
    fc.assert(
      fc.property(fc.nat({ max: cbor.length - 1 }), fc.integer({ min: 1, max: 255 }), (at, flip) => {
        const bad = Uint8Array.from(cbor);
        bad[at]! ^= flip;
        expect(() => verifyAggregation(bad)).toThrow(VerificationError);
      }),
      { numRuns: 60 },
    );
    expect(decodeAggregationRecordCbor(cbor).outputs[0]!.value).toEqual(record.outputs[0]!.value);
  });
});

describe('hardening (review)', () => {
  it('refuses a vector C_0 off the prime-order group at the receiver, naming the dealer', () => {
    const suite = suites[0]!;
    const { session, parties, rng, dealings } = run(suite, 4, 3, 21);
    const Pc = pointClass(suite.id);
    const victim = dealings.findIndex((d) => d.input === 'v.audit');
    const d = dealings[victim]!;
    // (0, -1) has order 2: the cofactor-cleared share check cannot see it, the strict decode can.
    const torsion = Pc.fromAffine({ x: 0n, y: (Pc.Fp.ORDER - 1n) as bigint });
    const bent: InputDealing = {
      ...d,
      commitments: [Pc.fromBytes(d.commitments[0]!).add(torsion).toBytes(), ...d.commitments.slice(1)],
      hints: null,
    };
    const err = (() => {
      try {
        verifyDealings(
          session,
          dealings.map((x, i) => (i === victim ? bent : x)),
          parties[0]!.id,
          rng,
        );
      } catch (e) {
        return e;
      }
    })();
    expect(err).toBeInstanceOf(ProtocolError);
    expect((err as ProtocolError).code).toBe('INVALID_DEALING');
    expect((err as ProtocolError).culprits).toEqual([parties[4]!.id]);
  });

  it('names a party whose vector result share is not bytes, and opens from the others', () => {
    const suite = suites[0]!;
    const { circuit, session, parties, rng, values, dealings } = run(suite, 3, 2, 4);
    const shares = parties.flatMap((p) =>
      evaluateShares(session, p.id, verifyDealings(session, dealings, p.id, rng)),
    );
    const broken = shares.map((s) =>
      s.party === parties[1]!.id && s.output === 'sums' ? { ...s, share: null as unknown as Uint8Array } : s,
    );
    const opened = openResult(session, dealings, broken, rng);
    expect(opened.culprits).toEqual([parties[1]!.id]);
    expect(opened.outputs[0]!.value).toEqual(evaluateCircuit(circuit, values).get('sums'));
  });

  it('refuses a verified input whose share has the wrong length', () => {
    const suite = suites[0]!;
    const { session, parties, rng, dealings } = run(suite, 3, 2, 6);
    const verified = verifyDealings(session, dealings, parties[0]!.id, rng);
    const short = verified.map((v) =>
      Array.isArray(v.share) ? { ...v, share: (v.share as bigint[]).slice(1) } : v,
    );
    expect(() => evaluateShares(session, parties[0]!.id, short)).toThrow(ValidationError);
  });

  it('validates generator lengths and hands out frozen generator lists', () => {
    const suite = suites[0]!;
    expect(() => vectorGenerators(suite, -1)).toThrow(ValidationError);
    expect(() => vectorGenerators(suite, 1.5)).toThrow(ValidationError);
    expect(() => vectorGenerators(suite, MAX_VECTOR_LENGTH + 1)).toThrow(ValidationError);
    const G = vectorGenerators(suite, 5);
    expect(Object.isFrozen(G)).toBe(true);
    expect(() => msm(pointClass(suite.id), G, [1n])).toThrow(RangeError);
  });

  it('never draws a zero weight, and refuses an rng that returns too few bytes', () => {
    expect(randomWeights(() => new Uint8Array(32), 2)).toEqual([1n << 127n, 1n << 127n]);
    expect(() => randomWeights(() => new Uint8Array(16), 2)).toThrow(ValidationError);
  });

  it('gives a circuit index that cannot be changed', () => {
    const c = mixedCircuit(2);
    expect(c.inputIndex.get('v.audit')).toBe(8);
    expect((c.inputIndex as unknown as { set?: unknown }).set).toBeUndefined();
    expect([...c.inputIndex.keys()]).toHaveLength(10);
  });
});
