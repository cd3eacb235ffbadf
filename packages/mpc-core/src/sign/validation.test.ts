/** Bad input to the signing rounds: typed errors naming the field, never a wrong signature. */
import { ED25519_TORSION_SUBGROUP, ed25519 } from '@noble/curves/ed25519.js';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  AapsError,
  type AnyCiphersuite,
  aggregate,
  ciphersuites,
  commit,
  getCiphersuite,
  hexToBytes,
  loadFastBackends,
  type Round1Commitment,
  signShare,
  trustedDealer,
  verifyShare,
} from '../index.js';
import { seededRng } from '../test-helpers/rng.js';

function codeOf(f: () => unknown): string {
  try {
    f();
  } catch (e) {
    expect(e).toBeInstanceOf(AapsError);
    return (e as AapsError).code;
  }
  throw new Error('expected an error');
}

function fieldsOf(f: () => unknown): readonly string[] {
  try {
    f();
  } catch (e) {
    return (e as { fields?: readonly string[] }).fields ?? [];
  }
  return [];
}

describe.each([
  ['noble', () => ciphersuites.ed25519],
  ['libsodium', () => getCiphersuite('FROST-ED25519-SHA512-v1')],
] as [string, () => AnyCiphersuite][])('signing input validation (%s)', (_n, getSuite) => {
  beforeAll(loadFastBackends);
  const setup = () => {
    const suite = getSuite();
    const rng = seededRng(7);
    const deal = trustedDealer(suite, { min: 3, max: 5 }, { rng });
    const kps = deal.keyPackages.slice(0, 3);
    const nonces = kps.map((kp) => commit(suite, kp, rng));
    const message = new TextEncoder().encode('approve incident 42');
    return { suite, deal, kps, nonces, message, commitments: nonces.map((n) => n.commitment) };
  };

  it('refuses a second use of the same nonces (NONCE_REUSE)', () => {
    const { suite, deal, kps, nonces, message, commitments } = setup();
    signShare(suite, kps[0]!, nonces[0]!, { commitments, message }, deal.publicPackage);
    expect(
      codeOf(() => signShare(suite, kps[0]!, nonces[0]!, { commitments, message }, deal.publicPackage)),
    ).toBe('NONCE_REUSE');
  });

  it('refuses a package without its own commitment, or with a different one', () => {
    const { suite, deal, kps, nonces, message, commitments } = setup();
    const others = [...commitments.slice(1), commit(suite, deal.keyPackages[3]!).commitment];
    expect(
      codeOf(() =>
        signShare(suite, kps[0]!, nonces[0]!, { commitments: others, message }, deal.publicPackage),
      ),
    ).toBe('MISSING_OWN_COMMITMENT');
    const swapped: Round1Commitment[] = [
      { ...commitments[0]!, hiding: commitments[1]!.hiding },
      ...commitments.slice(1),
    ];
    expect(
      codeOf(() =>
        signShare(suite, kps[0]!, nonces[0]!, { commitments: swapped, message }, deal.publicPackage),
      ),
    ).toBe('COMMITMENT_MISMATCH');
  });

  it('refuses duplicate, unknown and malformed identifiers', () => {
    const { suite, deal, kps, nonces, message, commitments } = setup();
    const dup = [...commitments, commitments[1]!];
    expect(
      codeOf(() => signShare(suite, kps[0]!, nonces[0]!, { commitments: dup, message }, deal.publicPackage)),
    ).toBe('DUPLICATE_IDENTIFIER');
    const unknownId = `${'09'}${'00'.repeat(31)}`;
    const unknown = [...commitments, { ...commitments[1]!, identifier: unknownId }];
    expect(
      codeOf(() =>
        signShare(suite, kps[0]!, nonces[0]!, { commitments: unknown, message }, deal.publicPackage),
      ),
    ).toBe('UNKNOWN_IDENTIFIER');
    const zero = [...commitments, { ...commitments[1]!, identifier: '00'.repeat(32) }];
    expect(
      codeOf(() => signShare(suite, kps[0]!, nonces[0]!, { commitments: zero, message }, deal.publicPackage)),
    ).toBe('INVALID_IDENTIFIER');
    const nonCanonical = [...commitments, { ...commitments[1]!, identifier: 'ff'.repeat(32) }];
    expect(
      codeOf(() =>
        signShare(suite, kps[0]!, nonces[0]!, { commitments: nonCanonical, message }, deal.publicPackage),
      ),
    ).toBe('INVALID_IDENTIFIER');
  });

  it('refuses identity, small-order, torsioned, non-canonical and short points, naming the field', () => {
    const { suite, deal, kps, nonces, message, commitments } = setup();
    const torsioned = ed25519.Point.fromBytes(commitments[1]!.binding)
      .add(ed25519.Point.fromHex(ED25519_TORSION_SUBGROUP[2]!))
      .toBytes();
    const bad: [string, Uint8Array, string][] = [
      ['identity', hexToBytes(`01${'00'.repeat(31)}`), 'INVALID_POINT'],
      ['small order', hexToBytes(ED25519_TORSION_SUBGROUP[1]!), 'INVALID_POINT'],
      ['torsion component', torsioned, 'INVALID_POINT'],
      ['non-canonical y >= p', hexToBytes(`ee${'ff'.repeat(30)}7f`), 'INVALID_POINT'],
      ['short', new Uint8Array(31), 'INVALID_LENGTH'],
    ];
    for (const [, point, code] of bad) {
      const cs = [commitments[0]!, { ...commitments[1]!, binding: point }, commitments[2]!];
      const f = () => signShare(suite, kps[0]!, nonces[0]!, { commitments: cs, message }, deal.publicPackage);
      expect(codeOf(f)).toBe(code);
      expect(fieldsOf(f).join()).toMatch(/binding/);
      // The failed attempt did not consume the nonces: the honest package still signs.
      expect(nonces[0]!.hiding.wiped).toBe(false);
    }
  });

  it('refuses too many signers and a non-canonical share at aggregation', () => {
    const { suite, deal, kps, nonces, message, commitments } = setup();
    const shares = kps.map((kp, i) =>
      signShare(suite, kp, nonces[i]!, { commitments, message }, deal.publicPackage),
    );
    const big = { identifier: shares[0]!.identifier, share: hexToBytes('ff'.repeat(32)) };
    try {
      aggregate(suite, { commitments, message }, [big, ...shares.slice(1)], deal.publicPackage);
      expect.unreachable();
    } catch (e) {
      expect((e as AapsError).code).toBe('INVALID_SIGNATURE_SHARE');
      expect((e as { culprits: string[] }).culprits).toEqual([shares[0]!.identifier]);
    }
    const small = trustedDealer(suite, { min: 2, max: 3 });
    const smallNonces = small.keyPackages.map((kp) => commit(suite, kp));
    const fourth = { ...commitments[0]!, identifier: `04${'00'.repeat(31)}` };
    const tooMany = { commitments: [...smallNonces.map((x) => x.commitment), fourth], message };
    expect(
      codeOf(() => signShare(suite, small.keyPackages[0]!, smallNonces[0]!, tooMany, small.publicPackage)),
    ).toBe('TOO_MANY_SIGNERS');
  });

  it('refuses a key package of another ciphersuite', () => {
    const { deal, nonces, message, commitments } = setup();
    expect(
      codeOf(() =>
        signShare(
          ciphersuites.secp256k1,
          deal.keyPackages[0]!,
          nonces[0]!,
          { commitments, message },
          deal.publicPackage,
        ),
      ),
    ).toBe('CIPHERSUITE_MISMATCH');
  });
});

/**
 * `signShare` takes nonces only together with the commitment they make: zero nonces (bytes wiped
 * in place, without marking them wiped) would give lambda*c*s, the signing share itself, and nonces
 * carrying another round's commitment would sign under it and again under their own.
 */
describe('signShare: nonces that do not make their commitment', () => {
  for (const suite of Object.values(ciphersuites) as AnyCiphersuite[]) {
    const rng = seededRng(41);
    const { publicPackage, keyPackages } = trustedDealer(suite, { min: 2, max: 3 }, { rng });
    const [alice, bob] = [keyPackages[0]!, keyPackages[1]!];
    const pkg = (mine: Round1Commitment) => ({
      commitments: [mine, commit(suite, bob, rng).commitment],
      message: new Uint8Array([7]),
    });

    it(`${suite.id}: zeroed nonce bytes are NONCE_REUSE`, () => {
      const nonces = commit(suite, alice, rng);
      nonces.hiding.expose().fill(0);
      nonces.binding.expose().fill(0);
      expect(codeOf(() => signShare(suite, alice, nonces, pkg(nonces.commitment), publicPackage))).toBe(
        'NONCE_REUSE',
      );
      const one = commit(suite, alice, rng);
      one.binding.expose().fill(0);
      expect(codeOf(() => signShare(suite, alice, one, pkg(one.commitment), publicPackage))).toBe(
        'NONCE_REUSE',
      );
    });

    it(`${suite.id}: nonces carrying another round's commitment are COMMITMENT_MISMATCH`, () => {
      const a = commit(suite, alice, rng);
      const b = commit(suite, alice, rng);
      const mixed = { hiding: a.hiding, binding: a.binding, commitment: b.commitment };
      expect(codeOf(() => signShare(suite, alice, mixed, pkg(b.commitment), publicPackage))).toBe(
        'COMMITMENT_MISMATCH',
      );
      // Not used up by the refusal: with their own commitment they still sign, once.
      expect(signShare(suite, alice, a, pkg(a.commitment), publicPackage).share.length).toBeGreaterThan(0);
    });
  }
});

/** A malformed commitment entry is the package's fault, named alike by aggregate and verifyShare. */
describe('aggregate: a malformed signing package is named as the package field', () => {
  const suite = ciphersuites.ed25519 as AnyCiphersuite;
  const rng = seededRng(43);
  const { publicPackage, keyPackages } = trustedDealer(suite, { min: 2, max: 3 }, { rng });
  const nonces = keyPackages.slice(0, 2).map((kp) => commit(suite, kp, rng));
  const good = { commitments: nonces.map((n) => n.commitment), message: new Uint8Array([1]) };
  const share = signShare(suite, keyPackages[1]!, nonces[1]!, good, publicPackage);
  for (const [label, entry] of [
    ['a null entry', null],
    ['a numeric identifier', { ...nonces[0]!.commitment, identifier: 1 }],
  ] as const) {
    it(label, () => {
      const pkg = { commitments: [entry as never, nonces[1]!.commitment], message: good.message };
      const fields = fieldsOf(() => aggregate(suite, pkg, [share], publicPackage));
      expect(fields[0]).toMatch(/^signingPackage\.commitments\[0\]/);
      expect(fields).toEqual(fieldsOf(() => verifyShare(suite, pkg, share, publicPackage)));
    });
  }
});
