import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  ciphersuites,
  commit,
  defineCodec,
  encodeCbor,
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

/**
 * One message, one encoding: bytes decode only if they are exactly what the codec writes for the
 * message they decode to. A repeated map key (the decoder would keep the last), an integer written
 * as a float, or a field written twice are not another way to write the same message.
 */
describe('codec: only the canonical encoding decodes', () => {
  const suite = ciphersuites.ed25519;
  const { keyPackages } = trustedDealer(suite, { min: 2, max: 3 });
  const share = {
    identifier: keyPackages[0]!.identifier,
    share: new Uint8Array(32).fill(1),
  };
  const good = SignatureShareCodec.encode(suite.id, share);
  const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');
  const ascii = (s: string) => Buffer.from(s).toString('hex');

  it('decodes what it wrote', () => {
    expect(SignatureShareCodec.decode(good).value.identifier).toBe(share.identifier);
  });

  it('refuses a body whose key appears twice', () => {
    const twice = encodeWithDuplicate(good);
    expect(() => SignatureShareCodec.decode(twice)).toThrow(/canonical/);
  });

  it('refuses the version written as a float', () => {
    const float = Buffer.from(hex(good).replace(`${ascii('v')}01`, `${ascii('v')}f93c00`), 'hex');
    expect(float.equals(Buffer.from(good))).toBe(false);
    expect(() => SignatureShareCodec.decode(float)).toThrow(/canonical/);
  });

  it('refuses any single byte flip that still decodes to a message', () => {
    fc.assert(
      fc.property(fc.nat(good.length - 1), fc.integer({ min: 1, max: 255 }), (i, x) => {
        const bad = Uint8Array.from(good);
        bad[i]! ^= x;
        let decoded: unknown;
        try {
          decoded = SignatureShareCodec.decode(bad).value;
        } catch (e) {
          expect(e).toBeInstanceOf(ValidationError);
          return;
        }
        // What decodes re-encodes to these very bytes (a different message, never the same one).
        expect(hex(SignatureShareCodec.encode(suite.id, decoded as typeof share))).toBe(hex(bad));
      }),
      { numRuns: 200 },
    );
  });
});

describe('codec fromJSON is as strict as decode', () => {
  const { deal, share } = material(9103);

  it('refuses an unknown body member named like an Object.prototype member', () => {
    const json = SignatureShareCodec.toJSON(ID, share);
    for (const extra of ['constructor', 'toString', 'hasOwnProperty']) {
      const tampered = { ...json, body: { ...(json.body as object), [extra]: 'x' } };
      expect(() => SignatureShareCodec.fromJSON(tampered, ID), extra).toThrow(ValidationError);
    }
  });

  it('refuses a "__proto__" key in a record (it would replace the decoded record\'s prototype)', () => {
    const json = JSON.parse(JSON.stringify(PublicKeyPackageCodec.toJSON(ID, deal.publicPackage)));
    json.body.verifyingShares = JSON.parse(
      `{"__proto__": "00", ${Object.entries(json.body.verifyingShares)
        .map(([k, v]) => `"${k}": "${v}"`)
        .join(', ')}}`,
    );
    let decoded: unknown;
    try {
      decoded = PublicKeyPackageCodec.fromJSON(json, ID).value.verifyingShares;
    } catch (e) {
      expect(e).toBeInstanceOf(ValidationError);
      return;
    }
    expect.unreachable(
      `accepted; the decoded verifyingShares has prototype ${Object.getPrototypeOf(decoded)?.constructor?.name}`,
    );
  });
});

/** `good`'s body map with one more `share` entry written before the real one. */
function encodeWithDuplicate(good: Uint8Array): Uint8Array {
  const hex = Buffer.from(good).toString('hex');
  const key = Buffer.from('share').toString('hex');
  // Body map header: a map of 2 (0xa2) becomes a map of 3 (0xa3) with `share` first.
  const at = hex.indexOf(`a2${'6a'}${Buffer.from('identifier').toString('hex')}`);
  expect(at).toBeGreaterThan(0);
  const extra = `65${key}5820${'22'.repeat(32)}`;
  return Buffer.from(`${hex.slice(0, at)}a3${extra}${hex.slice(at + 2)}`, 'hex');
}

describe('codec body checks (defineCodec third argument)', () => {
  const seen: unknown[] = [];
  const Range = defineCodec<{ lo: number; hi: number }>('Range', { lo: 'uint', hi: 'uint' }, (v, bad) => {
    seen.push(v);
    if (v.lo > v.hi) bad('lo', 'above hi');
  });
  const fieldsOf = (f: () => unknown): [string, readonly string[]] => {
    try {
      f();
    } catch (e) {
      expect(e).toBeInstanceOf(ValidationError);
      return [(e as ValidationError).code, (e as ValidationError).fields];
    }
    return expect.unreachable('accepted') as never;
  };
  const header = { v: 1, suite: ID, type: 'Range' };

  it('refuses what the check reports, at decode under body. and at encode under value.', () => {
    expect(Range.fromJSON({ ...header, body: { lo: 1, hi: 2 } }).value).toEqual({ lo: 1, hi: 2 });
    expect(fieldsOf(() => Range.fromJSON({ ...header, body: { lo: 3, hi: 2 } }))).toEqual([
      'DECODE_FAILED',
      ['body.lo'],
    ]);
    const bytes = encodeCbor({ ...header, body: { lo: 3, hi: 2 } });
    expect(fieldsOf(() => Range.decode(bytes))).toEqual(['DECODE_FAILED', ['body.lo']]);
    for (const f of [Range.encode, Range.toJSON])
      expect(fieldsOf(() => f(ID, { lo: 3, hi: 2 }))).toEqual(['INVALID_ARGUMENT', ['value.lo']]);
  });

  it('runs only on a value that meets the spec (it never sees a mistyped field)', () => {
    seen.length = 0;
    expect(fieldsOf(() => Range.fromJSON({ ...header, body: { lo: 'x', hi: 2 } }))).toEqual([
      'DECODE_FAILED',
      ['body.lo'],
    ]);
    expect(fieldsOf(() => Range.encode(ID, { lo: -1, hi: 2 }))).toEqual(['INVALID_ARGUMENT', ['value.lo']]);
    expect(seen).toEqual([]);
  });

  it('a check that is not a function is an INVALID_ARGUMENT naming check', () => {
    expect(fieldsOf(() => defineCodec('T', { a: 'string' }, 7 as never))).toEqual([
      'INVALID_ARGUMENT',
      ['check'],
    ]);
  });
});
