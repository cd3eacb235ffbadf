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
  getCiphersuite,
  identifierFromNumber,
  identifierToScalar,
  type KeyPackage,
  loadFastBackends,
  ProtocolError,
  signShare,
  verify,
} from '../index.js';
import { seededRng } from '../test-helpers/rng.js';
import {
  type DkgRound1Package,
  type DkgRound2Package,
  dkgRound1,
  dkgRound2,
  dkgRound3,
  runDkgLocally,
} from './dkg.js';

const hex = (b: Uint8Array) => bytesToHex(b);

const sizeArb = fc
  .record({ seed: fc.integer(), n: fc.integer({ min: 2, max: 7 }), tRaw: fc.nat() })
  .map(({ seed, n, tRaw }) => ({ seed, n, t: 2 + (tRaw % (n - 1)) }));

function differential(suite: AnyCiphersuite, ref: FROST, seed: number, n: number, t: number): void {
  const rngA = seededRng(seed);
  const rngB = seededRng(seed);
  const threshold = { min: t, max: n };
  const ids = Array.from({ length: n }, (_, i) => identifierFromNumber(suite, i + 1));
  const ours = ids.map((identifier) => dkgRound1(suite, { identifier, threshold, rng: rngA }));
  const theirs = ids.map((id) => ref.DKG.round1(id, threshold, undefined, rngB));
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
      fc.property(sizeArb, ({ seed, n, t }) => differential(ciphersuites.ed25519, ed25519_FROST, seed, n, t)),
      { numRuns: 2 },
    );
  });

  it('FROST(Ed25519) libsodium backend == noble ed25519_FROST.DKG', () => {
    const suite = getCiphersuite('FROST-ED25519-SHA512-v1');
    expect(suite.backend).toBe('libsodium');
    fc.assert(
      fc.property(sizeArb, ({ seed, n, t }) => differential(suite, ed25519_FROST, seed, n, t)),
      { numRuns: 3 },
    );
  });

  it('FROST(secp256k1) == noble secp256k1_FROST.DKG', () => {
    fc.assert(
      fc.property(sizeArb, ({ seed, n, t }) => differential(ciphersuites.secp256k1, secp256k1_FROST, seed, n, t)),
      { numRuns: 5 },
    );
  });

  it('FROST(secp256k1-TR) == noble schnorr_FROST.DKG (Taproot-tweaked output)', () => {
    fc.assert(
      fc.property(sizeArb, ({ seed, n, t }) => differential(ciphersuites.secp256k1tr, schnorr_FROST, seed, n, t)),
      { numRuns: 6 },
    );
  });
});
