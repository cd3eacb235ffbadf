/** Laws of the nonce store: every issued nonce is handed out at most once, whatever the requests. */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { type AnyCiphersuite, bytesToHex, ciphersuites, commit, trustedDealer } from './index.js';
import {
  commitmentKey,
  decodeNonceRecord,
  encodeNonceRecord,
  InMemoryNonceStore,
  keySetIdOf,
  nonceRecordFromNonces,
} from './nonce-store.js';
import { seededRng } from './test-helpers/rng.js';

const suite = ciphersuites.ed25519;
const deal = trustedDealer(suite, { min: 2, max: 3 }, { rng: seededRng(11) });
const kp = deal.keyPackages[0]!;

describe('nonce store laws', () => {
  it('any interleaving of consumes: each saved key succeeds once, the rest fail with the right code', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer(),
        fc.integer({ min: 1, max: 6 }),
        fc.array(fc.nat({ max: 8 }), { minLength: 1, maxLength: 30 }),
        fc.array(fc.nat({ max: 8 }), { maxLength: 10 }),
        async (seed, saved, requests, prior) => {
          const rng = seededRng(seed);
          // Keys 0..saved-1 are issued; the others are commitments the store never saw.
          const records = Array.from({ length: 9 }, () =>
            nonceRecordFromNonces(suite, keySetIdOf(kp), commit(suite, kp, rng)),
          );
          const keys = records.map((r) => commitmentKey(r.commitment));
          const backing = { records: new Map<string, Uint8Array>(), tombstones: new Set<string>() };
          const store = new InMemoryNonceStore(backing);
          await store.save(records.slice(0, saved));
          // Some keys are consumed first; then requests go to two instances over the same state.
          const consumedBefore = new Set<number>();
          for (const i of prior) {
            if (i < saved && !consumedBefore.has(i)) {
              await store.consume(keys[i]!);
              consumedBefore.add(i);
            }
          }
          const reopened = new InMemoryNonceStore(backing);
          const stores = [store, reopened];
          const results = await Promise.allSettled(
            requests.map((i, j) => stores[j % 2]!.consume(keys[i]!).then((r) => commitmentKey(r.commitment))),
          );
          const wins = new Map<number, number>();
          results.forEach((res, j) => {
            const i = requests[j]!;
            if (res.status === 'fulfilled') {
              expect(res.value).toBe(keys[i]);
              wins.set(i, (wins.get(i) ?? 0) + 1);
            } else {
              const code = (res.reason as { code: string }).code;
              expect(code).toBe(i < saved ? 'NONCE_REUSE' : 'UNKNOWN_NONCE');
            }
          });
          for (const i of new Set(requests)) {
            const live = i < saved && !consumedBefore.has(i);
            expect(wins.get(i) ?? 0).toBe(live ? 1 : 0);
          }
        },
      ),
      { numRuns: 40 },
    );
  });

  it('records round-trip through the store encoding for every suite', () => {
    const all: AnyCiphersuite[] = [ciphersuites.ed25519, ciphersuites.secp256k1, ciphersuites.secp256k1tr];
    fc.assert(
      fc.property(
        fc.integer(),
        fc.constantFrom(...all),
        fc.string({ minLength: 1, maxLength: 80 }),
        (seed, s, id) => {
          const rng = seededRng(seed);
          const d = trustedDealer(s, { min: 2, max: 2 }, { rng });
          const r = nonceRecordFromNonces(s, id, commit(s, d.keyPackages[1]!, rng));
          const back = decodeNonceRecord(encodeNonceRecord(r), s.id);
          expect(back.keySetId).toBe(id);
          expect(commitmentKey(back.commitment)).toBe(commitmentKey(r.commitment));
          expect(bytesToHex(back.hiding.expose())).toBe(bytesToHex(r.hiding.expose()));
          expect(bytesToHex(back.binding.expose())).toBe(bytesToHex(r.binding.expose()));
        },
      ),
      { numRuns: 30 },
    );
  });
});
