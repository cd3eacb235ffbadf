/** NonceStore: keys, record encoding, and the in-memory store's save/consume/tombstone contract. */
import { inspect } from 'node:util';
import { describe, expect, it } from 'vitest';
import {
  bytesToHex,
  ciphersuites,
  commit,
  ProtocolError,
  signShare,
  trustedDealer,
  ValidationError,
} from './index.js';
import {
  commitmentKey,
  decodeNonceRecord,
  encodeNonceRecord,
  InMemoryNonceStore,
  keySetIdOf,
  type NonceRecord,
  nonceRecordFromNonces,
  noncesFromRecord,
} from './nonce-store.js';
import { seededRng } from './test-helpers/rng.js';

const suite = ciphersuites.ed25519;
const rng = seededRng(7);
const deal = trustedDealer(suite, { min: 2, max: 3 }, { rng });
const kp = deal.keyPackages[0]!;
const keySetId = keySetIdOf(kp);

function freshRecords(n: number): NonceRecord[] {
  return Array.from({ length: n }, () => nonceRecordFromNonces(suite, keySetId, commit(suite, kp, rng)));
}

async function rejection(p: Promise<unknown>): Promise<unknown> {
  return p.then(
    () => expect.unreachable('expected a rejection'),
    (e: unknown) => e,
  );
}

describe('commitmentKey', () => {
  const c = commit(suite, kp, rng).commitment;

  it('is 32 bytes of lower-case hex, the same for equal commitments', () => {
    expect(commitmentKey(c)).toMatch(/^[0-9a-f]{64}$/);
    expect(commitmentKey({ ...c, hiding: Uint8Array.from(c.hiding) })).toBe(commitmentKey(c));
  });

  it('changes with the identifier, the hiding or the binding point', () => {
    const flipped = Uint8Array.from(c.hiding);
    flipped[0]! ^= 1;
    const keys = new Set([
      commitmentKey(c),
      commitmentKey({ ...c, identifier: deal.keyPackages[1]!.identifier }),
      commitmentKey({ ...c, hiding: flipped }),
      commitmentKey({ ...c, hiding: c.binding, binding: c.hiding }),
    ]);
    expect(keys.size).toBe(4);
  });

  it('refuses a malformed commitment', () => {
    expect(() => commitmentKey({ ...c, binding: 'ab' as unknown as Uint8Array })).toThrow(ValidationError);
  });
});

describe('keySetIdOf', () => {
  it('differs between parties and between key sets', () => {
    const other = trustedDealer(suite, { min: 2, max: 3 }, { rng });
    const ids = new Set([keySetId, keySetIdOf(deal.keyPackages[1]!), keySetIdOf(other.keyPackages[0]!)]);
    expect(ids.size).toBe(3);
  });
});

describe('nonce records', () => {
  it('round-trip through encodeNonceRecord/decodeNonceRecord', () => {
    const [r] = freshRecords(1);
    const back = decodeNonceRecord(encodeNonceRecord(r!), suite.id);
    expect(back.suite).toBe(suite.id);
    expect(back.keySetId).toBe(keySetId);
    expect(commitmentKey(back.commitment)).toBe(commitmentKey(r!.commitment));
    expect(bytesToHex(back.hiding.expose())).toBe(bytesToHex(r!.hiding.expose()));
    expect(bytesToHex(back.binding.expose())).toBe(bytesToHex(r!.binding.expose()));
  });

  it('never print their nonces', () => {
    const [r] = freshRecords(1);
    const json = JSON.parse(JSON.stringify(r));
    expect([json.hiding, json.binding]).toEqual(['<redacted>', '<redacted>']);
    const printed = inspect(r, { depth: 5 });
    expect(printed).not.toContain(bytesToHex(r!.hiding.expose()));
    expect(printed.match(/SecretBytes <redacted>/g)).toHaveLength(2);
    expect(inspect(noncesFromRecord(r!), { depth: 5 }).match(/SecretBytes <redacted>/g)).toHaveLength(2);
  });

  it('decode refuses another suite, garbage and a wiped record cannot be encoded', () => {
    const [r] = freshRecords(1);
    const bytes = encodeNonceRecord(r!);
    expect(() => decodeNonceRecord(bytes, 'FROST-secp256k1-SHA256-TR-v1')).toThrow(
      expect.objectContaining({ code: 'CIPHERSUITE_MISMATCH' }),
    );
    expect(() => decodeNonceRecord(new Uint8Array([1, 2, 3]))).toThrow(
      expect.objectContaining({ code: 'DECODE_FAILED' }),
    );
    r!.hiding.wipe();
    expect(() => encodeNonceRecord(r!)).toThrow(ValidationError);
  });

  it('are not made from used nonces', () => {
    const n = commit(suite, kp, rng);
    n.hiding.wipe();
    expect(() => nonceRecordFromNonces(suite, keySetId, n)).toThrow(
      expect.objectContaining({ code: 'NONCE_REUSE' }),
    );
  });
});

describe('InMemoryNonceStore', () => {
  it('saves, counts, and hands each record out once', async () => {
    const store = new InMemoryNonceStore();
    const records = freshRecords(3);
    await store.save(records);
    expect(await store.count()).toBe(3);
    expect(await store.count(keySetId)).toBe(3);
    expect(await store.count('another key set')).toBe(0);
    const key = commitmentKey(records[1]!.commitment);
    const got = await store.consume(key);
    expect(commitmentKey(got.commitment)).toBe(key);
    expect(bytesToHex(got.hiding.expose())).toBe(bytesToHex(records[1]!.hiding.expose()));
    expect(await store.count()).toBe(2);
    const again = await rejection(store.consume(key));
    expect(again).toBeInstanceOf(ProtocolError);
    expect(again).toMatchObject({ code: 'NONCE_REUSE' });
  });

  it('refuses a key it never issued with UNKNOWN_NONCE', async () => {
    const store = new InMemoryNonceStore();
    await store.save(freshRecords(1));
    const [stranger] = freshRecords(1);
    expect(await rejection(store.consume(commitmentKey(stranger!.commitment)))).toMatchObject({
      code: 'UNKNOWN_NONCE',
    });
    expect(await store.count()).toBe(1);
  });

  it('refuses to save a consumed or already stored commitment, all or nothing', async () => {
    const store = new InMemoryNonceStore();
    const [a, b] = freshRecords(2);
    await store.save([a!]);
    expect(await rejection(store.save([b!, a!]))).toMatchObject({ code: 'NONCE_REUSE' });
    expect(await store.count()).toBe(1);
    await store.consume(commitmentKey(a!.commitment));
    expect(await rejection(store.save([a!]))).toMatchObject({ code: 'NONCE_REUSE' });
    expect(await rejection(store.save([b!, b!]))).toMatchObject({ code: 'NONCE_REUSE' });
    expect(await store.count()).toBe(0);
  });

  it('lets exactly one of many concurrent consumes of a key succeed', async () => {
    const store = new InMemoryNonceStore();
    const [r] = freshRecords(1);
    await store.save([r!]);
    const key = commitmentKey(r!.commitment);
    const results = await Promise.allSettled(Array.from({ length: 8 }, () => store.consume(key)));
    expect(results.filter((x) => x.status === 'fulfilled')).toHaveLength(1);
    for (const x of results.filter((y) => y.status === 'rejected')) {
      expect((x as PromiseRejectedResult).reason).toMatchObject({ code: 'NONCE_REUSE' });
    }
  });

  it('keeps tombstones across instances that share them', async () => {
    const tombstones = new Set<string>();
    const first = new InMemoryNonceStore({ tombstones });
    const [r] = freshRecords(1);
    const bytes = encodeNonceRecord(r!);
    await first.save([r!]);
    await first.consume(commitmentKey(r!.commitment));
    // A second instance (a restored backup) holding the same record cannot hand it out again.
    const key = commitmentKey(r!.commitment);
    const second = new InMemoryNonceStore({ tombstones, records: new Map([[key, bytes]]) });
    expect(await rejection(second.consume(key))).toMatchObject({ code: 'NONCE_REUSE' });
    expect(await rejection(new InMemoryNonceStore({ tombstones }).save([r!]))).toMatchObject({
      code: 'NONCE_REUSE',
    });
  });

  it('consumeAndSave hands out one record and stores the new ones, both or neither', async () => {
    const store = new InMemoryNonceStore();
    const [spent, fresh, other] = freshRecords(3);
    await store.save([spent!, other!]);
    const key = commitmentKey(spent!.commitment);
    // A fresh record already stored: nothing changes.
    expect(await rejection(store.consumeAndSave(key, [other!]))).toMatchObject({ code: 'NONCE_REUSE' });
    // The spent record offered as its own replacement: nothing changes.
    expect(await rejection(store.consumeAndSave(key, [spent!]))).toMatchObject({ code: 'NONCE_REUSE' });
    expect(await store.count()).toBe(2);
    const got = await store.consumeAndSave(key, [fresh!]);
    expect(commitmentKey(got.commitment)).toBe(key);
    expect(await store.count()).toBe(2);
    expect(await rejection(store.consume(key))).toMatchObject({ code: 'NONCE_REUSE' });
    expect(commitmentKey((await store.consume(commitmentKey(fresh!.commitment))).commitment)).toBe(
      commitmentKey(fresh!.commitment),
    );
    // A key never issued: nothing is saved.
    const [stranger, unsaved] = freshRecords(2);
    expect(
      await rejection(store.consumeAndSave(commitmentKey(stranger!.commitment), [unsaved!])),
    ).toMatchObject({ code: 'UNKNOWN_NONCE' });
    expect(await store.count()).toBe(1);
  });

  it('refuses a malformed batch', async () => {
    const store = new InMemoryNonceStore();
    expect(await rejection(store.save('nope' as unknown as NonceRecord[]))).toBeInstanceOf(ValidationError);
    const [r] = freshRecords(1);
    expect(await rejection(store.save([{ ...r!, keySetId: '' }]))).toMatchObject({
      fields: ['records[0].keySetId'],
    });
  });
});

/**
 * Moving nonces between their two forms never leaves two live holders of one nonce pair: each
 * could sign once, and two shares over different messages with one nonce pair (three with its
 * binding factor varying) reveal the signing share.
 */
describe('nonceRecordFromNonces and noncesFromRecord move the nonces', () => {
  const bob = deal.keyPackages[1]!;
  const pkg = (mine: NonceRecord['commitment'], m: number) => ({
    commitments: [mine, commit(suite, bob, rng).commitment],
    message: new Uint8Array([m]),
  });

  it('a record taken once signs once; taking it again is NONCE_REUSE', () => {
    const record = freshRecords(1)[0]!;
    const nonces = noncesFromRecord(record);
    expect(record.hiding.wiped && record.binding.wiped).toBe(true);
    expect(signShare(suite, kp, nonces, pkg(record.commitment, 1), deal.publicPackage).share).toHaveLength(
      32,
    );
    const again = (() => {
      try {
        return noncesFromRecord(record);
      } catch (e) {
        return e;
      }
    })();
    expect(again).toBeInstanceOf(ProtocolError);
    expect((again as ProtocolError).code).toBe('NONCE_REUSE');
  });

  it('nonces stored in a record no longer sign themselves', () => {
    const nonces = commit(suite, kp, rng);
    const record = nonceRecordFromNonces(suite, keySetId, nonces);
    expect(nonces.hiding.wiped && nonces.binding.wiped).toBe(true);
    expect(() => signShare(suite, kp, nonces, pkg(nonces.commitment, 1), deal.publicPackage)).toThrow(
      expect.objectContaining({ code: 'NONCE_REUSE' }),
    );
    // The record holds them, and signs once.
    signShare(suite, kp, noncesFromRecord(record), pkg(record.commitment, 2), deal.publicPackage);
  });
});
