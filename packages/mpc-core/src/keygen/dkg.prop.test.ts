/**
 * DKG laws and the differential test against noble's own `DKG` (`ed25519_FROST`,
 * `secp256k1_FROST`, `schnorr_FROST`): with one deterministic rng stream consumed in the same
 * order, round-1 packages, round-2 shares and the final keys are the same bytes.
 */
import { createPublicKey, verify as nodeVerify } from 'node:crypto';
import type { FROST } from '@noble/curves/abstract/frost.js';
import { ed25519_FROST } from '@noble/curves/ed25519.js';
import { schnorr, schnorr_FROST, secp256k1_FROST } from '@noble/curves/secp256k1.js';
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  type AnyCiphersuite,
  aggregate,
  bytesToHex,
  ciphersuites,
  commit,
  deriveIdentifier,
  getCiphersuite,
  identifierFromNumber,
  identifierToScalar,
  type KeyPackage,
  loadFastBackends,
  ProtocolError,
  SecretBytes,
  signShare,
  verify,
} from '../index.js';
import { seededRng } from '../test-helpers/rng.js';
import { type DkgRound1Package, type DkgRound2Package, dkgRound1, dkgRound2, dkgRound3 } from './dkg.js';

const hex = (b: Uint8Array) => bytesToHex(b);

const sizeArb = fc
  .record({ seed: fc.integer(), n: fc.integer({ min: 2, max: 7 }), tRaw: fc.nat(), derived: fc.boolean() })
  .map(({ seed, n, tRaw, derived }) => ({ seed, n, t: 2 + (tRaw % (n - 1)), derived }));

function differential(
  suite: AnyCiphersuite,
  ref: FROST,
  { seed, n, t, derived }: { seed: number; n: number; t: number; derived: boolean },
): void {
  const rngA = seededRng(seed);
  const rngB = seededRng(seed);
  const threshold = { min: t, max: n };
  // Derived identifiers (frost-rs Identifier::derive) must agree with noble's too.
  const ids = Array.from({ length: n }, (_, i) =>
    derived ? ref.Identifier.derive(`party ${seed}/${i}`) : identifierFromNumber(suite, i + 1),
  );
  if (derived) expect(ids[0]).toBe(deriveIdentifier(suite, `party ${seed}/0`));
  const ours = ids.map((identifier) => dkgRound1(suite, { identifier, threshold, rng: rngA }));
  const nobleRng = (len?: number) => rngB(len ?? 32) as Uint8Array<ArrayBuffer>;
  const theirs = ids.map((id) => ref.DKG.round1(id, threshold, undefined, nobleRng));
  ours.forEach((o, i) => {
    const r = theirs[i]!.public;
    expect(o.package.identifier).toBe(r.identifier);
    expect(o.package.commitment.map(hex)).toEqual(r.commitment.map(hex));
    expect(hex(o.package.proofOfKnowledge)).toBe(hex(r.proofOfKnowledge));
  });
  const ourOthers = (i: number) => ours.filter((_, j) => j !== i).map((x) => x.package);
  const theirOthers = (i: number) => theirs.filter((_, j) => j !== i).map((x) => x.public);
  const ours2 = ours.map((o, i) => dkgRound2(suite, o.secret, ourOthers(i)));
  const theirs2 = theirs.map((r, i) => ref.DKG.round2(r.secret, theirOthers(i)));
  ours2.forEach((o, i) => {
    expect(o.packages.length).toBe(n - 1);
    for (const p of o.packages) {
      expect(p.sender).toBe(ids[i]);
      expect(hex(p.signingShare.expose())).toBe(hex(theirs2[i]![p.receiver]!.signingShare));
    }
  });
  ids.forEach((id, i) => {
    const inbox = ours2.flatMap((o) => o.packages.filter((p) => p.receiver === id));
    const mine = dkgRound3(suite, ours2[i]!.secret, ourOthers(i), inbox);
    const theirInbox = ids.filter((_, j) => j !== i).map((from) => theirs2[ids.indexOf(from)]![id]!);
    const ref3 = ref.DKG.round3(theirs[i]!.secret, theirOthers(i), theirInbox);
    expect(hex(mine.keyPackage.signingShare.expose())).toBe(hex(ref3.secret.signingShare));
    expect(mine.publicPackage.commitments!.map(hex)).toEqual(ref3.public.commitments.map(hex));
    expect(hex(mine.publicPackage.groupPublicKey)).toBe(hex(ref3.public.commitments[0]!));
    for (const j of ids) {
      expect(hex(mine.publicPackage.verifyingShares[j]!)).toBe(hex(ref3.public.verifyingShares[j]!));
    }
    expect(hex(mine.keyPackage.verifyingShare)).toBe(hex(ref3.public.verifyingShares[id]!));
  });
}

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
  return verify(suite, pk, msg, sig);
}

/** Lagrange interpolation at 0 of the given key packages' shares. */
function interpolate(suite: AnyCiphersuite, kps: readonly KeyPackage[]): bigint {
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
  return acc;
}

describe('DKG differential against noble', () => {
  beforeAll(async () => {
    await loadFastBackends();
  });

  it('FROST(Ed25519) noble backend == noble ed25519_FROST.DKG', () => {
    fc.assert(
      fc.property(sizeArb, (c) => differential(ciphersuites.ed25519, ed25519_FROST, c)),
      { numRuns: 2 },
    );
  });

  it('FROST(Ed25519) libsodium backend == noble ed25519_FROST.DKG', () => {
    const suite = getCiphersuite('FROST-ED25519-SHA512-v1');
    expect(suite.backend).toBe('libsodium');
    fc.assert(
      fc.property(sizeArb, (c) => differential(suite, ed25519_FROST, c)),
      { numRuns: 3 },
    );
  });

  it('FROST(secp256k1) == noble secp256k1_FROST.DKG', () => {
    fc.assert(
      fc.property(sizeArb, (c) => differential(ciphersuites.secp256k1, secp256k1_FROST, c)),
      { numRuns: 3 },
    );
  });

  it('FROST(secp256k1-TR) == noble schnorr_FROST.DKG (Taproot-tweaked output)', () => {
    fc.assert(
      fc.property(sizeArb, (c) => differential(ciphersuites.secp256k1tr, schnorr_FROST, c)),
      { numRuns: 4 },
    );
  });
});

interface PartyRun {
  ids: string[];
  r1: ReturnType<typeof dkgRound1>[];
  broadcast: DkgRound1Package[];
}

function round1All(suite: AnyCiphersuite, ids: string[], t: number, seed: number): PartyRun {
  const rng = seededRng(seed);
  const r1 = ids.map((identifier) =>
    dkgRound1(suite, { identifier, threshold: { min: t, max: ids.length }, rng }),
  );
  return { ids, r1, broadcast: r1.map((r) => r.package) };
}

const othersOf = <T>(xs: readonly T[], i: number) => xs.filter((_, j) => j !== i);

function inboxOf(id: string, packages: readonly DkgRound2Package[]): DkgRound2Package[] {
  return packages.filter((p) => p.receiver === id);
}

const lawArb = fc
  .record({
    seed: fc.integer(),
    n: fc.integer({ min: 2, max: 6 }),
    tRaw: fc.nat(),
    derived: fc.boolean(),
    message: fc.uint8Array({ maxLength: 40 }),
    pickSeed: fc.nat(),
  })
  .chain((r) => {
    const t = 2 + (r.tRaw % (r.n - 1));
    const idx = Array.from({ length: r.n }, (_, i) => i);
    return fc.record({
      seed: fc.constant(r.seed),
      n: fc.constant(r.n),
      t: fc.constant(t),
      derived: fc.constant(r.derived),
      message: fc.constant(r.message),
      subset: fc.shuffledSubarray(idx, { minLength: t, maxLength: r.n }),
      small: fc.shuffledSubarray(idx, { minLength: 1, maxLength: t - 1 }),
      victim: fc.integer({ min: 0, max: r.n - 1 }),
      receiver: fc.integer({ min: 1, max: r.n - 1 }),
      flip: fc.record({ byte: fc.nat(), bit: fc.integer({ min: 0, max: 7 }) }),
    });
  });

function idsFor(suite: AnyCiphersuite, n: number, derived: boolean, seed: number): string[] {
  return Array.from({ length: n }, (_, i) =>
    derived
      ? bytesToHex(suite.field.toBytes(suite.HID(new TextEncoder().encode(`party-${seed}-${i}`))))
      : identifierFromNumber(suite, i + 1),
  );
}

const lawSuites: [string, () => AnyCiphersuite][] = [
  ['FROST(Ed25519, libsodium)', () => getCiphersuite('FROST-ED25519-SHA512-v1')],
  ['FROST(secp256k1)', () => ciphersuites.secp256k1],
  ['FROST(secp256k1-TR)', () => ciphersuites.secp256k1tr],
];

describe.each(lawSuites)('DKG laws: %s', (_name, getSuite) => {
  beforeAll(async () => {
    await loadFastBackends();
  });

  it('every party derives the same group key and verifying shares; t-of-n signs, t-1 cannot reconstruct', () => {
    const suite = getSuite();
    fc.assert(
      fc.property(lawArb, (c) => {
        const ids = idsFor(suite, c.n, c.derived, c.seed);
        const run = round1All(suite, ids, c.t, c.seed);
        const r2 = run.r1.map((r, i) => dkgRound2(suite, r.secret, othersOf(run.broadcast, i)));
        const all = r2.flatMap((o) => o.packages);
        const outs = r2.map((o, i) =>
          dkgRound3(suite, o.secret, othersOf(run.broadcast, i), inboxOf(ids[i]!, all)),
        );
        const pub = outs[0]!.publicPackage;
        expect(Object.keys(pub.verifyingShares).sort()).toEqual([...ids].sort());
        for (const o of outs) {
          expect(hex(o.publicPackage.groupPublicKey)).toBe(hex(pub.groupPublicKey));
          for (const id of ids)
            expect(hex(o.publicPackage.verifyingShares[id]!)).toBe(hex(pub.verifyingShares[id]!));
          expect(hex(o.keyPackage.verifyingShare)).toBe(hex(pub.verifyingShares[o.keyPackage.identifier]!));
          const Y = suite.group.serialize(
            suite.group.mulBase(suite.field.fromBytes(o.keyPackage.signingShare.expose())),
          );
          expect(hex(Y)).toBe(hex(o.keyPackage.verifyingShare));
        }
        const kps = outs.map((o) => o.keyPackage);
        // Any t..n subset signs a signature valid under the group key (independently checked).
        const signers = c.subset.map((i) => kps[i]!);
        const rng = seededRng(c.seed ^ 0x5a5a);
        const nonces = signers.map((kp) => commit(suite, kp, rng));
        const pkg = { commitments: nonces.map((x) => x.commitment), message: c.message };
        const shares = signers.map((kp, i) => signShare(suite, kp, nonces[i]!, pkg, pub));
        const sig = aggregate(suite, pkg, shares, pub);
        expect(verify(suite, pub.groupPublicKey, c.message, sig)).toBe(true);
        expect(independentVerify(suite, pub.groupPublicKey, c.message, sig)).toBe(true);
        // t shares interpolate to the group secret; t-1 do not.
        const key = hex(pub.groupPublicKey);
        const full = interpolate(
          suite,
          c.subset.slice(0, c.t).map((i) => kps[i]!),
        );
        expect(hex(suite.group.serialize(suite.group.mulBase(full)))).toBe(key);
        const part = interpolate(
          suite,
          c.small.map((i) => kps[i]!),
        );
        expect(part === 0n ? '' : hex(suite.group.serialize(suite.group.mulBase(part)))).not.toBe(key);
      }),
      { numRuns: 6 },
    );
  });

  it('a tampered round-1 package names its sender; a tampered round-2 share names its sender', () => {
    const suite = getSuite();
    fc.assert(
      fc.property(lawArb, (c) => {
        const ids = idsFor(suite, c.n, c.derived, c.seed);
        const run = round1All(suite, ids, c.t, c.seed);
        const v = c.victim;
        // Round 1: flip one bit of the victim's proof or one of its commitments.
        const orig = run.broadcast[v]!;
        const parts = [orig.proofOfKnowledge, ...orig.commitment];
        const which = c.flip.byte % parts.length;
        const bad = parts.map((p) => Uint8Array.from(p));
        const target = bad[which]!;
        target[c.flip.byte % target.length]! ^= 1 << c.flip.bit;
        const tampered: DkgRound1Package = {
          identifier: orig.identifier,
          proofOfKnowledge: bad[0]!,
          commitment: bad.slice(1),
        };
        const broadcast = run.broadcast.map((p, i) => (i === v ? tampered : p));
        const honest = (v + c.receiver) % c.n;
        const blame = (f: () => unknown): ProtocolError => {
          try {
            f();
          } catch (e) {
            expect(e).toBeInstanceOf(ProtocolError);
            return e as ProtocolError;
          }
          throw new Error('expected a ProtocolError');
        };
        let err: ProtocolError | undefined;
        try {
          const out = dkgRound2(suite, run.r1[honest]!.secret, othersOf(broadcast, honest));
          // Only a higher coefficient commitment flipped into another valid point passes round 2
          // (the proof covers C_0 alone); round 3 then catches it against the share.
          expect(which).toBeGreaterThan(1);
          const r2 = run.r1.map((r, i) =>
            i === honest ? out : dkgRound2(suite, r.secret, othersOf(run.broadcast, i)),
          );
          const all = r2.flatMap((o) => o.packages);
          err = blame(() =>
            dkgRound3(suite, out.secret, othersOf(broadcast, honest), inboxOf(ids[honest]!, all)),
          );
          expect(err.code).toBe('INVALID_SECRET_SHARE');
        } catch (e) {
          if (!(e instanceof ProtocolError)) throw e;
          err = e;
          expect(err.code).toBe('INVALID_PROOF_OF_KNOWLEDGE');
        }
        expect(err.culprits).toEqual([ids[v]]);

        // Round 2 (honest round 1): the victim sends the receiver a wrong share.
        const fresh = round1All(suite, ids, c.t, c.seed + 1);
        const r2 = fresh.r1.map((r, i) => dkgRound2(suite, r.secret, othersOf(fresh.broadcast, i)));
        const to = ids[honest]!;
        const all = r2.flatMap((o) =>
          o.packages.map((p) => {
            if (p.sender !== ids[v] || p.receiver !== to) return p;
            const bytes = Uint8Array.from(p.signingShare.expose());
            bytes[c.flip.byte % bytes.length]! ^= 1 << c.flip.bit;
            return { ...p, signingShare: new SecretBytes(bytes) };
          }),
        );
        const err3 = blame(() =>
          dkgRound3(suite, r2[honest]!.secret, othersOf(fresh.broadcast, honest), inboxOf(to, all)),
        );
        expect(err3.code).toBe('INVALID_SECRET_SHARE');
        expect(err3.culprits).toEqual([ids[v]]);
      }),
      { numRuns: 8 },
    );
  });
});
