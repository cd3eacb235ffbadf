import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  ciphersuites,
  commit,
  KeyPackageCodec,
  type MessageCodec,
  PublicKeyPackageCodec,
  Round1CommitmentCodec,
  SignatureShareCodec,
  SigningPackageCodec,
  signShare,
  trustedDealer,
  ValidationError,
} from './index.js';
import { seededRng } from './test-helpers/rng.js';

const suite = ciphersuites.ed25519;
const ID = 'FROST-ED25519-SHA512-v1' as const;

function material(seed: number) {
  const rng = seededRng(seed);
  const deal = trustedDealer(suite, { min: 2, max: 3 }, { rng });
  const nonces = deal.keyPackages.slice(0, 2).map((kp) => commit(suite, kp, rng));
  const pkg = { commitments: nonces.map((n) => n.commitment), message: Uint8Array.of(1, 2, 3) };
  const share = signShare(suite, deal.keyPackages[0]!, nonces[0]!, pkg, deal.publicPackage);
  return { deal, nonces, pkg, share };
}

const norm = (v: unknown) =>
  JSON.parse(JSON.stringify(v, (_k, x) => (x instanceof Uint8Array ? Buffer.from(x).toString('hex') : x)));

describe('codec', () => {
  it('every message type round-trips through CBOR and JSON', () => {
    fc.assert(
      fc.property(fc.integer(), (seed) => {
        const { deal, nonces, pkg, share } = material(seed);
        const cases: [MessageCodec<unknown>, unknown][] = [
          [Round1CommitmentCodec as MessageCodec<unknown>, nonces[0]!.commitment],
          [SigningPackageCodec as MessageCodec<unknown>, pkg],
          [SignatureShareCodec as MessageCodec<unknown>, share],
          [PublicKeyPackageCodec as MessageCodec<unknown>, deal.publicPackage],
        ];
        for (const [codec, value] of cases) {
          expect(norm(codec.decode(codec.encode(ID, value), ID).value)).toEqual(norm(value));
          expect(norm(codec.fromJSON(JSON.parse(JSON.stringify(codec.toJSON(ID, value))), ID).value)).toEqual(
            norm(value),
          );
        }
        const kp = deal.keyPackages[1]!;
        const back = KeyPackageCodec.decode(KeyPackageCodec.encode(ID, kp), ID).value;
        expect(Buffer.from(back.signingShare.expose()).equals(Buffer.from(kp.signingShare.expose()))).toBe(
          true,
        );
        expect(back.identifier).toBe(kp.identifier);
      }),
      { numRuns: 10 },
    );
  });

  it('refuses unknown fields, missing fields, wrong types, versions and suites — naming paths', () => {
    const { share } = material(1);
    const json = SignatureShareCodec.toJSON(ID, share) as {
      body: Record<string, unknown>;
      v: number;
      suite: string;
    };
    const fail = (v: unknown, expectSuite?: typeof ID) => {
      try {
        SignatureShareCodec.fromJSON(v, expectSuite);
        return undefined;
      } catch (e) {
        expect(e).toBeInstanceOf(ValidationError);
        return e as ValidationError;
      }
    };
    expect(fail({ ...json, body: { ...json.body, extra: 1 } })?.fields).toEqual(['body.extra']);
    expect(fail({ ...json, body: { identifier: share.identifier } })?.fields).toEqual(['body.share']);
    expect(fail({ ...json, body: { ...json.body, share: 'XYZ' } })?.fields).toEqual(['body.share']);
    expect(fail({ ...json, v: 2 })?.code).toBe('UNSUPPORTED_VERSION');
    expect(fail({ ...json, suite: 'FROST-P256' })?.code).toBe('UNKNOWN_CIPHERSUITE');
    expect(fail({ ...json, suite: 'FROST-secp256k1-SHA256-v1' }, ID)?.code).toBe('CIPHERSUITE_MISMATCH');
    expect(fail({ ...json, type: 'SigningPackage' })?.code).toBe('DECODE_FAILED');
    expect(() => SignatureShareCodec.decode(Uint8Array.of(0xff, 0x00))).toThrow(ValidationError);
    // Objects whose toString is not callable (JSON can carry {"toString": false}) are refused too.
    const hostile = JSON.parse('{"toString": false}');
    expect(fail({ ...json, v: hostile })?.code).toBe('UNSUPPORTED_VERSION');
    expect(fail({ ...json, type: hostile })?.code).toBe('DECODE_FAILED');
    expect(fail({ ...json, suite: hostile })?.code).toBe('UNKNOWN_CIPHERSUITE');
  });

  it('key packages print redacted even inside their codec output type', () => {
    const { deal } = material(3);
    expect(JSON.stringify(deal.keyPackages[0])).toContain('<redacted>');
  });
});
