import { canonicalize, envelopeSigningBytes, isAapsError } from '@aaps/mpc-core';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { sha256Hex } from './encoding.js';
import { canonicalTranscript } from './transcript.js';

/** Envelopes a signature can cover: fast-check makes a member named `__proto__` now and then, which
 * canonicalize refuses (no store keeps it), so those are filtered out by canonicalize itself. */
const envelope = fc
  .record({
    meta: fc.dictionary(fc.string(), fc.jsonValue(), { maxKeys: 5 }),
    payload: fc.jsonValue(),
    context: fc.dictionary(fc.string(), fc.string(), { maxKeys: 3 }),
  })
  .filter(signable);

function signable(value: unknown): boolean {
  try {
    canonicalize(value);
    return true;
  } catch {
    return false;
  }
}

function outcome(f: () => unknown): unknown {
  try {
    return f();
  } catch (e) {
    return isAapsError(e) ? { code: e.code, message: e.message } : e;
  }
}

describe('canonicalTranscript', () => {
  it("is the transcript's canonical JSON digest and each envelope's signed bytes, from one pass", () => {
    fc.assert(
      fc.property(fc.array(envelope, { maxLength: 4 }), fc.boolean(), (transcript, sorted) => {
        const t = sorted ? JSON.parse(canonicalize(transcript)) : transcript;
        const c = canonicalTranscript(t);
        expect(c.digestHex).toBe(sha256Hex(canonicalize(t)));
        t.forEach((e: never, i: number) => {
          expect(c.signed[i]).toBe(Buffer.from(envelopeSigningBytes(e)).toString('utf8'));
        });
      }),
    );
  });

  it('accepts and refuses exactly what canonicalize(transcript) does: depth limit, holes', () => {
    // A value nested so that it fits in an envelope on its own but not inside the transcript.
    let deep: unknown = 1;
    for (let i = 0; i < 63; i++) deep = [deep];
    const fits = { meta: {}, payload: deep };
    expect(() => canonicalize(fits)).not.toThrow();
    const transcript = [fits];
    expect(outcome(() => canonicalTranscript(transcript))).toEqual(outcome(() => canonicalize(transcript)));
    expect(outcome(() => canonicalize(transcript))).toMatchObject({ code: 'INVALID_ARGUMENT' });
    const holey: unknown[] = [{ meta: {} }];
    holey[2] = { meta: {} };
    expect(outcome(() => canonicalTranscript(holey))).toEqual(outcome(() => canonicalize(holey)));
    expect(outcome(() => canonicalize(holey))).toMatchObject({ code: 'INVALID_ARGUMENT' });
  });
});
