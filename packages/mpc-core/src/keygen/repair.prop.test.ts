/**
 * Repair laws: any helper set of t..n-1 parties rebuilds a lost share exactly, for dealer-, DKG-
 * and refresh-made keys; a wrong delta is caught against the public verifying share.
 */
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  type AnyCiphersuite,
  bytesToHex,
  ciphersuites,
  deriveIdentifier,
  getCiphersuite,
  identifierFromNumber,
  type KeyPackage,
  loadFastBackends,
  ProtocolError,
  type PublicKeyPackage,
  SecretBytes,
  trustedDealer,
} from '../index.js';
import { seededRng } from '../test-helpers/rng.js';
import { runDkgLocally } from './dkg.js';
import { applyRefresh, refreshDealer } from './refresh.js';
import { type RepairDelta, repairStep1, repairStep2, repairStep3 } from './repair.js';

const hex = (b: Uint8Array) => bytesToHex(b);

type Origin = 'dealer' | 'dkg' | 'refreshed';

function makeKeys(
  suite: AnyCiphersuite,
  origin: Origin,
  n: number,
  t: number,
  seed: number,
  derived: boolean,
) {
  const threshold = { min: t, max: n };
  const identifiers = Array.from({ length: n }, (_, i) =>
    derived ? deriveIdentifier(suite, `party-${seed}-${i}`) : identifierFromNumber(suite, i + 1),
  );
  if (origin === 'dkg') return runDkgLocally(suite, { identifiers, threshold, rng: seededRng(seed) });
  const deal = trustedDealer(suite, threshold, { rng: seededRng(seed), identifiers });
  if (origin === 'dealer') return deal;
  const { shares } = refreshDealer(suite, deal.publicPackage, identifiers, seededRng(seed + 1));
  const outs = deal.keyPackages.map((kp, i) => applyRefresh(suite, kp, deal.publicPackage, shares[i]!));
  return { publicPackage: outs[0]!.publicPackage, keyPackages: outs.map((o) => o.keyPackage) };
}

function repair(
  suite: AnyCiphersuite,
  keyPackages: readonly KeyPackage[],
  pub: PublicKeyPackage,
  helperIdx: readonly number[],
  lost: string,
  seed: number,
  tamper?: (d: RepairDelta) => RepairDelta,
): KeyPackage {
  const rng = seededRng(seed);
  const helpers = helperIdx.map((i) => keyPackages[i]!);
  const ids = helpers.map((h) => h.identifier);
  const deltas = helpers
    .flatMap((h) => repairStep1(suite, ids, h, lost, rng))
    .map((d) => (tamper ? tamper(d) : d));
  const sigmas = helpers.map((h) =>
    repairStep2(
      suite,
      ids,
      h,
      deltas.filter((d) => d.receiver === h.identifier),
    ),
  );
  return repairStep3(suite, ids, sigmas, lost, pub);
}

const caseArb = fc
  .record({
    seed: fc.integer(),
    n: fc.integer({ min: 3, max: 6 }),
    tRaw: fc.nat(),
    origin: fc.constantFrom<Origin>('dealer', 'dkg', 'refreshed'),
    derived: fc.boolean(),
    lostRaw: fc.nat(),
  })
  .chain((r) => {
    const t = 2 + (r.tRaw % (r.n - 2));
    const lost = r.lostRaw % r.n;
    const others = Array.from({ length: r.n }, (_, i) => i).filter((i) => i !== lost);
    return fc.record({
      seed: fc.constant(r.seed),
      n: fc.constant(r.n),
      t: fc.constant(t),
      origin: fc.constant(r.origin),
      derived: fc.constant(r.derived),
      lost: fc.constant(lost),
      helpers: fc.shuffledSubarray(others, { minLength: t, maxLength: r.n - 1 }),
      victim: fc.nat(),
    });
  });

const suites: [string, () => AnyCiphersuite][] = [
  ['FROST(Ed25519, libsodium)', () => getCiphersuite('FROST-ED25519-SHA512-v1')],
  ['FROST(secp256k1)', () => ciphersuites.secp256k1],
  ['FROST(secp256k1-TR)', () => ciphersuites.secp256k1tr],
];

describe.each(suites)('repair laws: %s', (_name, getSuite) => {
  beforeAll(async () => {
    await loadFastBackends();
  });

  it('rebuilds the exact lost share from any t..n-1 helpers', () => {
    const suite = getSuite();
    fc.assert(
      fc.property(caseArb, (c) => {
        const { keyPackages, publicPackage } = makeKeys(suite, c.origin, c.n, c.t, c.seed, c.derived);
        const lost = keyPackages[c.lost]!;
        const rebuilt = repair(suite, keyPackages, publicPackage, c.helpers, lost.identifier, c.seed);
        expect(rebuilt.identifier).toBe(lost.identifier);
        expect(hex(rebuilt.signingShare.expose())).toBe(hex(lost.signingShare.expose()));
        expect(hex(rebuilt.verifyingShare)).toBe(hex(lost.verifyingShare));
        expect(hex(rebuilt.groupPublicKey)).toBe(hex(lost.groupPublicKey));
        expect(rebuilt.threshold).toEqual(lost.threshold);
      }),
      { numRuns: 10 },
    );
  });

  it('a wrong delta makes the rebuilt share fail its verifying-share check', () => {
    const suite = getSuite();
    fc.assert(
      fc.property(caseArb, (c) => {
        const { keyPackages, publicPackage } = makeKeys(suite, 'dealer', c.n, c.t, c.seed, c.derived);
        const lost = keyPackages[c.lost]!.identifier;
        const cheat = keyPackages[c.helpers[c.victim % c.helpers.length]!]!.identifier;
        let done = false;
        const tamper = (d: RepairDelta): RepairDelta => {
          if (done || d.sender !== cheat) return d;
          done = true;
          const F = suite.field;
          return { ...d, delta: new SecretBytes(F.toBytes(F.add(F.fromBytes(d.delta.expose()), 1n))) };
        };
        let err: unknown;
        try {
          repair(suite, keyPackages, publicPackage, c.helpers, lost, c.seed, tamper);
        } catch (e) {
          err = e;
        }
        expect(err).toBeInstanceOf(ProtocolError);
        expect((err as ProtocolError).code).toBe('INVALID_SECRET_SHARE');
      }),
      { numRuns: 5 },
    );
  });
});
