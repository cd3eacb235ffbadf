import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ValidationError } from '../errors.js';
import { sealValue } from './seal-field.js';
import { ReleasedShareCodec, SealedFieldCodec } from './sealed-field-codec.js';
import { makeParties } from './test-helpers/parties.js';
import { parseUnsealRequest } from './unseal-request.js';

const parties = makeParties(3);

/** Throws only `ValidationError`, whatever the input. */
function onlyValidationErrors(f: () => unknown): void {
  try {
    f();
  } catch (e) {
    expect(e).toBeInstanceOf(ValidationError);
  }
}

describe('codec laws', () => {
  it('hostile input is a ValidationError, never a crash', () => {
    fc.assert(
      fc.property(fc.anything(), (junk) => {
        onlyValidationErrors(() => SealedFieldCodec.fromJSON(junk));
        onlyValidationErrors(() => ReleasedShareCodec.fromJSON(junk));
        onlyValidationErrors(() => parseUnsealRequest(junk));
        onlyValidationErrors(() => SealedFieldCodec.fromJSON({ v: 1, type: 'SealedField', body: junk }));
      }),
      { numRuns: 500 },
    );
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), (bytes) => {
        onlyValidationErrors(() => SealedFieldCodec.decode(bytes));
        onlyValidationErrors(() => ReleasedShareCodec.decode(bytes));
      }),
      { numRuns: 300 },
    );
  });

  it('refuses objects whose toString is not callable in any body field (found by the law below)', async () => {
    const field = await sealValue({ k: 'v' }, '/a/b', { incidentId: 'inc-1', parties, threshold: 2 });
    const json = SealedFieldCodec.toJSON(field);
    const hostile = JSON.parse('{"toString": false, "valueOf": false}');
    for (const key of Object.keys(json.body)) {
      expect(() => SealedFieldCodec.fromJSON({ ...json, body: { ...json.body, [key]: hostile } })).toThrow(
        ValidationError,
      );
    }
    expect(() => SealedFieldCodec.fromJSON({ ...json, v: hostile })).toThrow(ValidationError);
  });

  it('a field survives JSON and CBOR; any single edited body field is either refused or decodes to what was written', async () => {
    const field = await sealValue({ k: 'v' }, '/a/b', { incidentId: 'inc-1', parties, threshold: 2 });
    const json = SealedFieldCodec.toJSON(field);
    expect(SealedFieldCodec.fromJSON(json)).toEqual(field);
    expect(SealedFieldCodec.decode(SealedFieldCodec.encode(field))).toEqual(field);
    fc.assert(
      fc.property(fc.constantFrom(...Object.keys(json.body)), fc.jsonValue(), (key, value) => {
        const edited = { ...json, body: { ...json.body, [key]: value } };
        try {
          const back = SealedFieldCodec.toJSON(SealedFieldCodec.fromJSON(edited));
          expect(back.body[key as keyof typeof back.body]).toEqual(value);
        } catch (e) {
          expect(e).toBeInstanceOf(ValidationError);
          expect(
            (e as ValidationError).fields.some((f) => f.startsWith(`body.${key}`) || f === 'body.shares'),
          ).toBe(true);
        }
      }),
      { numRuns: 300 },
    );
  });
});
