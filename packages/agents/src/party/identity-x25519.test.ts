import { generateIdentityKey, x25519FromIdentityPublicKey } from '@aaps/mpc-core';
import { describe, expect, it } from 'vitest';
import { x25519OfIdentityHex } from './identity-x25519.js';

describe('x25519OfIdentityHex', () => {
  it('gives mpc-core X25519 key of an identity key, the same again from the cache', () => {
    const id = generateIdentityKey();
    const hex = Buffer.from(id.publicKey).toString('hex');
    expect(x25519OfIdentityHex(hex)).toEqual(x25519FromIdentityPublicKey(id.publicKey));
    expect(x25519OfIdentityHex(hex)).toEqual(x25519FromIdentityPublicKey(id.publicKey));
  });

  it('refuses a key that is no Ed25519 point', () => {
    expect(() => x25519OfIdentityHex('ff'.repeat(32))).toThrow(
      expect.objectContaining({ code: 'INVALID_POINT' }),
    );
  });
});
