/** Repair examples: input checks on each step, redaction, a rebuilt key that signs. */
import { describe, expect, it } from 'vitest';
import {
  aggregate,
  ciphersuites,
  commit,
  deriveIdentifier,
  SecretBytes,
  signShare,
  trustedDealer,
  verify,
} from '../index.js';
import { errorOf } from '../test-helpers/errors.js';
import { seededRng } from '../test-helpers/rng.js';
import { repairStep1, repairStep2, repairStep3 } from './repair.js';

const suite = ciphersuites.ed25519;

function setup() {
  const deal = trustedDealer(suite, { min: 2, max: 4 }, { rng: seededRng(1) });
  const [a, b, c, lost] = deal.keyPackages as [
    (typeof deal.keyPackages)[0],
    (typeof deal.keyPackages)[0],
    (typeof deal.keyPackages)[0],
    (typeof deal.keyPackages)[0],
  ];
  const helpers = [a.identifier, c.identifier];
  return { deal, a, b, c, lost, helpers };
}

describe('repair', () => {
  it('rebuilds a key package that signs with the others', () => {
    const { deal, a, b, c, lost, helpers } = setup();
    const rng = seededRng(2);
    const deltas = [a, c].flatMap((h) => repairStep1(suite, helpers, h, lost.identifier, rng));
    expect(deltas).toHaveLength(4);
    expect(JSON.stringify(deltas[0])).toContain('"delta":"<redacted>"');
    const sigmas = [a, c].map((h) =>
      repairStep2(
        suite,
        helpers,
        h,
        deltas.filter((d) => d.receiver === h.identifier),
      ),
    );
    expect(JSON.stringify(sigmas[0])).toContain('"sigma":"<redacted>"');
    const kp = repairStep3(suite, helpers, sigmas, lost.identifier, deal.publicPackage);
    expect(kp.signingShare.expose()).toEqual(lost.signingShare.expose());
    const signers = [kp, b];
    const nonces = signers.map((k) => commit(suite, k, rng));
    const pkg = { commitments: nonces.map((n) => n.commitment), message: new Uint8Array([9]) };
    const shares = signers.map((k, i) => signShare(suite, k, nonces[i]!, pkg, deal.publicPackage));
    const sig = aggregate(suite, pkg, shares, deal.publicPackage);
    expect(verify(suite, deal.publicPackage.groupPublicKey, pkg.message, sig)).toBe(true);
  });

  it('step 1 checks the helper set', () => {
    const { a, b, lost, helpers } = setup();
    expect(errorOf(() => repairStep1(suite, [a.identifier], a, lost.identifier)).code).toBe(
      'INVALID_ARGUMENT',
    );
    expect(errorOf(() => repairStep1(suite, [a.identifier, a.identifier], a, lost.identifier)).code).toBe(
      'DUPLICATE_IDENTIFIER',
    );
    expect(errorOf(() => repairStep1(suite, [a.identifier, lost.identifier], a, lost.identifier)).code).toBe(
      'DUPLICATE_IDENTIFIER',
    );
    expect(errorOf(() => repairStep1(suite, helpers, b, lost.identifier)).code).toBe('INVALID_ARGUMENT');
    expect(errorOf(() => repairStep1(suite, helpers, a, 'zz')).code).toBe('INVALID_IDENTIFIER');
    expect(errorOf(() => repairStep1(ciphersuites.secp256k1, helpers, a, lost.identifier)).code).toBe(
      'CIPHERSUITE_MISMATCH',
    );
  });

  it('step 2 takes exactly one delta from each helper, addressed to it', () => {
    const { a, c, lost, helpers } = setup();
    const rng = seededRng(3);
    const deltas = [a, c].flatMap((h) => repairStep1(suite, helpers, h, lost.identifier, rng));
    const mine = deltas.filter((d) => d.receiver === a.identifier);
    const theirs = deltas.filter((d) => d.receiver === c.identifier);
    expect(errorOf(() => repairStep2(suite, helpers, a, mine.slice(1))).code).toBe('INVALID_ARGUMENT');
    expect(errorOf(() => repairStep2(suite, helpers, a, [mine[0]!, theirs[1]!])).fields).toEqual([
      'deltas[1].receiver',
    ]);
    expect(errorOf(() => repairStep2(suite, helpers, a, [mine[0]!, mine[0]!])).code).toBe(
      'DUPLICATE_IDENTIFIER',
    );
    const overflow = { ...mine[1]!, delta: new SecretBytes(new Uint8Array(32).fill(0xff)) };
    const err = errorOf(() => repairStep2(suite, helpers, a, [mine[0]!, overflow]));
    expect(err.code).toBe('INVALID_SECRET_SHARE');
    expect(err.culprits).toEqual([overflow.sender]);
  });

  it('step 3 checks the sigmas and the identities against the public package', () => {
    const { deal, a, c, lost, helpers } = setup();
    const rng = seededRng(4);
    const deltas = [a, c].flatMap((h) => repairStep1(suite, helpers, h, lost.identifier, rng));
    const sigmas = [a, c].map((h) =>
      repairStep2(
        suite,
        helpers,
        h,
        deltas.filter((d) => d.receiver === h.identifier),
      ),
    );
    const pub = deal.publicPackage;
    expect(errorOf(() => repairStep3(suite, helpers, sigmas.slice(1), lost.identifier, pub)).code).toBe(
      'INVALID_ARGUMENT',
    );
    expect(
      errorOf(() => repairStep3(suite, helpers, [sigmas[0]!, sigmas[0]!], lost.identifier, pub)).code,
    ).toBe('DUPLICATE_IDENTIFIER');
    const stranger = deriveIdentifier(suite, 'mallory');
    expect(errorOf(() => repairStep3(suite, helpers, sigmas, stranger, pub)).code).toBe('UNKNOWN_IDENTIFIER');
    // A sigma for the wrong share: the rebuilt share fails its verifying share.
    const wrong = { ...sigmas[1]!, sigma: sigmas[0]!.sigma };
    expect(errorOf(() => repairStep3(suite, helpers, [sigmas[0]!, wrong], lost.identifier, pub)).code).toBe(
      'INVALID_SECRET_SHARE',
    );
  });

  it('steps 2 and 3 take only parts made for their own helper set, and name the sender of another', () => {
    // A coordinator names helper a the set [a, c] and helper c the set [a, b, c]: c's delta to a is
    // then weighted by c's coefficient over a set a was not given. Summed, such parts are not the
    // lost share but another combination of the helpers' shares (threshold signing review, H1),
    // so neither step takes them.
    const { a, b, c, lost } = setup();
    const rng = seededRng(5);
    const told = { a: [a.identifier, c.identifier], c: [a.identifier, b.identifier, c.identifier] };
    const own = repairStep1(suite, told.a, a, lost.identifier, rng).find((d) => d.receiver === a.identifier)!;
    const fromC = repairStep1(suite, told.c, c, lost.identifier, rng).find(
      (d) => d.receiver === a.identifier,
    )!;
    expect([...fromC.helpers].sort()).toEqual([...told.c].sort());
    const err = errorOf(() => repairStep2(suite, told.a, a, [own, fromC]));
    expect([err.code, err.fields]).toEqual(['INVALID_ARGUMENT', ['deltas[1].helpers']]);
    expect(err.message).toContain(c.identifier);
    // Step 3: a sigma summed over another set is refused the same way.
    const deltas = [a, b, c].flatMap((h) => repairStep1(suite, told.c, h, lost.identifier, rng));
    const sigmas = [a, b, c].map((h) =>
      repairStep2(
        suite,
        told.c,
        h,
        deltas.filter((d) => d.receiver === h.identifier),
      ),
    );
    const pub = setup().deal.publicPackage;
    expect(repairStep3(suite, told.c, sigmas, lost.identifier, pub).signingShare.expose()).toEqual(
      lost.signingShare.expose(),
    );
    const stray = errorOf(() => repairStep3(suite, told.a, [sigmas[0]!, sigmas[2]!], lost.identifier, pub));
    expect([stray.code, stray.fields]).toEqual(['INVALID_ARGUMENT', ['sigmas[0].helpers']]);
  });
});
