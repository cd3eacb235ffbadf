/** Laws of threshold signing, over every ciphersuite. */
import { createPublicKey, verify as nodeVerify } from 'node:crypto';
import { schnorr } from '@noble/curves/secp256k1.js';
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  type AnyCiphersuite,
  aggregate,
  ciphersuites,
  commit,
  getCiphersuite,
  loadFastBackends,
  ProtocolError,
  type SignatureShare,
  signShare,
  trustedDealer,
  ValidationError,
  verify,
} from '../index.js';
import { seededRng } from '../test-helpers/rng.js';

const setupArb = fc
  .record({ seed: fc.integer(), n: fc.integer({ min: 2, max: 7 }), tRaw: fc.nat() })
  .chain(({ seed, n, tRaw }) => {
    const t = 2 + (tRaw % (n - 1));
    const ids = Array.from({ length: n }, (_, i) => i);
    return fc.record({
      seed: fc.constant(seed),
      n: fc.constant(n),
      t: fc.constant(t),
      subset: fc.shuffledSubarray(ids, { minLength: t, maxLength: n }),
      small: fc.shuffledSubarray(ids, { minLength: 1, maxLength: t - 1 }),
      message: fc.uint8Array({ maxLength: 48 }),
      flip: fc.record({ who: fc.nat(), byte: fc.nat(), bit: fc.integer({ min: 0, max: 7 }) }),
    });
  });

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

function sign(suite: AnyCiphersuite, seed: number, n: number, t: number, who: number[], message: Uint8Array) {
  const rng = seededRng(seed);
  const deal = trustedDealer(suite, { min: t, max: n }, { rng });
  const kps = who.map((i) => deal.keyPackages[i]!);
  const nonces = kps.map((kp) => commit(suite, kp, rng));
  const pkg = { commitments: nonces.map((x) => x.commitment), message };
  return { deal, kps, nonces, pkg };
}

const suites: [string, () => AnyCiphersuite][] = [
  ['ed25519 (libsodium)', () => getCiphersuite('FROST-ED25519-SHA512-v1')],
  ['secp256k1', () => ciphersuites.secp256k1],
  ['secp256k1-tr', () => ciphersuites.secp256k1tr],
];

describe.each(suites)('signing laws: %s', (_name, getSuite) => {
  beforeAll(loadFastBackends);

  it('any t-of-n subset yields a signature valid under the group key (and to an independent verifier)', () => {
    const suite = getSuite();
    fc.assert(
      fc.property(setupArb, ({ seed, n, t, subset, message }) => {
        const { deal, kps, nonces, pkg } = sign(suite, seed, n, t, subset, message);
        const shares = kps.map((kp, i) => signShare(suite, kp, nonces[i]!, pkg, deal.publicPackage));
        const sig = aggregate(suite, pkg, shares, deal.publicPackage);
        expect(independentVerify(suite, deal.publicPackage.groupPublicKey, message, sig)).toBe(true);
      }),
      { numRuns: 10 },
    );
  });

  it('fewer than t signers cannot sign: every round refuses with TOO_FEW_SIGNERS', () => {
    const suite = getSuite();
    fc.assert(
      fc.property(setupArb, ({ seed, n, t, small, message }) => {
        const { deal, kps, nonces, pkg } = sign(suite, seed, n, t, small, message);
        const err = (() => {
          try {
            signShare(suite, kps[0]!, nonces[0]!, pkg, deal.publicPackage);
          } catch (e) {
            return e;
          }
        })();
        expect(err).toBeInstanceOf(ValidationError);
        expect((err as ValidationError).code).toBe('TOO_FEW_SIGNERS');
      }),
      { numRuns: 10 },
    );
  });

  it('a flipped bit in any share is caught and its sender named', () => {
    const suite = getSuite();
    fc.assert(
      fc.property(setupArb, ({ seed, n, t, subset, message, flip }) => {
        const { deal, kps, nonces, pkg } = sign(suite, seed, n, t, subset, message);
        const shares: SignatureShare[] = kps.map((kp, i) =>
          signShare(suite, kp, nonces[i]!, pkg, deal.publicPackage),
        );
        const who = flip.who % shares.length;
        const bad = Uint8Array.from(shares[who]!.share);
        bad[flip.byte % bad.length]! ^= 1 << flip.bit;
        shares[who] = { identifier: shares[who]!.identifier, share: bad };
        try {
          aggregate(suite, pkg, shares, deal.publicPackage);
          expect.unreachable('aggregate accepted a corrupted share');
        } catch (e) {
          expect(e).toBeInstanceOf(ProtocolError);
          expect((e as ProtocolError).code).toBe('INVALID_SIGNATURE_SHARE');
          expect((e as ProtocolError).culprits).toEqual([shares[who]!.identifier]);
        }
      }),
      { numRuns: 10 },
    );
  });

  it('a tampered signature or message fails verification', () => {
    const suite = getSuite();
    fc.assert(
      fc.property(
        setupArb,
        fc.nat(),
        fc.integer({ min: 0, max: 7 }),
        ({ seed, n, t, subset, message }, pos, bit) => {
          const { deal, kps, nonces, pkg } = sign(suite, seed, n, t, subset, message);
          const shares = kps.map((kp, i) => signShare(suite, kp, nonces[i]!, pkg, deal.publicPackage));
          const sig = aggregate(suite, pkg, shares, deal.publicPackage);
          const bad = Uint8Array.from(sig);
          bad[pos % bad.length]! ^= 1 << bit;
          expect(verify(suite, deal.publicPackage.groupPublicKey, message, bad)).toBe(false);
          const otherMsg = Uint8Array.from([...message, 1]);
          expect(verify(suite, deal.publicPackage.groupPublicKey, otherMsg, sig)).toBe(false);
        },
      ),
      { numRuns: 10 },
    );
  });
});
