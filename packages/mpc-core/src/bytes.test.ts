/** Base64 has one spelling per value: what the encoder writes decodes, anything else is refused. */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { base64Decode, base64Encode } from './bytes.js';
import { generateIdentityKey, signEnvelope, verifyEnvelope } from './envelope/sign.js';
import { SCHEMA_VERSION } from './envelope/types.js';

const codeOf = (f: () => unknown) => {
  try {
    f();
  } catch (e) {
    return (e as { code?: string }).code;
  }
  return undefined;
};

describe('base64Decode', () => {
  it('law: decodes exactly what base64Encode writes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 100 }), (b) => {
        expect(base64Decode(base64Encode(b))).toEqual(b);
      }),
    );
  });

  it('law: refuses a spelling with padding bits set', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: 1, maxLength: 100 }).filter((b) => b.length % 3 !== 0),
        fc.integer({ min: 1, max: 15 }),
        (b, bits) => {
          const text = base64Encode(b);
          const last = text.replace(/=+$/, '').length - 1;
          const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
          const unused = b.length % 3 === 1 ? 15 : 3; // low bits the last character carries past the data
          const value = alphabet.indexOf(text[last]!) | (bits & unused);
          if ((bits & unused) === 0) return;
          const changed = text.slice(0, last) + alphabet[value] + text.slice(last + 1);
          expect(codeOf(() => base64Decode(changed))).toBe('DECODE_FAILED');
        },
      ),
    );
  });

  it('a signature respelled with padding bits set does not verify', () => {
    const key = generateIdentityKey();
    const env = signEnvelope(
      {
        meta: {
          trace_id: 't',
          span_id: 's',
          timestamp: '2026-11-26T00:00:00Z',
          source_agent: 'monitoring',
          target_agent: 'gateway',
          message_type: 'IncidentSignal',
          schema_version: SCHEMA_VERSION,
          idempotency_key: 'k',
        },
        context: { namespace: 'n', cluster: 'c', urgency: 'P2', constraints_ref: 'r' },
        payload: {},
      },
      key.secretKey,
    );
    const sig = env.meta.signature;
    // 64 bytes: 86 characters then "==", the last one carrying 4 unused bits.
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
    const respelled = `${sig.slice(0, -3)}${alphabet[alphabet.indexOf(sig.at(-3)!) ^ 1]}==`;
    expect(Buffer.from(respelled.slice(8), 'base64')).toEqual(Buffer.from(sig.slice(8), 'base64'));
    expect(() => verifyEnvelope(env, key.publicKey)).not.toThrow();
    expect(
      codeOf(() => verifyEnvelope({ ...env, meta: { ...env.meta, signature: respelled } }, key.publicKey)),
    ).toBe('INVALID_SIGNATURE');
  });
});
