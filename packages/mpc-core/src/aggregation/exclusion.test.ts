/**
 * Exclusion of a dealer: its inputs take the circuit's public substitutes (`excluded.value`), the
 * opening folds them into the outputs' constants, and the record (v2) lists the excluded dealers
 * so `verifyAggregation` recomputes the combined commitments with `value*G`.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { ValidationError, VerificationError } from '../errors.js';
import { getCiphersuite, loadFastBackends } from '../suite/registry.js';
import type { AnyCiphersuite } from '../suite/types.js';
import { loadCircuit } from './circuit.js';
import {
  type AggregationSession,
  createAggregationSession,
  dealInput,
  type Exclusion,
  evaluateShares,
  openResult,
  verifyDealings,
} from './protocol.js';
import {
  type AggregationRecord,
  aggregationRecordFromJson,
  aggregationRecordToJson,
  buildAggregationRecord,
  decodeAggregationRecordCbor,
  decodeAggregationRecordJson,
  encodeAggregationRecordCbor,
  encodeAggregationRecordJson,
  verifyAggregation,
} from './record.js';
import { circuitJson, circuits, partiesFor, seededRng } from './test-helpers/fixtures.js';
import { RISK_VALUES, weightedRiskRecord } from './test-helpers/record-fixture.js';

let suite: AnyCiphersuite;
beforeAll(async () => {
  await loadFastBackends();
  suite = getCiphersuite('FROST-ED25519-SHA512-v1');
});

/** A 3-of-5 round of `circuit` with the providers at `out` (input indices' dealers) excluded. */
function roundExcluding(
  name: 'weighted-risk' | 'approval-tally' | 'cost-total',
  values: readonly bigint[],
  excludedDealers: (session: AggregationSession<unknown>) => Exclusion[],
) {
  const rng = seededRng(`excl-${name}`);
  const parties = partiesFor(suite);
  const session = createAggregationSession(suite, {
    circuit: circuits[name],
    sessionId: `excl.${name}`,
    threshold: 3,
    parties,
  });
  const excluded = excludedDealers(session);
  const out = new Set(excluded.map((x) => x.dealer));
  // An excluded dealer's dealing is never used (in a real round its shares did not reach enough
  // receivers); here it is simply not dealt.
  const dealings = session.circuit.inputs.flatMap((inp, i) =>
    out.has(session.providers[i]!)
      ? []
      : [dealInput(session, { input: inp.name, dealer: session.providers[i]!, value: values[i]! }, rng)],
  );
  const shares = parties.flatMap((p) =>
    evaluateShares(session, p.id, verifyDealings(session, dealings, p.id, rng), {
      excluded: [...out],
    }),
  );
  const opened = openResult(session, dealings, shares, rng, { excluded });
  return { session, opened, record: buildAggregationRecord(session, dealings, opened) };
}

const riskValues = RISK_VALUES.map(BigInt);

describe('circuit field "excluded"', () => {
  it('is read into substitute and kept in the normalized JSON (so in the digest)', () => {
    const c = circuits['weighted-risk'];
    expect(c.inputs.map((i) => i.substitute)).toEqual([100n, 100n, 100n, 100n, 100n]);
    expect(circuits['approval-tally'].inputs.map((i) => i.substitute)).toEqual([
      0n,
      1n,
      0n,
      1n,
      0n,
      1n,
      0n,
      1n,
      0n,
      1n,
    ]);
    expect(circuits['cost-total'].inputs.every((i) => i.substitute === undefined)).toBe(true);
    const without = structuredClone(circuitJson['weighted-risk']) as { inputs: Record<string, unknown>[] };
    for (const i of without.inputs) delete i.excluded;
    expect(loadCircuit(without).digestHex).not.toBe(c.digestHex);
  });

  it('is refused, naming the field, outside the range or in another shape', () => {
    const withExcluded = (v: unknown) => {
      const j = structuredClone(circuitJson['weighted-risk']) as { inputs: Record<string, unknown>[] };
      j.inputs[2]!.excluded = v;
      return j;
    };
    const fieldsOf = (v: unknown) => {
      try {
        loadCircuit(withExcluded(v));
      } catch (e) {
        expect(e).toBeInstanceOf(ValidationError);
        expect((e as ValidationError).code).toBe('CIRCUIT_INVALID');
        return (e as ValidationError).fields;
      }
      return expect.unreachable('loaded');
    };
    expect(fieldsOf({ value: 101 })).toEqual(['circuit.inputs[2].excluded.value']);
    expect(fieldsOf({ value: -1 })).toEqual(['circuit.inputs[2].excluded.value']);
    expect(fieldsOf({ value: 'max' })).toEqual(['circuit.inputs[2].excluded.value']);
    expect(fieldsOf(100)).toEqual(['circuit.inputs[2].excluded']);
    expect(fieldsOf({})).toEqual(['circuit.inputs[2].excluded']);
    expect(fieldsOf({ value: 1, extra: 1 })).toEqual(['circuit.inputs[2].excluded.extra']);
  });
});

describe('a round with an excluded dealer', () => {
  it('opens the circuit on the others with the substitute, and the record (v2) verifies', () => {
    const { opened, record } = roundExcluding('weighted-risk', riskValues, (s) => [
      { dealer: s.providers[1]!, reason: 'refused' },
    ]);
    // 3*80 + 2*100 (problem-solver's 40 replaced by 100) + 2*10 + 2*100 + 1*0
    expect(opened.outputs[0]!.value).toBe(3n * 80n + 2n * 100n + 2n * 10n + 2n * 100n);
    expect(record.v).toBe(2);
    expect(record.inputs.map((i) => i.name)).toEqual([
      'risk.monitoring',
      'risk.strategy',
      'risk.quality-assurance',
      'risk.audit',
    ]);
    expect(record.excluded).toEqual([
      {
        provider: record.parties[1]!.id,
        reason: 'refused',
        inputs: [{ name: 'risk.problem-solver', value: 100n }],
      },
    ]);
    expect(verifyAggregation(record).outputs[0]!.value).toBe(opened.outputs[0]!.value);
    // Both encodings carry it, strictly.
    const text = encodeAggregationRecordJson(record);
    expect(decodeAggregationRecordJson(text)).toEqual(record);
    expect(verifyAggregation(text).digest).toEqual(verifyAggregation(record).digest);
    const bytes = encodeAggregationRecordCbor(record);
    expect(decodeAggregationRecordCbor(bytes)).toEqual(record);
    expect(verifyAggregation(bytes).outputs[0]!.value).toBe(opened.outputs[0]!.value);
  });

  it('approval-tally: an excluded party counts as no vote and a veto', () => {
    const votes = [1n, 0n, 1n, 0n, 1n, 0n, 1n, 0n, 1n, 0n];
    const { opened, record } = roundExcluding('approval-tally', votes, (s) => [
      { dealer: s.providers[0]!, reason: 'unanswered' },
      { dealer: s.providers[8]!, reason: 'refuted' },
    ]);
    expect(Object.fromEntries(opened.outputs.map((o) => [o.name, o.value]))).toEqual({
      approvals: 3n,
      vetoes: 2n,
    });
    expect(record.excluded?.map((x) => [x.reason, x.inputs.map((i) => `${i.name}=${i.value}`)])).toEqual([
      ['unanswered', ['vote.monitoring=0', 'veto.monitoring=1']],
      ['refuted', ['vote.audit=0', 'veto.audit=1']],
    ]);
    expect(verifyAggregation(record).outputs.map((o) => o.value)).toEqual([3n, 2n]);
  });

  it('a circuit without the field cannot exclude: the opening refuses, naming the input', () => {
    expect(() =>
      roundExcluding('cost-total', [1n, 2n, 3n, 4n, 5n], (s) => [
        { dealer: s.providers[0]!, reason: 'refused' },
      ]),
    ).toThrow(/has no "excluded" value/);
  });

  it('a changed byte in the excluded list or a substituted value fails verifyAggregation', () => {
    const { record } = roundExcluding('weighted-risk', riskValues, (s) => [
      { dealer: s.providers[1]!, reason: 'refused' },
    ]);
    const edit = (f: (j: ReturnType<typeof aggregationRecordToJson>) => void): AggregationRecord => {
      const j = aggregationRecordToJson(record);
      f(j);
      return aggregationRecordFromJson(j);
    };
    const checkOf = (input: AggregationRecord | string) => {
      try {
        verifyAggregation(input);
      } catch (e) {
        expect(e).toBeInstanceOf(VerificationError);
        return (e as VerificationError).check;
      }
      return 'verified';
    };
    // The substitute is the circuit's, not the record's to choose.
    expect(
      checkOf(
        edit((j) => {
          j.excluded![0]!.inputs[0]!.value = '0';
        }),
      ),
    ).toBe('aggregation.excluded');
    // Another provider (one whose input is dealt) does not fit.
    expect(
      checkOf(
        edit((j) => {
          j.excluded![0]!.provider = j.parties[2]!.id;
        }),
      ),
    ).not.toBe('verified');
    // Every byte of the JSON text: any change fails (format, excluded, opening, ...).
    const text = encodeAggregationRecordJson(record);
    const at = text.indexOf('"excluded"');
    const end = text.indexOf(']}]', at) + 3;
    for (let k = at; k < end; k++) {
      const c = text[k]!;
      const swapped = c === '0' ? '1' : c === 'a' ? 'b' : c === '"' ? "'" : '0';
      expect(checkOf(text.slice(0, k) + swapped + text.slice(k + 1)), `byte ${k}`).not.toBe('verified');
    }
    // Dropping the list keeps the commitments of 4 inputs against a 5-input circuit.
    expect(
      checkOf(
        edit((j) => {
          j.v = 1;
          delete j.excluded;
        }),
      ),
    ).toBe('aggregation.circuit');
  });

  it('records without exclusions stay v1, and an unknown version is refused by name', async () => {
    const v1 = await weightedRiskRecord();
    expect(v1.v).toBe(1);
    expect('excluded' in aggregationRecordToJson(v1)).toBe(false);
    expect(verifyAggregation(v1).outputs).toHaveLength(1);
    const j = aggregationRecordToJson(v1) as Record<string, unknown>;
    j.v = 3;
    expect(() => aggregationRecordFromJson(j)).toThrow(/unsupported record version 3/);
    try {
      verifyAggregation(JSON.stringify(j));
      expect.unreachable();
    } catch (e) {
      expect((e as VerificationError).check).toBe('aggregation.format');
    }
  });
});
