import { describe, expect, it } from 'vitest';
import { decodeEnvelope, pae, signEnvelope } from './dsse.js';

describe('DSSE', () => {
  it('encodes PAE as the DSSE v1 protocol example does', () => {
    const out = pae('http://example.com/HelloWorld', new TextEncoder().encode('hello world'));
    expect(Buffer.from(out).toString()).toBe('DSSEv1 29 http://example.com/HelloWorld 11 hello world');
  });

  it('counts bytes, not characters, and takes any body bytes', () => {
    const body = Uint8Array.of(0, 0xff, 0x20);
    const out = pae('é', body);
    expect(Buffer.from(out).subarray(0, 13).toString()).toBe('DSSEv1 2 é 3');
    expect(Array.from(out.subarray(out.length - 3))).toEqual([0, 0xff, 0x20]);
    expect(Buffer.from(pae('t', new Uint8Array())).toString()).toBe('DSSEv1 1 t 0 ');
  });

  it('signs PAE and decodes the envelope back', async () => {
    let signed: Uint8Array | undefined;
    const env = await signEnvelope('application/x', Uint8Array.of(1, 2, 3), 'ab', async (m) => {
      signed = m;
      return Uint8Array.of(9, 9);
    });
    expect(signed).toEqual(pae('application/x', Uint8Array.of(1, 2, 3)));
    const { envelope, errors } = decodeEnvelope(env);
    expect(errors).toEqual([]);
    expect(envelope?.payload).toEqual(Uint8Array.of(1, 2, 3));
    expect(envelope?.signatures[0]?.sig).toEqual(Uint8Array.of(9, 9));
  });

  it('names every malformed field', () => {
    const { errors } = decodeEnvelope({
      payloadType: '',
      payload: 'AQ',
      signatures: [{ keyid: 1, sig: '' }],
    });
    expect(errors).toEqual([
      'dsseEnvelope.payloadType',
      'dsseEnvelope.payload',
      'dsseEnvelope.signatures[0].keyid',
      'dsseEnvelope.signatures[0].sig',
    ]);
  });
});
