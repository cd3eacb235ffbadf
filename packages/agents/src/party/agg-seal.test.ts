import { randomBytes } from 'node:crypto';
import {
  generateIdentityKey,
  open,
  seal,
  utf8,
  VerificationError,
  x25519FromIdentityPublicKey,
  x25519FromIdentitySecretKey,
} from '@aaps/mpc-core';
import { describe, expect, it } from 'vitest';
import { openFast, sealFast, x25519OfIdentityHex } from './agg-seal.js';

const rng = (n: number) => new Uint8Array(randomBytes(n));

/** A deterministic rng: the same draws for both implementations. */
function fixedRng(seed: number) {
  let i = seed;
  return (n: number) => Uint8Array.from({ length: n }, () => (i = (i * 1103515245 + 12345) & 0xff));
}

describe('agg-seal: mpc-core sealing on node:crypto X25519', () => {
  const id = generateIdentityKey();
  const pub = x25519FromIdentityPublicKey(id.publicKey);
  const sk = x25519FromIdentitySecretKey(id.secretKey);
  const aad = utf8('aad');
  const msg = utf8('{"values":{"risk.audit":"42"}}');

  it('seals byte for byte like mpc-core for the same draws', () => {
    expect(sealFast(pub, msg, aad, fixedRng(7))).toEqual(seal(pub, msg, aad, fixedRng(7)));
  });

  it('opens what mpc-core seals, and mpc-core opens what it seals', () => {
    expect(openFast(sk, seal(pub, msg, aad, rng), aad)).toEqual(msg);
    expect(open(sk, sealFast(pub, msg, aad, rng), aad)).toEqual(msg);
  });

  it('refuses a changed byte or another context with seal.open', () => {
    const box = sealFast(pub, msg, aad, rng);
    const bad = { ...box, ciphertext: Uint8Array.from(box.ciphertext) };
    bad.ciphertext[3]! ^= 1;
    for (const [b, a] of [
      [bad, aad],
      [box, utf8('other')],
    ] as const) {
      let err: unknown;
      try {
        openFast(sk, b, a);
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(VerificationError);
      expect((err as VerificationError).check).toBe('seal.open');
    }
  });

  it('derives the X25519 key of an identity key like mpc-core', () => {
    const hex = Buffer.from(id.publicKey).toString('hex');
    expect(x25519OfIdentityHex(hex)).toEqual(pub);
  });
});
