/**
 * Dealing pads: a dealing made with prepared pads opens the plaintext result from any t parties
 * and its record verifies; the stepped multiplication equals the plain one however it is paused
 * or interleaved; a pad is used once, fits one shape, and never prints. (That t-1 receivers of a
 * padded dealing still see uniform shares is in `vector.test.ts`, beside the same law without pads.)
 */
import { inspect } from 'node:util';
import fc from 'fast-check';
import { beforeAll, describe, expect, it, vi } from 'vitest';
import { ValidationError } from '../errors.js';
import { getCiphersuite, loadFastBackends } from '../suite/registry.js';
import type { AnyCiphersuite } from '../suite/types.js';
import { evaluateCircuit, loadCircuit } from './circuit.js';
import { msm, pointClass } from './curve.js';
import {
  createAggregationSession,
  dealInputs,
  evaluateShares,
  openResult,
  publicDealing,
  verifyDealings,
} from './protocol.js';
import { buildAggregationRecord, encodeAggregationRecordCbor, verifyAggregation } from './record.js';
import { partiesFor, ROLES, seededRng } from './test-helpers/fixtures.js';
import { dealVector, msmGeneratorsSteps, vectorGenerators } from './vector.js';
import { prepareVectorPad, VectorDealingPad, vectorPadSteps } from './vector-pad.js';

let suites: AnyCiphersuite[];
beforeAll(async () => {
  await loadFastBackends();
  suites = [getCiphersuite('FROST-ED25519-SHA512-v1'), getCiphersuite('FROST-secp256k1-SHA256-v1')];
});

/** One vector input per role (elements 0..1000), summed element-wise. */
function sumCircuit(length: number) {
  return loadCircuit({
    format: 'aaps-circuit/v1',
    id: 'pad-sum',
    version: 1,
    inputs: ROLES.map((role) => ({
      name: `v.${role}`,
      role,
      range: { min: 0, max: 1000 },
      rangeProof: false,
      length,
    })),
    outputs: [{ name: 'sum', terms: ROLES.map((role) => ({ input: `v.${role}` })) }],
  });
}

/** Drive a stepped computation, counting its pauses. */
function drive<T>(steps: Generator<void, T, void>): { value: T; pauses: number } {
  let pauses = 0;
  for (;;) {
    const next = steps.next();
    if (next.done) return { value: next.value, pauses };
    pauses++;
  }
}

describe('dealings with prepared pads', () => {
  it('open the plaintext result from any t parties; the record verifies offline', () => {
    for (const suite of suites) {
      fc.assert(
        fc.property(
          fc.integer({ min: 2, max: 70 }),
          fc.integer({ min: 2, max: 4 }),
          fc.integer({ min: 0, max: 1000 }),
          fc.shuffledSubarray([0, 1, 2, 3, 4], { minLength: 5, maxLength: 5 }),
          fc.array(fc.boolean(), { minLength: 5, maxLength: 5 }),
          (length, t, seed, order, padded) => {
            const circuit = sumCircuit(length);
            const parties = partiesFor(suite, 5);
            const session = createAggregationSession(suite, {
              circuit,
              sessionId: `pad-${seed}`,
              threshold: t,
              parties,
            });
            const rng = seededRng(seed);
            const values: Record<string, bigint[]> = {};
            // Some dealers use a pad, some deal as before: both lie on their commitments.
            const dealings = parties.flatMap((p, i) => {
              const vector = Array.from({ length }, (_, k) => BigInt((k * 37 + i * 101 + seed) % 1001));
              values[`v.${p.role}`] = vector;
              const pad = padded[i] ? prepareVectorPad(suite, { length, threshold: t }, rng) : undefined;
              const out = dealInputs(
                session,
                { dealer: p.id, values: [{ input: `v.${p.role}`, value: vector }] },
                rng,
                {
                  padFor: (l) => (l === length ? pad : undefined),
                },
              );
              if (pad) expect(pad.used).toBe(true);
              return out;
            });
            const shares = order
              .slice(0, t)
              .flatMap((i) =>
                evaluateShares(
                  session,
                  parties[i]!.id,
                  verifyDealings(session, dealings, parties[i]!.id, rng),
                ),
              );
            const opened = openResult(session, dealings.map(publicDealing), shares, rng);
            expect(opened.outputs[0]!.value).toEqual(evaluateCircuit(circuit, values).get('sum'));
            const record = buildAggregationRecord(session, dealings, opened);
            expect(
              verifyAggregation(encodeAggregationRecordCbor(record), { circuit }).outputs[0]!.value,
            ).toEqual(opened.outputs[0]!.value);
          },
        ),
        { numRuns: 4 },
      );
    }
  });

  it('refuse a pad used twice, of another length, threshold or suite, or not a pad', () => {
    const suite = suites[0]!;
    const circuit = sumCircuit(3);
    const parties = partiesFor(suite, 5);
    const session = createAggregationSession(suite, { circuit, sessionId: 'pad-bad', threshold: 3, parties });
    const rng = seededRng('pad-bad');
    const deal = (pad: unknown) =>
      dealInputs(
        session,
        { dealer: parties[0]!.id, values: [{ input: 'v.monitoring', value: [1, 2, 3] }] },
        rng,
        {
          padFor: () => pad as VectorDealingPad,
        },
      );
    const fails = (pad: unknown, why: RegExp) => {
      expect(() => deal(pad)).toThrow(ValidationError);
      expect(() => deal(pad)).toThrow(why);
    };
    const pad = prepareVectorPad(suite, { length: 3, threshold: 3 }, rng);
    deal(pad);
    fails(pad, /pad: already used/);
    fails(prepareVectorPad(suite, { length: 4, threshold: 3 }, rng), /length 4, not 3/);
    fails(prepareVectorPad(suite, { length: 3, threshold: 2 }, rng), /threshold 2, not 3/);
    fails(prepareVectorPad(suites[1]!, { length: 3, threshold: 3 }, rng), /prepared for FROST-secp256k1/);
    fails({ length: 3, threshold: 3, take: () => ({}) }, /expected a VectorDealingPad/);
    expect(() => prepareVectorPad(suite, { length: 1, threshold: 3 }, rng)).toThrow(/length/);
    expect(() => prepareVectorPad(suite, { length: 3, threshold: 1 }, rng)).toThrow(/threshold/);
  });

  it('never print their secrets', () => {
    const suite = suites[0]!;
    const pad = prepareVectorPad(suite, { length: 2, threshold: 3 }, seededRng('print'));
    const secret = pad.take();
    const texts = [JSON.stringify({ pad }), String(pad), inspect(pad, { depth: 5, showHidden: true })];
    for (const text of texts) {
      for (const a of secret.coefficients.flat()) expect(text).not.toContain(a.toString());
      for (const b of secret.blindings) expect(text).not.toContain(b.toString());
    }
    expect(texts[2]).toContain('<redacted>');
  });
});

describe('stepped multiplication over the generators', () => {
  it('equals the plain one however often it pauses, and two interleaved ones both hold', () => {
    for (const suite of suites) {
      const Pc = pointClass(suite.id);
      const q = suite.field.ORDER;
      fc.assert(
        fc.property(
          fc.array(fc.oneof(fc.constant(0n), fc.bigInt({ min: 0n, max: q - 1n })), {
            minLength: 1,
            maxLength: 90,
          }),
          fc.array(fc.bigInt({ min: 0n, max: q - 1n }), { minLength: 64, maxLength: 90 }),
          fc.integer({ min: 1, max: 400 }),
          (a, b, ops) => {
            const G = vectorGenerators(suite, 90);
            const one = msmGeneratorsSteps(suite, a, ops);
            const two = msmGeneratorsSteps(suite, b, ops);
            // Alternate the two until both end.
            let ra: ReturnType<typeof one.next> | undefined;
            let rb: ReturnType<typeof two.next> | undefined;
            while (!ra?.done || !rb?.done) {
              if (!ra?.done) ra = one.next();
              if (!rb?.done) rb = two.next();
            }
            expect(ra.value!.subtract(msm(Pc, G.slice(0, a.length), a)).is0()).toBe(true);
            expect(rb.value!.subtract(msm(Pc, G.slice(0, b.length), b)).is0()).toBe(true);
          },
        ),
        { numRuns: 6 },
      );
    }
  });

  it('in a fresh process, pauses while deriving generators and building rows; a synchronous call between its steps is safe', async () => {
    // A fresh copy of the module: no generators or table rows yet.
    vi.resetModules();
    const fresh = await import('./vector.js');
    const { msm: plain, pointClass: Pc } = await import('./curve.js');
    const suite = suites[0]!;
    const q = suite.field.ORDER;
    const rng = seededRng('fresh');
    const scalars = (n: number) => Array.from({ length: n }, () => suite.field.random(rng) % q);
    const a = scalars(90);
    const b = scalars(80);
    const steps = fresh.msmGeneratorsSteps(suite, a, 512);
    let pauses = 0;
    for (let i = 0; i < 3; i++, pauses++) expect(steps.next().done).toBe(false);
    // Between its steps: two synchronous calls (the second builds table rows up to 80).
    fresh.msmGenerators(suite, b);
    const sync = fresh.msmGenerators(suite, b);
    const rest = drive(steps);
    pauses += rest.pauses;
    const G = fresh.vectorGenerators(suite, 90);
    expect(rest.value.subtract(plain(Pc(suite.id), G, a)).is0()).toBe(true);
    expect(sync.subtract(plain(Pc(suite.id), G.slice(0, 80), b)).is0()).toBe(true);
    // Left to it after the synchronous calls: 10 generators (~400 operations each), 10 rows (253
    // doublings each) and 90 x 23 bucket additions, at 512 operations a step.
    expect(pauses).toBeGreaterThan(10);
  });

  it('pauses while it prepares a pad, and the pad deals correctly', () => {
    const suite = suites[0]!;
    const { value: pad, pauses } = drive(
      vectorPadSteps(suite, { length: 100, threshold: 3 }, seededRng('steps'), 64),
    );
    expect(pauses).toBeGreaterThan(10);
    expect(pad).toBeInstanceOf(VectorDealingPad);
    const xs = [1n, 2n, 3n, 4n, 5n];
    const d = dealVector(
      suite,
      Array.from({ length: 100 }, (_, k) => BigInt(k)),
      xs,
      3,
      seededRng('d'),
      pad,
    );
    expect(d.points).toHaveLength(3);
  });
});
