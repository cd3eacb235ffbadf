import { xchacha20poly1305 } from '@noble/ciphers/chacha.js';
import { x25519 } from '@noble/curves/ed25519.js';
import { hkdf } from '@noble/hashes/hkdf.js';
import { sha256 } from '@noble/hashes/sha2.js';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  decryptAtRest,
  encryptAtRest,
  generateIdentityKey,
  open,
  SecretBytes,
  seal,
  VerificationError,
  x25519FromIdentityPublicKey,
  x25519FromIdentitySecretKey,
} from './index.js';
import { loadSodium } from './suite/sodium-module.js';
import { nodeX25519, sodiumX25519, useX25519Backend, type X25519Backend, x25519Backend } from './x25519.js';

const aad = new TextEncoder().encode('dkg:session-1:from=1:to=2');

const backends: [string, () => Promise<X25519Backend>][] = [
  ['node:crypto', async () => nodeX25519],
  ['libsodium', async () => sodiumX25519(await loadSodium())],
];

describe.each(backends)('seal with X25519 on %s', (name, backend) => {
  const before = x25519Backend();
  beforeAll(async () => useX25519Backend(await backend()));
  afterAll(() => useX25519Backend(before));

  it('is noble X25519 + HKDF-SHA256 + XChaCha20-Poly1305 byte for byte', () => {
    expect(x25519Backend().name).toBe(name);
    const info = new TextEncoder().encode('AAPS-QUORUM-v1 seal x25519-hkdf-sha256-xchacha20poly1305');
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: 56, maxLength: 56 }),
        fc.uint8Array({ maxLength: 64 }),
        (draws, msg) => {
          const recipient = x25519FromIdentityPublicKey(generateIdentityKey().publicKey);
          let at = 0;
          const rng = (n: number) => {
            const out = draws.slice(at, at + n);
            at += n;
            return out;
          };
          const box = seal(recipient, msg, aad, rng);
          const eph = draws.slice(0, 32);
          expect(box.ephemeralPublicKey).toEqual(x25519.getPublicKey(eph));
          const shared = x25519.getSharedSecret(eph, recipient);
          const key = hkdf(
            sha256,
            shared,
            new Uint8Array([...box.ephemeralPublicKey, ...recipient]),
            info,
            32,
          );
          expect(box.nonce).toEqual(draws.slice(32, 56));
          expect(box.ciphertext).toEqual(xchacha20poly1305(key, box.nonce, aad).encrypt(msg));
        },
      ),
      { numRuns: 25 },
    );
  });

  it('refuses a low-order recipient key (INVALID_POINT)', () => {
    for (const low of [new Uint8Array(32), Uint8Array.from([1, ...new Array<number>(31).fill(0)])]) {
      expect(() => seal(low, new Uint8Array(1), aad)).toThrow(
        expect.objectContaining({ code: 'INVALID_POINT' }),
      );
    }
  });

  it('round-trips to the identity key holder and no one else', () => {
    const alice = generateIdentityKey();
    const bob = generateIdentityKey();
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), (msg) => {
        const box = seal(x25519FromIdentityPublicKey(alice.publicKey), msg, aad);
        expect(
          Buffer.from(open(x25519FromIdentitySecretKey(alice.secretKey), box, aad)).equals(Buffer.from(msg)),
        ).toBe(true);
        expect(() => open(x25519FromIdentitySecretKey(bob.secretKey), box, aad)).toThrow(VerificationError);
      }),
      { numRuns: 20 },
    );
  });

  it('any flipped byte or other associated data fails with check seal.open', () => {
    const alice = generateIdentityKey();
    const box = seal(x25519FromIdentityPublicKey(alice.publicKey), new Uint8Array(64).fill(7), aad);
    const sk = x25519FromIdentitySecretKey(alice.secretKey);
    fc.assert(
      fc.property(
        fc.constantFrom('ephemeralPublicKey', 'nonce', 'ciphertext'),
        fc.nat(),
        fc.integer({ min: 0, max: 7 }),
        (f, i, bit) => {
          const field = Uint8Array.from(box[f as keyof typeof box]);
          field[i % field.length]! ^= 1 << bit;
          try {
            open(sk, { ...box, [f]: field }, aad);
            expect.unreachable();
          } catch (e) {
            expect((e as VerificationError).check).toBe('seal.open');
          }
        },
      ),
      { numRuns: 30 },
    );
    expect(() => open(sk, box, new TextEncoder().encode('other'))).toThrow(VerificationError);
  });

  it('at-rest encryption binds its associated data', () => {
    const key = new SecretBytes(new Uint8Array(32).fill(9));
    const ct = encryptAtRest(key, Uint8Array.of(1, 2, 3), aad);
    expect([...decryptAtRest(key, ct, aad)]).toEqual([1, 2, 3]);
    expect(() => decryptAtRest(key, ct, Uint8Array.of(0))).toThrow(VerificationError);
  });
});
