import { createPublicKey, verify as nodeVerify } from 'node:crypto';
import { inspect } from 'node:util';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  base64Decode,
  base64Encode,
  canonicalize,
  type Envelope,
  envelopeSigningBytes,
  generateIdentityKey,
  SCHEMA_VERSION,
  signEnvelope,
  VerificationError,
  validateEnvelope,
  verifyEnvelope,
} from '../index.js';
import { seededRng } from '../test-helpers/rng.js';
import { UNPRINTABLE } from '../test-helpers/unprintable.js';

function sample(): Envelope {
  return {
    meta: {
      trace_id: 'axm-20261125-7f3a',
      span_id: 'span-1',
      timestamp: '2026-11-25T15:00:00+08:00',
      source_agent: 'monitoring-agent',
      target_agent: 'super-agent',
      message_type: 'IncidentSignal',
      schema_version: SCHEMA_VERSION,
      idempotency_key: 'req-1',
    },
    context: {
      namespace: 'payments',
      cluster: 'prod-1',
      urgency: 'P1',
      constraints_ref: 'policy://risk-management/v1',
    },
    payload: {
      incident_type: 'config_validation_failed',
      severity: 'high',
      affected_resources: ['configmap://payments/app'],
    },
  };
}

describe('envelope signatures', () => {
  it('signs over RFC 8785 canonical JSON and verifies with node:crypto independently', () => {
    const key = generateIdentityKey(seededRng(1));
    const signed = signEnvelope(sample(), key.secretKey);
    expect(signed.meta.signature).toMatch(/^ed25519:[A-Za-z0-9+/]+=*$/);
    verifyEnvelope(signed, key.publicKey);
    const spki = createPublicKey({
      key: Buffer.concat([Buffer.from('302a300506032b6570032100', 'hex'), key.publicKey]),
      format: 'der',
      type: 'spki',
    });
    const sig = base64Decode(signed.meta.signature.slice('ed25519:'.length));
    const { signature: _s, ...meta } = signed.meta;
    const bytes = Buffer.from(canonicalize({ ...signed, meta }));
    expect(nodeVerify(null, bytes, spki, sig)).toBe(true);
  });

  it('the signed bytes do not depend on key order', () => {
    const e = sample();
    const reordered = { payload: e.payload, context: e.context, meta: { ...e.meta } } as Envelope;
    expect(Buffer.from(envelopeSigningBytes(e)).equals(Buffer.from(envelopeSigningBytes(reordered)))).toBe(
      true,
    );
  });

  it('any change to a signed envelope, or another key, fails with check envelope.signature', () => {
    const key = generateIdentityKey(seededRng(2));
    const other = generateIdentityKey(seededRng(3));
    const signed = signEnvelope(sample(), key.secretKey);
    const check = (f: () => void) => {
      try {
        f();
        return 'accepted';
      } catch (e) {
        expect(e).toBeInstanceOf(VerificationError);
        return (e as VerificationError).check;
      }
    };
    expect(check(() => verifyEnvelope(signed, other.publicKey))).toBe('envelope.signature');
    fc.assert(
      fc.property(
        fc.constantFrom('meta.span_id', 'context.urgency', 'payload.severity', 'meta.target_agent'),
        fc.string(),
        (path, v) => {
          const copy = structuredClone(signed) as unknown as Record<string, Record<string, unknown>>;
          const [a, b] = path.split('.') as [string, string];
          fc.pre(copy[a]![b] !== v);
          copy[a]![b] = v;
          expect(check(() => verifyEnvelope(copy as unknown as Envelope, key.publicKey))).toBe(
            'envelope.signature',
          );
        },
      ),
      { numRuns: 40 },
    );
  });

  it('identity secret keys never print', () => {
    const key = generateIdentityKey();
    expect(JSON.stringify(key)).not.toMatch(/[0-9a-f]{64}/);
    expect(inspect(key)).toContain('redacted');
  });

  it('validateEnvelope names every bad field', () => {
    const e = sample() as unknown as Record<string, Record<string, unknown>>;
    e.meta!.message_type = 'Nope';
    e.context!.urgency = 'P9';
    e.meta!.extra = 1;
    try {
      validateEnvelope(e);
      expect.unreachable();
    } catch (err) {
      expect([...(err as { fields: string[] }).fields].sort()).toEqual([
        'context.urgency',
        'meta.extra',
        'meta.message_type',
      ]);
    }
    expect(validateEnvelope(sample()).meta.message_type).toBe('IncidentSignal');
  });
});

describe('signEnvelope: values that are not JSON', () => {
  it('refuses a Date (it would be signed as {} and cover nothing), naming its path', () => {
    const key = generateIdentityKey();
    const env = {
      meta: { source_agent: 'x' },
      payload: { deadline: new Date('2026-01-01T00:00:00Z') },
    };
    expect(() => signEnvelope(env as never, key.secretKey)).toThrow(/payload\.deadline: a Date is not JSON/);
  });
});

describe('verifyEnvelope: a forged envelope is a VerificationError', () => {
  // The first case is the review's: valid JSON {"toString":0,"valueOf":0} as meta.source_agent,
  // which the failure message interpolated (a TypeError). A Symbol cannot be canonicalized at all:
  // no signature covers it, so it fails verification too, not as a bad argument.
  it.each(UNPRINTABLE)(
    'a meta.source_agent that cannot print (%s) gives VerificationError, not TypeError',
    (_name, make) => {
      const key = generateIdentityKey();
      const forged = {
        meta: { source_agent: make(), signature: `ed25519:${base64Encode(new Uint8Array(64))}` },
        payload: {},
      };
      let error: unknown;
      try {
        verifyEnvelope(forged as never, key.publicKey);
      } catch (e) {
        error = e;
      }
      expect(error).toBeInstanceOf(VerificationError);
      expect((error as VerificationError).check).toBe('envelope.signature');
    },
  );
});
