import { x25519 } from '@noble/curves/ed25519.js';
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { loadFastBackends } from './index.js';
import { loadSodium } from './suite/sodium-module.js';
import { nodeX25519, sodiumX25519, type X25519Backend, x25519Backend } from './x25519.js';

let sodium: X25519Backend;
beforeAll(async () => {
  sodium = sodiumX25519(await loadSodium());
});

const P = 2n ** 255n - 19n;
const le = (n: bigint) => Uint8Array.from({ length: 32 }, (_, i) => Number((n >> BigInt(8 * i)) & 0xffn));
/** Every low-order u-coordinate of Curve25519 and its twist, canonical and not (RFC 7748 §6.1). */
const LOW_ORDER = [
  0n,
  1n,
  325606250916557431795983626356110631294008115727848805560023387167927233504n,
  39382357235489614581723060781553021112529911719440698176882885853963445705823n,
  P - 1n,
  P,
  P + 1n,
].flatMap((u) => {
  const bytes = le(u);
  const topBit = Uint8Array.from(bytes);
  topBit[31]! |= 0x80;
  return [bytes, topBit];
});

describe('X25519 backends', () => {
  it('node:crypto and libsodium agree with each other and with noble, byte for byte', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: 32, maxLength: 32 }),
        fc.uint8Array({ minLength: 32, maxLength: 32 }),
        (secret, peer) => {
          const fromNoble = {
            publicKey: x25519.getPublicKey(secret),
            shared: x25519.getSharedSecret(secret, peer),
          };
          expect(nodeX25519.agree(secret, peer)).toEqual(fromNoble);
          expect(sodium.agree(secret, peer)).toEqual(fromNoble);
        },
      ),
      { numRuns: 200 },
    );
  });

  it('both refuse every low-order peer key, with or without the top bit set', () => {
    const secret = new Uint8Array(32).fill(0x42);
    for (const backend of [nodeX25519, sodium]) {
      for (const low of LOW_ORDER)
        expect(() => backend.agree(secret, low), `${backend.name} ${low}`).toThrow(
          'X25519 public key: of low order',
        );
    }
  });

  it('both refuse a key that is not 32 bytes, naming which', () => {
    for (const backend of [nodeX25519, sodium]) {
      expect(() => backend.agree(new Uint8Array(31), new Uint8Array(32).fill(9))).toThrow(
        /secret key: 32 bytes/,
      );
      expect(() => backend.agree(new Uint8Array(32), new Uint8Array(33))).toThrow(/public key: 32 bytes/);
    }
  });

  it('takes secrets that are views into a larger buffer', () => {
    const big = new Uint8Array(96).fill(7);
    const secret = big.subarray(32, 64);
    const peer = x25519.getPublicKey(new Uint8Array(32).fill(3));
    expect(sodium.agree(secret, peer)).toEqual(nodeX25519.agree(Uint8Array.from(secret), peer));
  });

  it('loadFastBackends makes libsodium the one sealing uses, and says so', async () => {
    expect(await loadFastBackends()).toEqual({ ed25519: 'libsodium', x25519: 'libsodium' });
    expect(x25519Backend().name).toBe('libsodium');
  });
});
