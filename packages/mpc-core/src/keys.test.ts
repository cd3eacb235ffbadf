/**
 * publicPackageFromKeyPackages refuses key packages that do not belong together (two group keys,
 * a repeated identifier, fewer than threshold.max packages, mismatched thresholds) instead of
 * building a package that later blames an honest signer. (From the mpc-core library review.)
 * keyPackageFromShare, given the group's public package or commitments, refuses a share that is
 * not the group's for its identifier.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  applyRefresh,
  ciphersuites,
  commit,
  dkgRound1,
  identifierFromNumber,
  type KeyPackage,
  type KeyPackageFromShareArgs,
  keyPackageFromShare,
  publicPackageFromKeyPackages,
  refreshDealer,
  runDkgLocally,
  signShare,
  trustedDealer,
  ValidationError,
  validateThreshold,
  verifyShare,
} from './index.js';
import { seededRng } from './test-helpers/rng.js';
import { UNPRINTABLE } from './test-helpers/unprintable.js';

const suite = ciphersuites.ed25519;

describe('publicPackageFromKeyPackages checks that the key packages belong together', () => {
  const a = trustedDealer(suite, { min: 2, max: 3 }, { rng: seededRng(9101) });
  const b = trustedDealer(suite, { min: 2, max: 3 }, { rng: seededRng(9102) });
  const [a1, a2, a3] = a.keyPackages;

  it('refuses key packages of two different group keys', () => {
    expect(() => publicPackageFromKeyPackages(suite, [a1!, a2!, b.keyPackages[2]!])).toThrow(ValidationError);
  });

  it('refuses a repeated identifier (the record would silently keep one)', () => {
    expect(() => publicPackageFromKeyPackages(suite, [a1!, a1!, a2!])).toThrow(ValidationError);
  });

  it('refuses fewer key packages than threshold.max (the package is unusable later)', () => {
    expect(() => publicPackageFromKeyPackages(suite, [a1!])).toThrow(ValidationError);
  });

  it('refuses key packages with different thresholds', () => {
    const other = { ...a3!, threshold: { min: 3, max: 3 } };
    expect(() => publicPackageFromKeyPackages(suite, [a1!, a2!, other])).toThrow(ValidationError);
  });

  it('names the key package that does not fit', () => {
    const cases: [readonly (typeof a1)[], string][] = [
      [[a1, a2, b.keyPackages[2]], 'keyPackages[2].groupPublicKey'],
      [[a1, a2, a1], 'keyPackages[2].identifier'],
      [[a1, { ...a2!, threshold: { min: 2, max: 4 } }, a3], 'keyPackages[1].threshold'],
      [[a1, a2], 'keyPackages'],
    ];
    for (const [kps, field] of cases) {
      try {
        publicPackageFromKeyPackages(suite, kps as never);
        expect.unreachable(`accepted; expected a refusal naming ${field}`);
      } catch (e) {
        expect(e).toBeInstanceOf(ValidationError);
        expect((e as ValidationError).fields, field).toEqual([field]);
        expect((e as Error).message).toContain(field);
      }
    }
  });

  it("still builds the package of a whole deal, equal to the dealer's", () => {
    const built = publicPackageFromKeyPackages(suite, [a3!, a1!, a2!]);
    expect(built.groupPublicKey).toEqual(a.publicPackage.groupPublicKey);
    expect(built.threshold).toEqual(a.publicPackage.threshold);
    expect(Object.keys(built.verifyingShares).sort()).toEqual(
      Object.keys(a.publicPackage.verifyingShares).sort(),
    );
  });

  it('refuses a key package from before a refresh (same group key, an older share), naming it', () => {
    const ids = a.keyPackages.map((kp) => kp.identifier);
    const { shares } = refreshDealer(suite, a.publicPackage, ids, seededRng(9108));
    const fresh = a.keyPackages.map((kp, i) => applyRefresh(suite, kp, a.publicPackage, shares[i]!));
    const [f1, f2, f3] = fresh.map((o) => o.keyPackage);
    // The refreshed set is one sharing of the same key, and builds the refreshed public package.
    expect(publicPackageFromKeyPackages(suite, [f1!, f2!, f3!]).verifyingShares).toEqual(
      fresh[0]!.publicPackage.verifyingShares,
    );
    const refusedAt = (kps: Parameters<typeof publicPackageFromKeyPackages>[1]) => {
      try {
        publicPackageFromKeyPackages(suite, kps);
      } catch (e) {
        expect(e).toBeInstanceOf(ValidationError);
        return (e as ValidationError).fields;
      }
      return expect.unreachable('a stale key package was taken');
    };
    expect(refusedAt([f1!, f2!, a3!])).toEqual(['keyPackages[2].verifyingShare']);
    // Among the first `min`, it cannot be told from its partner: the set is refused as a whole.
    expect(refusedAt([a1!, f2!, f3!])).toEqual(['keyPackages']);
  });

  it('a stale/foreign key package never yields a package that blames an honest signer', () => {
    // Harm downstream: with the mixed package, a3's honest share fails verifyShare and a3 is named.
    let mixed: ReturnType<typeof publicPackageFromKeyPackages> | undefined;
    try {
      mixed = publicPackageFromKeyPackages(suite, [a1!, a2!, b.keyPackages[2]!]);
    } catch (e) {
      expect(e).toBeInstanceOf(ValidationError); // refused up front: nobody is blamed
    }
    const n1 = commit(suite, a1!, seededRng(9104));
    const n3 = commit(suite, a3!, seededRng(9105));
    const pkg = { commitments: [n1.commitment, n3.commitment], message: Uint8Array.of(1) };
    const s3 = signShare(suite, a3!, n3, pkg, a.publicPackage); // honest
    let blamed: readonly string[] = [];
    try {
      if (mixed) verifyShare(suite, pkg, s3, mixed);
    } catch (e) {
      blamed = (e as { culprits?: readonly string[] }).culprits ?? [];
    }
    // The wrong package should never have been built; here an honest party is named instead.
    expect(blamed).toEqual([]);
  });
});

/**
 * keyPackageFromShare checks the share against the group when given the public package or the
 * group's commitments; without them it cannot, and takes a share of another key (documented).
 */
describe('keyPackageFromShare with publicPackage or commitments checks the share belongs to the group', () => {
  const threshold = { min: 2, max: 3 };
  const a = trustedDealer(suite, threshold, { rng: seededRng(9201) });
  const b = trustedDealer(suite, threshold, { rng: seededRng(9202) });
  const [a1, a2] = a.keyPackages;
  const ids = a.keyPackages.map((kp) => kp.identifier);
  const shareOf = (kp: KeyPackage) => Uint8Array.from(kp.signingShare.expose());
  /** a1's import, with `over` changed. */
  const args = (over: Partial<KeyPackageFromShareArgs> = {}): KeyPackageFromShareArgs => ({
    identifier: a1!.identifier,
    signingShare: shareOf(a1!),
    groupPublicKey: a.publicPackage.groupPublicKey,
    threshold,
    ...over,
  });
  const checks = (pub = a.publicPackage): Partial<KeyPackageFromShareArgs>[] => [
    { publicPackage: pub },
    { commitments: pub.commitments! },
  ];
  const refusal = (f: () => unknown): [string, readonly string[]] => {
    try {
      f();
    } catch (e) {
      expect(e).toBeInstanceOf(ValidationError);
      return [(e as ValidationError).code, (e as ValidationError).fields];
    }
    return expect.unreachable('accepted') as never;
  };

  it("takes the group's own share, giving the dealer's key package", () => {
    for (const check of checks()) {
      const kp = keyPackageFromShare(suite, args(check));
      expect([kp.identifier, kp.verifyingShare, kp.groupPublicKey]).toEqual([
        a1!.identifier,
        a1!.verifyingShare,
        a1!.groupPublicKey,
      ]);
    }
  });

  it("refuses another key's share, naming signingShare", () => {
    for (const check of checks())
      expect(
        refusal(() =>
          keyPackageFromShare(suite, args({ signingShare: shareOf(b.keyPackages[0]!), ...check })),
        ),
      ).toEqual(['INVALID_ARGUMENT', ['signingShare']]);
  });

  it("refuses another identifier's share, naming signingShare", () => {
    for (const check of checks())
      expect(
        refusal(() => keyPackageFromShare(suite, args({ signingShare: shareOf(a2!), ...check }))),
      ).toEqual(['INVALID_ARGUMENT', ['signingShare']]);
  });

  it('refuses a share from before a refresh against the refreshed group, naming signingShare', () => {
    const { shares } = refreshDealer(suite, a.publicPackage, ids, seededRng(9203));
    const refreshed = applyRefresh(suite, a1!, a.publicPackage, shares[0]!);
    // The refreshed share is taken; the old one (same group key) is not.
    for (const check of checks(refreshed.publicPackage)) {
      const fresh = keyPackageFromShare(
        suite,
        args({ signingShare: shareOf(refreshed.keyPackage), ...check }),
      );
      expect(fresh.verifyingShare).toEqual(refreshed.keyPackage.verifyingShare);
      expect(refusal(() => keyPackageFromShare(suite, args(check)))).toEqual([
        'INVALID_ARGUMENT',
        ['signingShare'],
      ]);
    }
  });

  it("refuses a groupPublicKey that is not the package's, naming groupPublicKey", () => {
    for (const check of checks())
      expect(
        refusal(() =>
          keyPackageFromShare(suite, args({ groupPublicKey: b.publicPackage.groupPublicKey, ...check })),
        ),
      ).toEqual(['INVALID_ARGUMENT', ['groupPublicKey']]);
  });

  it('refuses an identifier the package lacks, another threshold, another suite, and the wrong number of commitments', () => {
    const four = trustedDealer(suite, { min: 2, max: 4 }, { rng: seededRng(9204) }).keyPackages[3]!;
    expect(
      refusal(() =>
        keyPackageFromShare(suite, args({ identifier: four.identifier, publicPackage: a.publicPackage })),
      ),
    ).toEqual(['UNKNOWN_IDENTIFIER', ['identifier']]);
    expect(
      refusal(() =>
        keyPackageFromShare(suite, args({ threshold: { min: 3, max: 3 }, publicPackage: a.publicPackage })),
      ),
    ).toEqual(['INVALID_THRESHOLD', ['threshold']]);
    const secp = trustedDealer(ciphersuites.secp256k1, threshold, { rng: seededRng(9205) }).publicPackage;
    expect(refusal(() => keyPackageFromShare(suite, args({ publicPackage: secp })))).toEqual([
      'CIPHERSUITE_MISMATCH',
      ['publicPackage.suite'],
    ]);
    expect(
      refusal(() =>
        keyPackageFromShare(suite, args({ commitments: a.publicPackage.commitments!.slice(0, 1) })),
      ),
    ).toEqual(['INVALID_LENGTH', ['commitments']]);
    expect(refusal(() => keyPackageFromShare(suite, args({ publicPackage: 7 as never })))).toEqual([
      'INVALID_ARGUMENT',
      ['publicPackage'],
    ]);
    expect(refusal(() => keyPackageFromShare(suite, args({ commitments: 'x' as never })))).toEqual([
      'INVALID_ARGUMENT',
      ['commitments'],
    ]);
  });

  it("takes every party's share of a DKG on each suite (TR: the tweaked key), checked either way", () => {
    for (const s of Object.values(ciphersuites)) {
      const dkgIds = [1, 2, 3].map((n) => identifierFromNumber(s, n));
      const dkg = runDkgLocally(s, { identifiers: dkgIds, threshold, rng: seededRng(9206) });
      for (const kp of dkg.keyPackages)
        for (const check of [
          { publicPackage: dkg.publicPackage },
          { commitments: dkg.publicPackage.commitments! },
        ]) {
          const got = keyPackageFromShare(s, {
            identifier: kp.identifier,
            signingShare: shareOf(kp),
            groupPublicKey: kp.groupPublicKey,
            threshold,
            ...check,
          });
          expect([s.id, got.verifyingShare]).toEqual([s.id, kp.verifyingShare]);
        }
    }
  });

  it('without either, takes a share of another key (the risk its TSDoc names)', () => {
    const kp = keyPackageFromShare(suite, args({ signingShare: shareOf(b.keyPackages[0]!) }));
    expect(kp.groupPublicKey).toEqual(a.publicPackage.groupPublicKey);
    expect(kp.verifyingShare).not.toEqual(a.publicPackage.verifyingShares[a1!.identifier]);
  });
});

describe('thresholds of any type give ValidationError INVALID_THRESHOLD (docs/mpc-core.md "Errors": never a TypeError)', () => {
  const entries: [string, (t: unknown) => unknown][] = [
    ['validateThreshold', (t) => validateThreshold(t as never)],
    ['trustedDealer', (t) => trustedDealer(suite, t as never)],
    [
      'dkgRound1',
      (t) => dkgRound1(suite, { identifier: identifierFromNumber(suite, 1), threshold: t as never }),
    ],
  ];
  it.each(entries)('%s, with a min or max that cannot print', (_name, call) => {
    fc.assert(
      fc.property(fc.constantFrom(...UNPRINTABLE), fc.constantFrom('min', 'max'), ([, make], at) => {
        const threshold = { min: 2, max: 3, [at]: make() };
        let error: unknown;
        try {
          call(threshold);
        } catch (e) {
          error = e;
        }
        expect(error).toBeInstanceOf(ValidationError);
        expect((error as ValidationError).code).toBe('INVALID_THRESHOLD');
      }),
      { numRuns: 40 },
    );
  });
});
