/**
 * Refresh laws, for dealer- and DKG-made keys and both refresh styles: the group key stays, every
 * verifying share changes, any t refreshed shares sign, and old shares mixed with new ones neither
 * sign nor reconstruct.
 */
import { createPublicKey, verify as nodeVerify } from 'node:crypto';
import { schnorr } from '@noble/curves/secp256k1.js';
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  type AnyCiphersuite,
  aggregate,
  bytesToHex,
  ciphersuites,
  commit,
  getCiphersuite,
  identifierFromNumber,
  identifierToScalar,
  type KeyPackage,
  loadFastBackends,
  ProtocolError,
  type PublicKeyPackage,
  SecretBytes,
  signShare,
  trustedDealer,
} from '../index.js';
import { seededRng } from '../test-helpers/rng.js';
import { runDkgLocally } from './dkg.js';
import {
  applyRefresh,
  type RefreshRound2Package,
  type RefreshShare,
  refreshDealer,
  refreshRound1,
  refreshRound2,
  refreshRound3,
} from './refresh.js';

const hex = (b: Uint8Array) => bytesToHex(b);

function independentVerify(suite: AnyCiphersuite, pk: Uint8Array, msg: Uint8Array, sig: Uint8Array): boolean {
  if (suite.id === 'FROST-ED25519-SHA512-v1') {
    const key = createPublicKey({
      key: Buffer.concat([Buffer.from('302a300506032b6570032100', 'hex'), pk]),
      format: 'der',
      type: 'spki',
    });
    return nodeVerify(null, msg, key, sig);
  }
  if (suite.id === 'FROST-secp256k1-SHA256-TR-v1') return schnorr.verify(sig, msg, pk.subarray(1));
  return suite.verifySignature(pk, msg, sig);
}

function groupKeyOf(suite: AnyCiphersuite, kps: readonly KeyPackage[]): string {
  const F = suite.field;
  const xs = kps.map((kp) => identifierToScalar(suite, kp.identifier));
  let acc = 0n;
  kps.forEach((kp, i) => {
    let num = 1n;
    let den = 1n;
    xs.forEach((x, j) => {
      if (j === i) return;
      num = F.mul(num, x);
      den = F.mul(den, F.sub(x, xs[i]!));
    });
    acc = F.add(acc, F.mul(F.fromBytes(kp.signingShare.expose()), F.mul(num, F.inv(den))));
  });
  return acc === 0n ? '' : hex(suite.group.serialize(suite.group.mulBase(acc)));
}

/** Sign with `kps` under `pub`; returns the signature or the blaming error. */
function trySign(
  suite: AnyCiphersuite,
  kps: readonly KeyPackage[],
  pub: PublicKeyPackage,
  msg: Uint8Array,
  seed: number,
) {
  const rng = seededRng(seed);
  const nonces = kps.map((kp) => commit(suite, kp, rng));
  const pkg = { commitments: nonces.map((n) => n.commitment), message: msg };
  const shares = kps.map((kp, i) => signShare(suite, kp, nonces[i]!, pkg, pub));
  try {
    return { sig: aggregate(suite, pkg, shares, pub) };
  } catch (e) {
    if (e instanceof ProtocolError) return { err: e };
    throw e;
  }
}

function distributedRefresh(
  suite: AnyCiphersuite,
  kps: readonly KeyPackage[],
  pub: PublicKeyPackage,
  seed: number,
  tamper?: (p: RefreshRound2Package) => RefreshRound2Package,
): RefreshShare[] {
  const rng = seededRng(seed);
  const r1 = kps.map((kp) =>
    refreshRound1(suite, { identifier: kp.identifier, threshold: pub.threshold, rng }),
  );
  const broadcast = r1.map((r) => r.package);
  const others = (i: number) => broadcast.filter((_, j) => j !== i);
  const r2 = r1.map((r, i) => refreshRound2(suite, r.secret, others(i)));
  const all = r2.flatMap((o) => o.packages).map((p) => (tamper ? tamper(p) : p));
  return r2.map((o, i) =>
    refreshRound3(
      suite,
      o.secret,
      others(i),
      all.filter((p) => p.receiver === kps[i]!.identifier),
    ),
  );
}

const caseArb = fc
  .record({
    seed: fc.integer(),
    n: fc.integer({ min: 2, max: 6 }),
    tRaw: fc.nat(),
    dkg: fc.boolean(),
    distributed: fc.boolean(),
    message: fc.uint8Array({ maxLength: 32 }),
  })
  .chain((r) => {
    const t = 2 + (r.tRaw % (r.n - 1));
    const idx = Array.from({ length: r.n }, (_, i) => i);
    return fc.record({
      ...Object.fromEntries(Object.entries(r).map(([k, v]) => [k, fc.constant(v)])),
      t: fc.constant(t),
      signers: fc.shuffledSubarray(idx, { minLength: t, maxLength: t }),
      oldCount: fc.integer({ min: 1, max: t - 1 }),
      victim: fc.nat(),
    }) as fc.Arbitrary<typeof r & { t: number; signers: number[]; oldCount: number; victim: number }>;
  });

const suites: [string, () => AnyCiphersuite][] = [
  ['FROST(Ed25519, libsodium)', () => getCiphersuite('FROST-ED25519-SHA512-v1')],
  ['FROST(secp256k1-TR)', () => ciphersuites.secp256k1tr],
];

describe.each(suites)('refresh laws: %s', (_name, getSuite) => {
  beforeAll(async () => {
    await loadFastBackends();
  });

  it('keeps the group key, changes every verifying share; new shares sign, old+new do not', () => {
    const suite = getSuite();
    fc.assert(
      fc.property(caseArb, (c) => {
        const threshold = { min: c.t, max: c.n };
        const ids = Array.from({ length: c.n }, (_, i) => identifierFromNumber(suite, i + 1));
        const made = c.dkg
          ? runDkgLocally(suite, { identifiers: ids, threshold, rng: seededRng(c.seed) })
          : trustedDealer(suite, threshold, { rng: seededRng(c.seed) });
        const old = made.keyPackages;
        const pub = made.publicPackage;
        const shares = c.distributed
          ? distributedRefresh(suite, old, pub, c.seed + 1)
          : refreshDealer(suite, pub, ids, seededRng(c.seed + 1)).shares;
        const outs = old.map((kp, i) => applyRefresh(suite, kp, pub, shares[i]!));
        const newPub = outs[0]!.publicPackage;
        expect(hex(newPub.groupPublicKey)).toBe(hex(pub.groupPublicKey));
        for (const o of outs) {
          expect(o.publicPackage.verifyingShares).toEqual(newPub.verifyingShares);
          expect(o.keyPackage.verifyingShare).toEqual(newPub.verifyingShares[o.keyPackage.identifier]);
        }
        for (const id of ids)
          expect(hex(newPub.verifyingShares[id]!)).not.toBe(hex(pub.verifyingShares[id]!));
        const fresh = outs.map((o) => o.keyPackage);
        for (const [i, kp] of fresh.entries()) {
          expect(hex(kp.signingShare.expose())).not.toBe(hex(old[i]!.signingShare.expose()));
        }
        // Any t refreshed shares sign under the unchanged key.
        const group = c.signers.map((i) => fresh[i]!);
        const ok = trySign(suite, group, newPub, c.message, c.seed);
        expect(ok.sig).toBeDefined();
        expect(independentVerify(suite, pub.groupPublicKey, c.message, ok.sig!)).toBe(true);
        expect(groupKeyOf(suite, group)).toBe(hex(pub.groupPublicKey));
        // Mixing old and new shares: the old ones are named, and the mix reconstructs nothing.
        const mixed = c.signers.map((i, k) => (k < c.oldCount ? old[i]! : fresh[i]!));
        const bad = trySign(suite, mixed, newPub, c.message, c.seed);
        expect(bad.err?.code).toBe('INVALID_SIGNATURE_SHARE');
        expect([...bad.err!.culprits].sort()).toEqual(
          mixed
            .slice(0, c.oldCount)
            .map((kp) => kp.identifier)
            .sort(),
        );
        expect(groupKeyOf(suite, mixed)).not.toBe(hex(pub.groupPublicKey));
      }),
      { numRuns: 8 },
    );
  });

  it('a tampered share of zero names its sender; a bad dealer share is refused', () => {
    const suite = getSuite();
    fc.assert(
      fc.property(caseArb, (c) => {
        const threshold = { min: c.t, max: c.n };
        const deal = trustedDealer(suite, threshold, { rng: seededRng(c.seed) });
        const ids = deal.keyPackages.map((k) => k.identifier);
        const from = ids[c.victim % c.n]!;
        const to = ids[(c.victim + 1) % c.n]!;
        const bump = (s: SecretBytes) =>
          new SecretBytes(suite.field.toBytes(suite.field.add(suite.field.fromBytes(s.expose()), 1n)));
        let err: unknown;
        try {
          distributedRefresh(suite, deal.keyPackages, deal.publicPackage, c.seed, (p) =>
            p.sender === from && p.receiver === to ? { ...p, zeroShare: bump(p.zeroShare) } : p,
          );
        } catch (e) {
          err = e;
        }
        expect(err).toBeInstanceOf(ProtocolError);
        expect((err as ProtocolError).code).toBe('INVALID_SECRET_SHARE');
        expect((err as ProtocolError).culprits).toEqual([from]);
        const dealt = refreshDealer(suite, deal.publicPackage, ids, seededRng(c.seed));
        const i = c.victim % c.n;
        const forged = { ...dealt.shares[i]!, zeroShare: bump(dealt.shares[i]!.zeroShare) };
        expect(() => applyRefresh(suite, deal.keyPackages[i]!, deal.publicPackage, forged)).toThrow(
          expect.objectContaining({ code: 'INVALID_SECRET_SHARE' }),
        );
      }),
      { numRuns: 6 },
    );
  });
});
