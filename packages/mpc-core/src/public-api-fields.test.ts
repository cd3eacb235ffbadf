/**
 * From a library review, following docs/mpc-core.md, "Errors": "every exported function answers
 * `undefined`, `null` or a wrong-typed argument with a `ValidationError` (`INVALID_ARGUMENT` unless
 * a more specific code applies) naming the argument in `fields`". public-api.test.ts only checks
 * that some AapsError is thrown, so these slip through. Also the documented party-count range: a
 * key the library deals must be one its codecs can serialize.
 */
import { describe, expect, it } from 'vitest';
import {
  aggregate,
  bytesToHex,
  commit,
  dkgRound1,
  getCiphersuite,
  identifierFromNumber,
  MAX_PARTIES,
  PublicKeyPackageCodec,
  SecretBytes,
  type SignatureShare,
  signShare,
  trustedDealer,
  ValidationError,
  validateThreshold,
} from './index.js';

const suite = getCiphersuite('FROST-ED25519-SHA512-v1');

/** The error `f` throws. */
function thrown(f: () => unknown): unknown {
  try {
    f();
  } catch (e) {
    return e;
  }
  throw new Error('did not throw');
}

/** What a caller branches on: class, code and fields. */
function shape(e: unknown) {
  return {
    validation: e instanceof ValidationError,
    code: (e as ValidationError).code,
    fields: (e as ValidationError).fields,
  };
}

describe('typed errors name the offending argument', () => {
  it('identifierFromNumber names its argument in fields for 0, "1" and undefined', () => {
    for (const bad of [0, '1', undefined]) {
      const e = thrown(() => identifierFromNumber(suite, bad as never));
      expect(e, `identifierFromNumber(suite, ${String(bad)})`).toBeInstanceOf(ValidationError);
      // Today: INVALID_IDENTIFIER with fields [] (no argument named).
      expect((e as ValidationError).fields.length, `identifierFromNumber(suite, ${String(bad)}) fields`).toBe(
        1,
      );
    }
  });

  it('new SecretBytes names its argument for a hex string', () => {
    const e = thrown(() => new SecretBytes('00ff' as never));
    expect(e).toBeInstanceOf(ValidationError);
    // Today: fields [] (the message says "secret: expected Uint8Array", fields name nothing).
    expect((e as ValidationError).fields.length).toBe(1);
  });

  it('signShare answers a missing signing package with a ValidationError naming signingPackage', () => {
    const { keyPackages, publicPackage } = trustedDealer(suite, { min: 2, max: 3 });
    for (const bad of [undefined, null, 7]) {
      const e = thrown(() =>
        signShare(suite, keyPackages[0]!, commit(suite, keyPackages[0]!), bad as never, publicPackage),
      );
      // Today: ProtocolError MISSING_OWN_COMMITMENT (a protocol failure, no fields).
      expect(shape(e), `signingPackage = ${String(bad)}`).toEqual({
        validation: true,
        code: 'INVALID_ARGUMENT',
        fields: ['signingPackage'],
      });
    }
  });

  it('aggregate answers a hex-string share in the record form as the array form does, blaming nobody', () => {
    const { keyPackages, publicPackage } = trustedDealer(suite, { min: 2, max: 3 });
    const [a, b] = keyPackages as [(typeof keyPackages)[0], (typeof keyPackages)[0]];
    const na = commit(suite, a);
    const nb = commit(suite, b);
    const pkg = { commitments: [na.commitment, nb.commitment], message: new Uint8Array([1]) };
    const sa: SignatureShare = signShare(suite, a, na, pkg, publicPackage);
    const sb: SignatureShare = signShare(suite, b, nb, pkg, publicPackage);
    // Array form: ValidationError INVALID_ARGUMENT ['shares[0]'].
    const asArray = thrown(() =>
      aggregate(
        suite,
        pkg,
        [{ identifier: sa.identifier, share: bytesToHex(sa.share) as never }, sb],
        publicPackage,
      ),
    );
    expect(shape(asArray)).toMatchObject({ validation: true, code: 'INVALID_ARGUMENT' });
    // Record form, same caller mistake: today a ProtocolError INVALID_SIGNATURE_SHARE naming the
    // honest signer `a` as culprit.
    const asRecord = thrown(() =>
      aggregate(
        suite,
        pkg,
        { [sa.identifier]: bytesToHex(sa.share) as never, [sb.identifier]: sb.share },
        publicPackage,
      ),
    );
    expect(shape(asRecord)).toMatchObject({ validation: true, code: 'INVALID_ARGUMENT' });
    expect((asRecord as { culprits?: unknown }).culprits).toBeUndefined();
  });
});

describe('party-count limits agree', () => {
  // One bound, MAX_PARTIES (1024, docs/mpc-core.md "Keys"): validateThreshold, and so the dealer,
  // DKG, refresh and repair, refuse more parties than the codecs can write. (Before, the dealer
  // admitted max <= 65535 while the codecs capped parties at 1024: a 2-of-1025 key was dealt, then
  // could not be written.)
  it('the largest key the dealer makes can be serialized with PublicKeyPackageCodec', () => {
    const { publicPackage } = trustedDealer(suite, { min: 2, max: MAX_PARTIES });
    const bytes = PublicKeyPackageCodec.encode(suite.id, publicPackage);
    expect(PublicKeyPackageCodec.decode(bytes).value.threshold).toEqual({ min: 2, max: MAX_PARTIES });
  }, 60_000);

  it('one more party is refused by the dealer and DKG before any key is made', () => {
    const tooMany = { min: 2, max: MAX_PARTIES + 1 };
    for (const [name, f] of [
      ['trustedDealer', () => trustedDealer(suite, tooMany)],
      ['validateThreshold', () => validateThreshold(tooMany)],
      [
        'dkgRound1',
        () => dkgRound1(suite, { identifier: identifierFromNumber(suite, 1), threshold: tooMany }),
      ],
    ] as const) {
      expect(shape(thrown(f)), name).toMatchObject({ validation: true, code: 'INVALID_THRESHOLD' });
    }
    expect(MAX_PARTIES).toBe(1024);
  });
});
