import { canonicalBytes, canonicalize } from '@aaps/mpc-core';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { DsseEnvelope } from './dsse.js';
import { parseBase64, sha256, toBase64, toHex } from './encoding.js';
import { canonicalEnvelopeJson, logLeaf, logLeafHash } from './log-leaf.js';
import { hashLeaf } from './merkle.js';

const bytes = fc.uint8Array({ maxLength: 96 });
const envelope = fc.record({
  payloadType: fc.string({ unit: 'binary' }),
  payload: bytes.map(toBase64),
  signatures: fc.array(fc.record({ keyid: fc.string({ unit: 'binary' }), sig: bytes.map(toBase64) }), {
    maxLength: 3,
  }),
});

/** The leaf as log-leaf.ts documents it, through the general RFC 8785 canonicalizer. */
function referenceLeaf(env: DsseEnvelope): Uint8Array {
  return canonicalBytes({
    apiVersion: '0.0.1',
    kind: 'dsse',
    spec: {
      envelopeHash: { algorithm: 'sha256', value: toHex(sha256(canonicalBytes(env))) },
      payloadHash: {
        algorithm: 'sha256',
        value: toHex(sha256(parseBase64(env.payload) ?? new Uint8Array())),
      },
      signatures: [{ signature: toBase64(parseBase64(env.signatures[0]?.sig) ?? new Uint8Array()) }],
    },
  });
}

describe('log leaf', () => {
  it('writes a well-formed envelope as RFC 8785 does', () => {
    fc.assert(
      fc.property(envelope, (env) => {
        expect(canonicalEnvelopeJson(env)).toBe(canonicalize(env));
      }),
    );
  });

  it('canonicalizes any other value in the envelope position too (extra or missing keys, non-strings)', () => {
    const loose = fc.dictionary(
      fc.constantFrom('payload', 'payloadType', 'signatures', 'extra', 'keyid', 'sig'),
      fc.oneof(
        fc.string(),
        fc.integer(),
        fc.array(fc.dictionary(fc.constantFrom('keyid', 'sig', 'x'), fc.string())),
      ),
    );
    fc.assert(
      fc.property(loose, (value) => {
        expect(canonicalEnvelopeJson(value as unknown as DsseEnvelope)).toBe(canonicalize(value));
      }),
    );
  });

  it('takes plain objects only: keys that come from a prototype are no envelope, and are refused', () => {
    const sig = Object.assign(Object.create({ keyid: 'k', sig: 's' }) as object, { other: 'x', more: 'y' });
    const env = Object.assign(Object.create({ payload: 'cA==' }) as object, {
      payloadType: 'application/vnd.in-toto+json',
      signatures: [{ keyid: 'k', sig: 's' }],
      extra: 'z',
    });
    // An object with another prototype than Object's is no JSON value (RFC 8785 has no such thing).
    expect(() => canonicalEnvelopeJson(env as unknown as DsseEnvelope)).toThrow(
      /\$: an object with a prototype is not JSON/,
    );
    const inherited = { payload: 'cA==', payloadType: 't', signatures: [sig] };
    expect(() => canonicalEnvelopeJson(inherited as unknown as DsseEnvelope)).toThrow(
      /\$\.signatures\[0\]: an object with a prototype is not JSON/,
    );
    const own = { payload: 'cA==', payloadType: 't', signatures: [{ keyid: 'k', sig: 's', other: 'x' }] };
    expect(canonicalEnvelopeJson(own as unknown as DsseEnvelope)).toBe(canonicalize(own));
  });

  it('is the documented Rekor-shaped entry, byte for byte', () => {
    fc.assert(
      fc.property(envelope, (env) => {
        expect(Buffer.from(logLeaf(env)).toString()).toBe(Buffer.from(referenceLeaf(env)).toString());
        const payload = parseBase64(env.payload)!;
        expect(logLeaf(env, payload)).toEqual(logLeaf(env));
        // The leaf hash is hashed from the text: it must be RFC 9162's hash of these very bytes.
        expect(logLeafHash(env, payload)).toEqual(hashLeaf(logLeaf(env)));
      }),
    );
  });
});

describe('parseBase64', () => {
  const strict = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;
  const text = fc.oneof(
    bytes.map(toBase64),
    fc.string({ unit: fc.constantFrom(...'AQgw+/=-_ \n\u00e9'.split('')) }),
    fc.string({ unit: 'binary' }),
  );

  it('takes exactly canonical padded standard base64', () => {
    fc.assert(
      fc.property(text, (s) => {
        const canonical = strict.test(s) && Buffer.from(s, 'base64').toString('base64') === s;
        const parsed = parseBase64(s);
        expect(parsed !== undefined).toBe(canonical);
        if (parsed !== undefined) expect(Buffer.from(parsed).toString('base64')).toBe(s);
      }),
      { numRuns: 2000 },
    );
  });
});
