/**
 * Differential tests: our FROST against @noble/curves' own `ed25519_FROST`, `secp256k1_FROST` and
 * `schnorr_FROST` on random keys, messages and signer sets. Both consume one deterministic rng
 * stream in the same order, so every output must be the same bytes.
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
  loadFastBackends,
  signShare,
  trustedDealer,
  verify,
} from '../index.js';
import { seededRng } from '../test-helpers/rng.js';

const hex = (b: Uint8Array) => bytesToHex(b);

interface Case {
  seed: number;
  n: number;
  t: number;
  pick: number[];
  message: Uint8Array;
}

const caseArb = fc
  .record({ seed: fc.integer(), n: fc.integer({ min: 2, max: 6 }), tRaw: fc.integer({ min: 0, max: 100 }) })
  .chain(({ seed, n, tRaw }) => {
    const t = 2 + (tRaw % (n - 1));
    return fc.record({
      seed: fc.constant(seed),
      n: fc.constant(n),
      t: fc.constant(t),
      pick: fc.shuffledSubarray(
        Array.from({ length: n }, (_, i) => i),
        { minLength: t, maxLength: n },
      ),
      message: fc.uint8Array({ minLength: 0, maxLength: 64 }),
    });
  });

function runBoth(suite: AnyCiphersuite, ref: FROST, c: Case) {
  const rngA = seededRng(c.seed);
  const rngB = seededRng(c.seed) as unknown as NonNullable<Parameters<FROST['commit']>[1]>;
  const threshold = { min: c.t, max: c.n };
  const ours = trustedDealer(suite, threshold, { rng: rngA });
  const theirs = ref.trustedDealer(threshold, undefined, undefined, rngB);
  expect(hex(ours.publicPackage.groupPublicKey)).toBe(hex(theirs.public.commitments[0]!));
  for (const kp of ours.keyPackages) {
    expect(hex(kp.signingShare.expose())).toBe(hex(theirs.secretShares[kp.identifier]!.signingShare));
    expect(hex(kp.verifyingShare)).toBe(hex(theirs.public.verifyingShares[kp.identifier]!));
  }
  const signers = [...c.pick].sort((a, b) => a - b).map((i) => ours.keyPackages[i]!);
  const oursNonces = signers.map((kp) => commit(suite, kp, rngA));
  const theirNonces = signers.map((kp) => ref.commit(theirs.secretShares[kp.identifier]!, rngB));
  oursNonces.forEach((nn, i) => {
    expect(hex(nn.commitment.hiding)).toBe(hex(theirNonces[i]!.commitments.hiding));
    expect(hex(nn.commitment.binding)).toBe(hex(theirNonces[i]!.commitments.binding));
  });
  const pkg = { commitments: oursNonces.map((x) => x.commitment), message: c.message };
  const shares = signers.map((kp, i) => signShare(suite, kp, oursNonces[i]!, pkg, ours.publicPackage));
  const theirShares: Record<string, Uint8Array> = {};
  const commitmentList = theirNonces.map((x) => x.commitments);
  signers.forEach((kp, i) => {
    theirShares[kp.identifier] = ref.signShare(
      theirs.secretShares[kp.identifier]!,
      theirs.public,
      theirNonces[i]!.nonces,
      commitmentList,
      c.message,
    );
    expect(hex(shares[i]!.share)).toBe(hex(theirShares[kp.identifier]!));
  });
  const sig = aggregate(suite, pkg, shares, ours.publicPackage);
  const theirSig = ref.aggregate(theirs.public, commitmentList, c.message, theirShares);
  expect(hex(sig)).toBe(hex(theirSig));
  expect(verify(suite, ours.publicPackage.groupPublicKey, c.message, sig)).toBe(true);
  return { sig, groupPublicKey: ours.publicPackage.groupPublicKey };
}

const ed25519Spki = (pk: Uint8Array) =>
  createPublicKey({
    key: Buffer.concat([Buffer.from('302a300506032b6570032100', 'hex'), pk]),
    format: 'der',
    type: 'spki',
  });

describe('differential against noble FROST', () => {
  beforeAll(async () => {
    await loadFastBackends();
  });

  it('FROST(Ed25519) noble backend == noble ed25519_FROST, and OpenSSL verifies', () => {
    fc.assert(
      fc.property(caseArb, (c) => {
        const { sig, groupPublicKey } = runBoth(ciphersuites.ed25519, ed25519_FROST, c);
        expect(nodeVerify(null, c.message, ed25519Spki(groupPublicKey), sig)).toBe(true);
      }),
      { numRuns: 12 },
    );
  });

  it('FROST(Ed25519) libsodium backend == noble ed25519_FROST', () => {
    const suite = getCiphersuite('FROST-ED25519-SHA512-v1');
    expect(suite.backend).toBe('libsodium');
    fc.assert(
      fc.property(caseArb, (c) => {
        const { sig, groupPublicKey } = runBoth(suite, ed25519_FROST, c);
        expect(nodeVerify(null, c.message, ed25519Spki(groupPublicKey), sig)).toBe(true);
      }),
      { numRuns: 25 },
    );
  });

  it('FROST(secp256k1) == noble secp256k1_FROST', () => {
    fc.assert(
      fc.property(caseArb, (c) => {
        runBoth(ciphersuites.secp256k1, secp256k1_FROST, c);
      }),
      { numRuns: 6 },
    );
  });

  it('FROST(secp256k1-TR) == noble schnorr_FROST, and BIP-340 verifies', () => {
    fc.assert(
      fc.property(caseArb, (c) => {
        const { sig, groupPublicKey } = runBoth(ciphersuites.secp256k1tr, schnorr_FROST, c);
        expect(sig.length).toBe(64);
        expect(schnorr.verify(sig, c.message, groupPublicKey.subarray(1))).toBe(true);
      }),
      { numRuns: 8 },
    );
  });
});

/**
 * A 33-byte group key is a compressed point: with a prefix other than 0x02 or 0x03 it is no key,
 * and `verify` says false for it, as noble's schnorr_FROST does, whatever the prefix byte.
 */
describe('FROST(secp256k1-TR) verify: the group key prefix', () => {
  it('a valid signature under a key with any other first byte is refused, by both', () => {
    const suite = ciphersuites.secp256k1tr;
    const rng = seededRng(5);
    const { publicPackage, keyPackages } = trustedDealer(suite, { min: 2, max: 3 }, { rng });
    const msg = new Uint8Array([1, 2, 3]);
    const nonces = keyPackages.slice(0, 2).map((kp) => commit(suite, kp, rng));
    const pkg = { commitments: nonces.map((n) => n.commitment), message: msg };
    const shares = keyPackages
      .slice(0, 2)
      .map((kp, i) => signShare(suite, kp, nonces[i]!, pkg, publicPackage));
    const sig = aggregate(suite, pkg, shares, publicPackage);
    expect(verify(suite, publicPackage.groupPublicKey, msg, sig)).toBe(true);
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 255 }).filter((b) => b !== 2 && b !== 3),
        (prefix) => {
          const key = Uint8Array.from(publicPackage.groupPublicKey);
          key[0] = prefix;
          let noble: boolean;
          try {
            noble = schnorr_FROST.verify(sig, msg, key);
          } catch {
            noble = false;
          }
          expect(noble).toBe(false);
          expect(verify(suite, key, msg, sig)).toBe(false);
        },
      ),
      { numRuns: 40 },
    );
  });
});
