/** Refresh examples: dropping parties, derived identifiers, commitments, input checks, redaction. */
import { inspect } from 'node:util';
import { describe, expect, it } from 'vitest';
import {
  aggregate,
  ciphersuites,
  commit,
  deriveIdentifier,
  publicPackageFromKeyPackages,
  signShare,
  trustedDealer,
  verify,
} from '../index.js';
import { errorOf } from '../test-helpers/errors.js';
import { seededRng } from '../test-helpers/rng.js';
import { applyRefresh, refreshDealer, refreshRound1, refreshRound2, refreshRound3 } from './refresh.js';

const suite = ciphersuites.ed25519;

describe('refreshDealer + applyRefresh', () => {
  it('drops a party: the refreshed key has max = participants, and the remaining parties sign', () => {
    const deal = trustedDealer(suite, { min: 2, max: 4 }, { rng: seededRng(1) });
    const keep = deal.keyPackages.slice(0, 3);
    const { shares, publicPackage } = refreshDealer(
      suite,
      deal.publicPackage,
      keep.map((k) => k.identifier),
      seededRng(2),
    );
    expect(publicPackage.threshold).toEqual({ min: 2, max: 3 });
    expect(Object.keys(publicPackage.verifyingShares)).toHaveLength(3);
    const outs = keep.map((kp, i) => applyRefresh(suite, kp, deal.publicPackage, shares[i]!));
    expect(outs[0]!.publicPackage).toEqual(publicPackage);
    const signers = [outs[0]!.keyPackage, outs[2]!.keyPackage];
    const rng = seededRng(3);
    const nonces = signers.map((kp) => commit(suite, kp, rng));
    const pkg = { commitments: nonces.map((n) => n.commitment), message: new Uint8Array([7]) };
    const sig = aggregate(
      suite,
      pkg,
      signers.map((kp, i) => signShare(suite, kp, nonces[i]!, pkg, publicPackage)),
      publicPackage,
    );
    expect(verify(suite, publicPackage.groupPublicKey, pkg.message, sig)).toBe(true);
    // The dropped party is not in the refreshed key.
    const dropped = { ...shares[0]!, identifier: deal.keyPackages[3]!.identifier };
    expect(errorOf(() => applyRefresh(suite, deal.keyPackages[3]!, deal.publicPackage, dropped)).code).toBe(
      'INVALID_ARGUMENT',
    );
  });

  it('keeps the VSS commitment consistent, also with derived (large) identifiers', () => {
    const identifiers = ['alice', 'bob', 'carol'].map((n) => deriveIdentifier(suite, n));
    const deal = trustedDealer(suite, { min: 3, max: 3 }, { rng: seededRng(4), identifiers });
    const { shares, publicPackage } = refreshDealer(suite, deal.publicPackage, identifiers, seededRng(5));
    expect(publicPackage.commitments![0]).toEqual(deal.publicPackage.commitments![0]);
    const { group, field } = suite;
    const C = publicPackage.commitments!.map((c) => group.deserialize(c));
    for (const [i, kp] of deal.keyPackages.entries()) {
      const out = applyRefresh(suite, kp, deal.publicPackage, shares[i]!);
      const x = field.fromBytes(Buffer.from(kp.identifier, 'hex'));
      expect(group.serialize(group.evalCommitment(C, x))).toEqual(out.keyPackage.verifyingShare);
    }
  });

  it('works without a stored VSS commitment', () => {
    const deal = trustedDealer(suite, { min: 2, max: 3 }, { rng: seededRng(6) });
    const bare = publicPackageFromKeyPackages(suite, deal.keyPackages);
    const ids = deal.keyPackages.map((k) => k.identifier);
    const { shares, publicPackage } = refreshDealer(suite, bare, ids, seededRng(7));
    expect(publicPackage.commitments).toBeUndefined();
    const out = applyRefresh(suite, deal.keyPackages[1]!, bare, shares[1]!);
    expect(out.keyPackage.verifyingShare).toEqual(publicPackage.verifyingShares[ids[1]!]);
  });

  it('checks its inputs', () => {
    const deal = trustedDealer(suite, { min: 3, max: 4 }, { rng: seededRng(8) });
    const ids = deal.keyPackages.map((k) => k.identifier);
    const pub = deal.publicPackage;
    expect(errorOf(() => refreshDealer(suite, pub, ids.slice(0, 2))).code).toBe('INVALID_ARGUMENT');
    expect(errorOf(() => refreshDealer(suite, pub, [ids[0]!, ids[0]!, ids[1]!])).code).toBe(
      'DUPLICATE_IDENTIFIER',
    );
    const stranger = deriveIdentifier(suite, 'mallory');
    expect(errorOf(() => refreshDealer(suite, pub, [...ids.slice(0, 2), stranger])).code).toBe(
      'UNKNOWN_IDENTIFIER',
    );
    expect(errorOf(() => refreshDealer(ciphersuites.secp256k1, pub, ids)).code).toBe('CIPHERSUITE_MISMATCH');
    const { shares } = refreshDealer(suite, pub, ids, seededRng(9));
    expect(errorOf(() => applyRefresh(suite, deal.keyPackages[0]!, pub, shares[1]!)).fields).toEqual([
      'share.identifier',
    ]);
    const short = { ...shares[0]!, commitment: shares[0]!.commitment.slice(1) };
    expect(errorOf(() => applyRefresh(suite, deal.keyPackages[0]!, pub, short)).code).toBe('INVALID_LENGTH');
    const other = trustedDealer(suite, { min: 3, max: 4 }, { rng: seededRng(10) });
    expect(
      errorOf(() => applyRefresh(suite, deal.keyPackages[0]!, other.publicPackage, shares[0]!)).code,
    ).toBe('INVALID_ARGUMENT');
    expect(JSON.stringify(shares[0])).toContain('"zeroShare":"<redacted>"');
  });
});

describe('distributed refresh', () => {
  function run(seed: number) {
    const deal = trustedDealer(suite, { min: 2, max: 3 }, { rng: seededRng(seed) });
    const rng = seededRng(seed + 100);
    const r1 = deal.keyPackages.map((kp) =>
      refreshRound1(suite, { identifier: kp.identifier, threshold: deal.publicPackage.threshold, rng }),
    );
    const broadcast = r1.map((r) => r.package);
    const others = (i: number) => broadcast.filter((_, j) => j !== i);
    return { deal, r1, broadcast, others };
  }

  it('commits to min-1 coefficients (the constant term is zero) and never prints its secret', () => {
    const { r1 } = run(1);
    expect(r1[0]!.package.commitment).toHaveLength(1);
    expect(JSON.stringify(r1[0]!.secret)).toBe('"<redacted>"');
    expect(inspect(r1[0]!.secret)).toContain('<redacted>');
  });

  it('lets a quorum of min parties refresh without the others', () => {
    const { deal, r1, broadcast } = run(2);
    const a = refreshRound2(suite, r1[0]!.secret, [broadcast[1]!]);
    const b = refreshRound2(suite, r1[1]!.secret, [broadcast[0]!]);
    const sa = refreshRound3(suite, a.secret, [broadcast[1]!], [...b.packages]);
    const sb = refreshRound3(suite, b.secret, [broadcast[0]!], [...a.packages]);
    const oa = applyRefresh(suite, deal.keyPackages[0]!, deal.publicPackage, sa);
    const ob = applyRefresh(suite, deal.keyPackages[1]!, deal.publicPackage, sb);
    expect(oa.publicPackage).toEqual(ob.publicPackage);
    expect(oa.publicPackage.threshold).toEqual({ min: 2, max: 2 });
  });

  it('blames senders of malformed commitments and refuses replays and other transcripts', () => {
    const { r1, broadcast, others } = run(3);
    const bad = { ...broadcast[1]!, commitment: [new Uint8Array(32)] };
    const err = errorOf(() => refreshRound2(suite, r1[0]!.secret, [bad, broadcast[2]!]));
    expect(err.code).toBe('INVALID_DEALING');
    expect(err.culprits).toEqual([broadcast[1]!.identifier]);
    const r2 = r1.map((r, i) => refreshRound2(suite, r.secret, others(i)));
    expect(errorOf(() => refreshRound2(suite, r1[0]!.secret, [broadcast[1]!])).code).toBe(
      'INCONSISTENT_TRANSCRIPT',
    );
    const all = r2.flatMap((o) => o.packages);
    const mine = all.filter((p) => p.receiver === broadcast[0]!.identifier);
    expect(errorOf(() => refreshRound3(suite, r2[0]!.secret, [broadcast[1]!], mine)).code).toBe(
      'INCONSISTENT_TRANSCRIPT',
    );
    refreshRound3(suite, r2[0]!.secret, others(0), mine);
    expect(errorOf(() => refreshRound3(suite, r2[0]!.secret, others(0), mine)).code).toBe('ROUND_ORDER');
  });
});
