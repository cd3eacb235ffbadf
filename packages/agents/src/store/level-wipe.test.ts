/**
 * PartyStore leaves no nonce in the clear behind it: the plaintext record it seals for the disk
 * (in a round one's save, and with the fresh nonces of a round two's consumeAndSave) is zeroed
 * once sealed, as the one it opens to consume is. `encryptAtRest` is the real one, watched.
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

vi.mock('@aaps/mpc-core', async (importOriginal) => {
  const real = await importOriginal<typeof mpc>();
  return {
    ...real,
    encryptAtRest: (key: mpc.SecretBytes, plaintext: Uint8Array, ad: Uint8Array) => {
      sealed.push(plaintext);
      return real.encryptAtRest(key, plaintext, ad);
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
