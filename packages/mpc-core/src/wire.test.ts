/** Every key-generation and sealed message type round-trips through CBOR and JSON. */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  DkgRound1PackageCodec,
  DkgRound2PackageCodec,
  dkgRound1,
  dkgRound2,
  generateIdentityKey,
  getCiphersuite,
  identifierFromNumber,
  type MessageCodec,
  RefreshRound1PackageCodec,
  RefreshRound2PackageCodec,
  RefreshShareCodec,
  RepairDeltaCodec,
  RepairSigmaCodec,
  refreshDealer,
  refreshRound1,
  refreshRound2,
  repairStep1,
  repairStep2,
  SealedBoxCodec,
  seal,
  trustedDealer,
  x25519FromIdentityPublicKey,
} from './index.js';
import { seededRng } from './test-helpers/rng.js';

const ID = 'FROST-ED25519-SHA512-v1' as const;
const norm = (v: unknown): unknown =>
  JSON.parse(
    JSON.stringify(v, (_k, x) => {
      if (x instanceof Uint8Array) return Buffer.from(x).toString('hex');
      if (x && typeof x === 'object' && typeof (x as { expose?: unknown }).expose === 'function') {
        return Buffer.from((x as { expose(): Uint8Array }).expose()).toString('hex');
      }
      return x;
    }),
  );

function roundTrips<T>(codec: MessageCodec<T>, value: T): void {
  expect(norm(codec.decode(codec.encode(ID, value), ID).value)).toEqual(norm(value));
  expect(norm(codec.fromJSON(JSON.parse(JSON.stringify(codec.toJSON(ID, value))), ID).value)).toEqual(
    norm(value),
  );
}

describe('key-generation wire messages', () => {
  it('DKG, refresh, repair and sealed-box messages round-trip (secrets included, via the codec only)', () => {
    const suite = getCiphersuite(ID);
    fc.assert(
      fc.property(fc.integer(), (seed) => {
        const rng = seededRng(seed);
        const threshold = { min: 2, max: 3 };
        const ids = [1, 2, 3].map((n) => identifierFromNumber(suite, n));
        const r1 = ids.map((identifier) => dkgRound1(suite, { identifier, threshold, rng }));
        roundTrips(DkgRound1PackageCodec, r1[0]!.package);
        const r2 = dkgRound2(
          suite,
          r1[0]!.secret,
          r1.slice(1).map((r) => r.package),
        );
        roundTrips(DkgRound2PackageCodec, r2.packages[0]!);

        const deal = trustedDealer(suite, threshold, { rng });
        const rd = refreshDealer(suite, deal.publicPackage, ids, rng);
        roundTrips(RefreshShareCodec, rd.shares[0]!);
        const f1 = ids.map((identifier) => refreshRound1(suite, { identifier, threshold, rng }));
        roundTrips(RefreshRound1PackageCodec, f1[0]!.package);
        const f2 = refreshRound2(
          suite,
          f1[0]!.secret,
          f1.slice(1).map((r) => r.package),
        );
        roundTrips(RefreshRound2PackageCodec, f2.packages[0]!);

        const helpers = ids.slice(0, 2);
        const deltas = helpers.map((_h, i) =>
          repairStep1(suite, helpers, deal.keyPackages[i]!, ids[2]!, rng),
        );
        roundTrips(RepairDeltaCodec, deltas[0]![0]!);
        const sigma = repairStep2(
          suite,
          helpers,
          deal.keyPackages[0]!,
          deltas.map((d) => d.find((x) => x.receiver === helpers[0])!),
        );
        roundTrips(RepairSigmaCodec, sigma);

        const box = seal(
          x25519FromIdentityPublicKey(generateIdentityKey(rng).publicKey),
          Uint8Array.of(1, 2),
          Uint8Array.of(3),
          rng,
        );
        roundTrips(SealedBoxCodec, box);
      }),
      { numRuns: 5 },
    );
  });
});
