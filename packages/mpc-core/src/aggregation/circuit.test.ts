import { describe, expect, it } from 'vitest';
import { ValidationError } from '../errors.js';
import { ciphersuites } from '../suite/registry.js';
import { CIRCUIT_FORMAT, DEFAULT_FIELD_ORDER, evaluateCircuit, loadCircuit } from './circuit.js';
import { circuitJson, circuits } from './test-helpers/fixtures.js';

function invalid(json: unknown, opts?: { fieldOrder?: bigint }): readonly string[] {
  try {
    loadCircuit(json, opts);
  } catch (e) {
    expect(e).toBeInstanceOf(ValidationError);
    expect((e as ValidationError).code).toBe('CIRCUIT_INVALID');
    return (e as ValidationError).fields;
  }
  return expect.unreachable('the circuit loaded');
}

const base = () => ({
  format: CIRCUIT_FORMAT,
  id: 'tiny',
  version: 1,
  inputs: [
    { name: 'a', role: 'r1', range: { min: 0, max: 10 } },
    { name: 'b', role: 'r2', range: { min: -5, max: 5 } },
  ],
  outputs: [
    {
      name: 'out',
      terms: [
        { input: 'a', weight: 2 },
        { input: 'b', weight: -3 },
      ],
      constant: 7,
    },
  ],
});

describe('shipped circuits', () => {
  it('load, with their worst-case bounds', () => {
    expect(circuits['approval-tally'].inputs).toHaveLength(10);
    expect(circuits['approval-tally'].outputs.map((o) => [o.name, o.min, o.max])).toEqual([
      ['approvals', 0n, 5n],
      ['vetoes', 0n, 5n],
    ]);
    const wr = circuits['weighted-risk'];
    expect(wr.outputs[0]!.max).toBe(1000n);
    expect(wr.inputs.every((i) => i.rangeProof && i.min === 0n && i.max === 100n)).toBe(true);
    const cost = circuits['cost-total'];
    expect(cost.outputs[0]!.scale).toBe(100);
    expect(cost.outputs[0]!.max).toBe(5_000_000_000n);
  });

  it('evaluate on plaintext', () => {
    const values = Object.fromEntries(circuits['weighted-risk'].inputs.map((i) => [i.name, 10n]));
    expect(evaluateCircuit(circuits['weighted-risk'], values).get('weighted_risk')).toBe(100n);
  });

  it('have a stable digest over their normalized form', () => {
    const again = loadCircuit(circuits['weighted-risk'].json);
    expect(again.digestHex).toBe(circuits['weighted-risk'].digestHex);
    expect(loadCircuit(circuitJson['weighted-risk']).digestHex).toBe(again.digestHex);
  });
});

describe('loadCircuit', () => {
  it('accepts a small circuit and computes its bounds', () => {
    const c = loadCircuit(base());
    expect(c.outputs[0]!.min).toBe(7n + 0n - 15n);
    expect(c.outputs[0]!.max).toBe(7n + 20n + 15n);
    expect(evaluateCircuit(c, { a: 3n, b: -2n }).get('out')).toBe(7n + 6n + 6n);
  });

  it('reads big integers from decimal strings', () => {
    const j = base();
    (j.inputs[0]!.range as Record<string, unknown>).max = '1000000000000000000';
    const c = loadCircuit(j);
    expect(c.inputs[0]!.max).toBe(10n ** 18n);
  });

  it('gathers every bad field as a dot path', () => {
    const fields = invalid({
      format: 'nope',
      id: 'Bad Id',
      version: 0,
      extra: true,
      inputs: [
        { name: 'a', role: 'r1', range: { min: 5, max: 5 } },
        { name: 'a', role: 'r1', range: { min: 0, max: 1 }, scale: 0 },
        { name: 'c', role: 'r1', range: { min: 0, max: 1.5 } },
      ],
      outputs: [{ name: 'o', terms: [{ input: 'zzz' }, { input: 'a', weight: 0 }] }],
    });
    expect(fields).toEqual(
      expect.arrayContaining([
        'circuit.extra',
        'circuit.format',
        'circuit.id',
        'circuit.version',
        'circuit.inputs[0].range.max',
        'circuit.inputs[1].name',
        'circuit.inputs[1].scale',
        'circuit.inputs[2].range.max',
        'circuit.outputs[0].terms[0].input',
        'circuit.outputs[0].terms[1].weight',
      ]),
    );
  });

  it('refuses a circuit whose worst case could wrap around the field', () => {
    const j = base();
    j.outputs[0]!.terms[0]!.weight = '340282366920938463463374607431768211456' as unknown as number; // 2^128
    (j.inputs[0]!.range as Record<string, unknown>).max = '18446744073709551615'; // 2^64 - 1
    (j.inputs[0]!.range as Record<string, unknown>).min = '0';
    // 2^128 * (2^64 - 1) fits far below q/2 ~ 2^251; many such terms do not.
    expect(() => loadCircuit(j)).not.toThrow();
    const terms = Array.from({ length: 200 }, (_, i) => ({
      name: `x${i}`,
      role: 'r',
      range: { min: 0, max: '18446744073709551615' },
    }));
    const wide = {
      format: CIRCUIT_FORMAT,
      id: 'wide',
      version: 1,
      inputs: terms,
      outputs: [
        {
          name: 'sum',
          terms: terms.map((t) => ({ input: t.name, weight: '340282366920938463463374607431768211455' })),
        },
      ],
    };
    // 200 * 2^128 * 2^64 ~ 2^199.6: fine for q ~ 2^252 ...
    expect(() => loadCircuit(wide)).not.toThrow();
    // ... but not for a field of 2^190, and never past (q-1)/2 on the negative side either.
    expect(invalid(wide, { fieldOrder: 1n << 190n })).toEqual(['circuit.outputs[0]']);
    const neg = base();
    neg.outputs[0]!.constant = -40; // bounds [-55, -5]: only the negative side passes -(101-1)/2
    expect(invalid(neg, { fieldOrder: 101n })).toEqual(['circuit.outputs[0]']);
    neg.outputs[0]!.constant = -30; // bounds [-45, 5]: fits
    expect(loadCircuit(neg, { fieldOrder: 101n }).id).toBe('tiny');
    expect(DEFAULT_FIELD_ORDER).toBe(ciphersuites.ed25519.field.ORDER);
  });

  it('refuses outputs mixing fixed-point scales', () => {
    const j = base();
    (j.inputs[1] as Record<string, unknown>).scale = 100;
    expect(invalid(j)).toEqual(['circuit.outputs[0].terms[1].input']);
  });

  it('refuses input ranges of 2^64 or wider and integers beyond 2^128', () => {
    const j = base();
    (j.inputs[0]!.range as Record<string, unknown>).max = '18446744073709551616';
    expect(invalid(j)).toEqual(['circuit.inputs[0].range']);
    const k = base();
    k.outputs[0]!.constant = '340282366920938463463374607431768211457' as unknown as number;
    expect(invalid(k)).toEqual(['circuit.outputs[0].constant']);
  });

  it('refuses non-objects', () => {
    expect(invalid(null)).toEqual(['circuit']);
    expect(invalid([])).toEqual(['circuit']);
  });
});
