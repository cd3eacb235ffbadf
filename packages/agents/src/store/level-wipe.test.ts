/**
 * PartyStore leaves no nonce or key share in the clear behind it: the plaintext record it seals
 * for the disk (in a round one's save, with the fresh nonces of a round two's consumeAndSave, and
 * a key package) is zeroed once sealed, and the one it opens once decoded. `encryptAtRest` and
 * `decryptAtRest` are the real ones, watched.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type * as mpc from '@aaps/mpc-core';
import {
  commit,
  commitmentKey,
  commitToStore,
  getCiphersuite,
  keySetIdOf,
  nonceRecordFromNonces,
  SecretBytes,
  trustedDealer,
} from '@aaps/mpc-core';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { PartyStore } from './level.js';

const sealed = vi.hoisted(() => [] as Uint8Array[]);
const opened = vi.hoisted(() => [] as Uint8Array[]);

vi.mock('@aaps/mpc-core', async (importOriginal) => {
  const real = await importOriginal<typeof mpc>();
  return {
    ...real,
    encryptAtRest: (key: mpc.SecretBytes, plaintext: Uint8Array, ad: Uint8Array) => {
      sealed.push(plaintext);
      return real.encryptAtRest(key, plaintext, ad);
    },
    decryptAtRest: (key: mpc.SecretBytes, box: Uint8Array, ad: Uint8Array) => {
      const plain = real.decryptAtRest(key, box, ad);
      opened.push(plain);
      return plain;
    },
  };
});

const suite = getCiphersuite('FROST-ED25519-SHA512-v1');
const keyPackage = trustedDealer(suite, { min: 2, max: 3 }).keyPackages[0]!;
let dir: string;
let store: PartyStore;

beforeEach(async () => {
  dir = mkdtempSync(join(tmpdir(), 'aaps-party-wipe-'));
  store = await PartyStore.open(dir, new SecretBytes(new Uint8Array(randomBytes(32))), 'party-1');
  sealed.length = 0;
  opened.length = 0;
});

afterEach(async () => {
  await store.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('PartyStore nonce plaintext', () => {
  it('zeroes the plaintext of every nonce record it seals (save, and consumeAndSave’s fresh ones)', async () => {
    const [c] = await commitToStore(suite, keyPackage, store, 2);
    const fresh = nonceRecordFromNonces(suite, keySetIdOf(keyPackage), commit(suite, keyPackage));
    await store.consumeAndSave(commitmentKey(c!), [fresh]);
    expect(sealed).toHaveLength(3);
    for (const plain of sealed) expect(plain.every((b) => b === 0)).toBe(true);
  });
});

describe('PartyStore key package plaintext', () => {
  it('zeroes the plaintext key package it seals and the one it opens, and the key it loads still signs alike', async () => {
    const deal = trustedDealer(suite, { min: 2, max: 3 });
    const kp = deal.keyPackages[0]!;
    await store.saveKey({
      keyPackage: kp,
      publicPackage: deal.publicPackage,
      rosterDigest: 'ab'.repeat(32),
      createdAt: '2026-11-29T00:00:00.000Z',
    });
    expect(sealed).toHaveLength(1);
    expect(sealed[0]!.every((b) => b === 0)).toBe(true);
    const loaded = await store.loadKey();
    expect(opened).toHaveLength(1);
    expect(opened[0]!.every((b) => b === 0)).toBe(true);
    expect(
      Buffer.from(loaded!.keyPackage.signingShare.expose()).equals(Buffer.from(kp.signingShare.expose())),
    ).toBe(true);
  });
});
