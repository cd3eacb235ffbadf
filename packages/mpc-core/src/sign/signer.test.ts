/** The store-backed signer: nonces persist before commitments leave, and are gone before a share exists. */
import { createPublicKey, verify as nodeVerify } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  aggregate,
  ciphersuites,
  commit,
  type KeyPackage,
  ProtocolError,
  type SigningPackage,
  trustedDealer,
  utf8,
  ValidationError,
  verifyShare,
} from '../index.js';
import {
  commitmentKey,
  encodeNonceRecord,
  InMemoryNonceStore,
  keySetIdOf,
  type NonceRecord,
  type NonceStore,
} from '../nonce-store.js';
import { seededRng } from '../test-helpers/rng.js';
import { commitToStore, MAX_REPLENISH, signAndReplenishFromStore, signFromStore } from './signer.js';

const suite = ciphersuites.ed25519;
const rng = seededRng(3);
const deal = trustedDealer(suite, { min: 2, max: 3 }, { rng });
const [kp1, kp2, kp3] = deal.keyPackages as [KeyPackage, KeyPackage, KeyPackage];
const pub = deal.publicPackage;

function nodeEd25519(pk: Uint8Array, msg: Uint8Array, sig: Uint8Array): boolean {
  const key = createPublicKey({
    key: Buffer.concat([Buffer.from('302a300506032b6570032100', 'hex'), pk]),
    format: 'der',
    type: 'spki',
  });
  return nodeVerify(null, msg, key, sig);
}

async function rejection(p: Promise<unknown>): Promise<unknown> {
  return p.then(
    () => expect.unreachable('expected a rejection'),
    (e: unknown) => e,
  );
}

async function twoSigners(message = utf8('deploy v2')) {
  const s1 = new InMemoryNonceStore();
  const s2 = new InMemoryNonceStore();
  const [c1] = await commitToStore(suite, kp1, s1, 1, rng);
  const [c2] = await commitToStore(suite, kp2, s2, 1, rng);
  const pkg: SigningPackage = { commitments: [c1!, c2!], message };
  return { s1, s2, c1: c1!, c2: c2!, pkg };
}

describe('commitToStore', () => {
  it('returns the commitments of exactly the records it saved', async () => {
    const store = new InMemoryNonceStore();
    const cs = await commitToStore(suite, kp1, store, 4, rng);
    expect(cs).toHaveLength(4);
    expect(await store.count(keySetIdOf(kp1))).toBe(4);
    for (const c of cs) expect(c.identifier).toBe(kp1.identifier);
    expect(new Set(cs.map(commitmentKey)).size).toBe(4);
  });

  it('returns nothing until the store has saved', async () => {
    const inner = new InMemoryNonceStore();
    let release: () => void = () => {};
    const gate = new Promise<void>((r) => {
      release = r;
    });
    let saved = false;
    const slow: NonceStore = {
      save: async (records) => {
        await gate;
        await inner.save(records);
        saved = true;
      },
      consume: (key) => inner.consume(key),
      count: (id) => inner.count(id),
    };
    let answered = false;
    const p = commitToStore(suite, kp1, slow, 2, rng).then((cs) => {
      answered = true;
      expect(saved).toBe(true);
      return cs;
    });
    for (let i = 0; i < 10; i++) await Promise.resolve();
    expect(answered).toBe(false);
    release();
    expect(await p).toHaveLength(2);
    expect(answered).toBe(true);
  });

  it('returns no commitment when the store refuses', async () => {
    const failing: NonceStore = {
      save: async () => {
        throw new ProtocolError('NONCE_REUSE', 'refused');
      },
      consume: async () => {
        throw new ProtocolError('UNKNOWN_NONCE', 'empty');
      },
      count: async () => 0,
    };
    expect(await rejection(commitToStore(suite, kp1, failing, 1, rng))).toMatchObject({
      code: 'NONCE_REUSE',
    });
  });

  it('checks its arguments', async () => {
    const store = new InMemoryNonceStore();
    expect(await rejection(commitToStore(suite, kp1, store, 0, rng))).toBeInstanceOf(ValidationError);
    expect(await rejection(commitToStore(ciphersuites.secp256k1, kp1, store, 1, rng))).toMatchObject({
      code: 'CIPHERSUITE_MISMATCH',
    });
    expect(await store.count()).toBe(0);
  });
});

describe('signFromStore', () => {
  it('signs with stored nonces; the shares verify and aggregate to a valid Ed25519 signature', async () => {
    const { s1, s2, pkg } = await twoSigners();
    const z1 = await signFromStore(suite, kp1, s1, pkg, pub);
    const z2 = await signFromStore(suite, kp2, s2, pkg, pub);
    verifyShare(suite, pkg, z1, pub);
    verifyShare(suite, pkg, z2, pub);
    const sig = aggregate(suite, pkg, [z1, z2], pub);
    expect(nodeEd25519(pub.groupPublicKey, pkg.message, sig)).toBe(true);
    expect(await s1.count()).toBe(0);
  });

  it('refuses the same commitment twice, even in another package', async () => {
    const { s1, c1, c2, pkg } = await twoSigners();
    await signFromStore(suite, kp1, s1, pkg, pub);
    expect(await rejection(signFromStore(suite, kp1, s1, pkg, pub))).toMatchObject({ code: 'NONCE_REUSE' });
    const other = { commitments: [c1, c2], message: utf8('something else') };
    const e = await rejection(signFromStore(suite, kp1, s1, other, pub));
    expect(e).toBeInstanceOf(ProtocolError);
    expect(e).toMatchObject({ code: 'NONCE_REUSE' });
  });

  it('refuses the same commitment across two store instances sharing the tombstones', async () => {
    const backing = { records: new Map<string, Uint8Array>(), tombstones: new Set<string>() };
    const before = new InMemoryNonceStore(backing);
    const [c1] = await commitToStore(suite, kp1, before, 1, rng);
    const copied = new Map(backing.records);
    const [c2] = await commitToStore(suite, kp2, new InMemoryNonceStore(), 1, rng);
    const pkg = { commitments: [c1!, c2!], message: utf8('m') };
    await signFromStore(suite, kp1, before, pkg, pub);
    // The process restarts over the same database...
    const after = new InMemoryNonceStore(backing);
    expect(await rejection(signFromStore(suite, kp1, after, pkg, pub))).toMatchObject({
      code: 'NONCE_REUSE',
    });
    // ...or a backup taken before signing is restored next to the tombstones.
    const restored = new InMemoryNonceStore({ records: copied, tombstones: backing.tombstones });
    expect(await rejection(signFromStore(suite, kp1, restored, pkg, pub))).toMatchObject({
      code: 'NONCE_REUSE',
    });
  });

  it('refuses a commitment the store never issued, and consumes nothing', async () => {
    const { s1, c2 } = await twoSigners();
    const forged = commit(suite, kp1, rng).commitment;
    const pkg = { commitments: [forged, c2], message: utf8('m') };
    const e = await rejection(signFromStore(suite, kp1, s1, pkg, pub));
    expect(e).toBeInstanceOf(ProtocolError);
    expect(e).toMatchObject({ code: 'UNKNOWN_NONCE' });
    expect(await s1.count()).toBe(1);
  });

  it('refuses a package without its own commitment before touching the store', async () => {
    const { s1, c2 } = await twoSigners();
    const [c3] = await commitToStore(suite, kp3, new InMemoryNonceStore(), 1, rng);
    const pkg = { commitments: [c2, c3!], message: utf8('m') };
    expect(await rejection(signFromStore(suite, kp1, s1, pkg, pub))).toMatchObject({
      code: 'MISSING_OWN_COMMITMENT',
    });
    expect(await s1.count()).toBe(1);
  });

  it('refuses a malformed package before touching the store', async () => {
    const { s1, c1 } = await twoSigners();
    const pkg = { commitments: [c1, c1], message: utf8('m') };
    expect(await rejection(signFromStore(suite, kp1, s1, pkg, pub))).toMatchObject({
      code: 'DUPLICATE_IDENTIFIER',
    });
    expect(await s1.count()).toBe(1);
  });

  it('deletes the nonce before signing: a package that fails in signing still burns it', async () => {
    const { s1, c1, c2 } = await twoSigners();
    const badPoint = new Uint8Array(32); // y = 0: a small-order point, not a valid commitment
    const pkg = { commitments: [c1, { ...c2, hiding: badPoint }], message: utf8('m') };
    expect(await rejection(signFromStore(suite, kp1, s1, pkg, pub))).toMatchObject({ code: 'INVALID_POINT' });
    expect(await s1.count()).toBe(0);
    const fixed = { commitments: [c1, c2], message: utf8('m') };
    expect(await rejection(signFromStore(suite, kp1, s1, fixed, pub))).toMatchObject({ code: 'NONCE_REUSE' });
  });

  it('refuses a package whose message is not the one the party derived, without burning the nonce', async () => {
    const { s1, pkg } = await twoSigners(utf8('what the coordinator says'));
    const mine = utf8('what the proposal says');
    const e = await rejection(signFromStore(suite, kp1, s1, pkg, pub, { message: mine }));
    expect(e).toMatchObject({ code: 'INCONSISTENT_TRANSCRIPT' });
    expect(await s1.count()).toBe(1);
    const share = await signFromStore(suite, kp1, s1, { ...pkg, message: mine }, pub, { message: mine });
    verifyShare(suite, { ...pkg, message: mine }, share, pub);
  });

  it('calls beforeRelease only for a package it signs, and releases no share when it throws', async () => {
    const calls: string[] = [];
    const hook = () => {
      calls.push('called');
    };
    // A package failing in signing (another signer's bad point) never reaches the hook.
    const bad = await twoSigners();
    const badPkg = { ...bad.pkg, commitments: [bad.c1, { ...bad.c2, hiding: new Uint8Array(32) }] };
    expect(
      await rejection(signFromStore(suite, kp1, bad.s1, badPkg, pub, { beforeRelease: hook })),
    ).toMatchObject({ code: 'INVALID_POINT' });
    expect(calls).toEqual([]);
    // A throwing hook ends the round; the nonce is gone with it.
    const { s1, pkg } = await twoSigners();
    const refused = new ProtocolError('INCONSISTENT_TRANSCRIPT', 'not vouching for this');
    const e = await rejection(
      signFromStore(suite, kp1, s1, pkg, pub, {
        beforeRelease: () => {
          throw refused;
        },
      }),
    );
    expect(e).toBe(refused);
    expect(await s1.count()).toBe(0);
    expect(await rejection(signFromStore(suite, kp1, s1, pkg, pub))).toMatchObject({ code: 'NONCE_REUSE' });
    // A passing hook runs once, and the share verifies.
    const ok = await twoSigners();
    const share = await signFromStore(suite, kp1, ok.s1, ok.pkg, pub, { beforeRelease: hook });
    expect(calls).toEqual(['called']);
    verifyShare(suite, ok.pkg, share, pub);
    expect(
      await rejection(signFromStore(suite, kp1, ok.s2, ok.pkg, pub, { beforeRelease: 'x' as never })),
    ).toBeInstanceOf(ValidationError);
  });

  it('refuses nonces saved for another key set', async () => {
    const { s1, pkg } = await twoSigners();
    const refreshed = trustedDealer(suite, { min: 2, max: 3 }, { rng });
    const kp1b = { ...refreshed.keyPackages[0]!, groupPublicKey: kp1.groupPublicKey };
    expect(kp1b.identifier).toBe(kp1.identifier);
    expect(await rejection(signFromStore(suite, kp1b, s1, pkg, pub))).toMatchObject({
      code: 'UNKNOWN_NONCE',
    });
  });

  it('refuses a record stored for another commitment under this key', async () => {
    const { c1, c2 } = await twoSigners();
    const other = commit(suite, kp1, rng);
    const wrong: NonceRecord = {
      suite: suite.id,
      keySetId: keySetIdOf(kp1),
      commitment: other.commitment,
      hiding: other.hiding,
      binding: other.binding,
    };
    // A corrupted database: c1's key points at another commitment's record.
    const tampered = new InMemoryNonceStore({
      records: new Map([[commitmentKey(c1), encodeNonceRecord(wrong)]]),
    });
    const pkg = { commitments: [c1, c2], message: utf8('m') };
    expect(await rejection(signFromStore(suite, kp1, tampered, pkg, pub))).toMatchObject({
      code: 'UNKNOWN_NONCE',
    });
    expect(await tampered.count()).toBe(0);
  });
});

describe('signAndReplenishFromStore', () => {
  /** The store's own methods only (no consumeAndSave): a signer consumes, then saves. */
  const plainStore = (inner: InMemoryNonceStore, saveFails = false): NonceStore => ({
    save: (records) => (saveFails ? Promise.reject(new Error('disk full')) : inner.save(records)),
    consume: (key) => inner.consume(key),
    count: (id) => inner.count(id),
  });

  for (const atomic of [true, false]) {
    it(`signs, burns the spent nonce and issues fresh commitments that sign later (${atomic ? 'consumeAndSave' : 'consume, then save'})`, async () => {
      const { s1, s2, pkg } = await twoSigners();
      const store1 = atomic ? s1 : plainStore(s1);
      const { share, commitments } = await signAndReplenishFromStore(suite, kp1, store1, pkg, pub, 2, rng);
      verifyShare(suite, pkg, share, pub);
      expect(commitments).toHaveLength(2);
      expect(commitments.every((c) => c.identifier === kp1.identifier)).toBe(true);
      expect(await s1.count(keySetIdOf(kp1))).toBe(2);
      expect(await rejection(signFromStore(suite, kp1, s1, pkg, pub))).toMatchObject({ code: 'NONCE_REUSE' });
      // The fresh commitment signs a later package like any from round one.
      const [c2] = await commitToStore(suite, kp2, s2, 1, rng);
      const later: SigningPackage = { commitments: [commitments[0]!, c2!], message: utf8('later') };
      const z1 = await signFromStore(suite, kp1, s1, later, pub);
      const z2 = await signFromStore(suite, kp2, s2, later, pub);
      expect(nodeEd25519(pub.groupPublicKey, later.message, aggregate(suite, later, [z1, z2], pub))).toBe(
        true,
      );
    });
  }

  it('issues nothing for a count of 0, as signFromStore', async () => {
    const { s1, pkg } = await twoSigners();
    const out = await signAndReplenishFromStore(suite, kp1, s1, pkg, pub, 0, rng);
    verifyShare(suite, pkg, out.share, pub);
    expect(out.commitments).toEqual([]);
    expect(await s1.count()).toBe(0);
  });

  it('leaves the spent nonce unconsumed when the atomic step fails', async () => {
    const { s1, pkg } = await twoSigners();
    const failing: NonceStore = {
      save: (r) => s1.save(r),
      consume: (k) => s1.consume(k),
      count: (id) => s1.count(id),
      consumeAndSave: () => Promise.reject(new ProtocolError('NONCE_REUSE', 'already issued')),
    };
    expect(await rejection(signAndReplenishFromStore(suite, kp1, failing, pkg, pub, 1, rng))).toMatchObject({
      code: 'NONCE_REUSE',
    });
    expect(await s1.count()).toBe(1);
    verifyShare(suite, pkg, await signFromStore(suite, kp1, s1, pkg, pub), pub);
  });

  it('without consumeAndSave, a failed save still gives the share, with no commitment issued', async () => {
    const { s1, pkg } = await twoSigners();
    const out = await signAndReplenishFromStore(suite, kp1, plainStore(s1, true), pkg, pub, 3, rng);
    verifyShare(suite, pkg, out.share, pub);
    expect(out.commitments).toEqual([]);
    expect(await s1.count()).toBe(0);
  });

  it('refuses a package before touching the store, and keeps what a refused release issued unissued', async () => {
    const { s1, c1, c2 } = await twoSigners(utf8('what the coordinator says'));
    const pkg = { commitments: [c1, c2], message: utf8('what the coordinator says') };
    const mine = utf8('what the proposal says');
    expect(
      await rejection(signAndReplenishFromStore(suite, kp1, s1, pkg, pub, 1, rng, { message: mine })),
    ).toMatchObject({ code: 'INCONSISTENT_TRANSCRIPT' });
    expect(await s1.count()).toBe(1);
    const refused = new ProtocolError('INCONSISTENT_TRANSCRIPT', 'not vouching for this');
    const e = await rejection(
      signAndReplenishFromStore(suite, kp1, s1, pkg, pub, 1, rng, {
        beforeRelease: () => {
          throw refused;
        },
      }),
    );
    expect(e).toBe(refused);
    // The spent nonce is gone; the fresh one is stored but was never handed out (it expires).
    expect(await rejection(signFromStore(suite, kp1, s1, pkg, pub))).toMatchObject({ code: 'NONCE_REUSE' });
    expect(await s1.count()).toBe(1);
  });

  it('checks its count', async () => {
    const { s1, pkg } = await twoSigners();
    for (const bad of [-1, MAX_REPLENISH + 1, 1.5, Number.NaN, '1' as unknown as number]) {
      const e = await rejection(signAndReplenishFromStore(suite, kp1, s1, pkg, pub, bad, rng));
      expect(e).toBeInstanceOf(ValidationError);
      expect(e).toMatchObject({ fields: ['count'] });
    }
    expect(await s1.count()).toBe(1);
  });
});
