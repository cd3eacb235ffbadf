/** Every key-generation and sealed message type round-trips through CBOR and JSON. */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  DkgRound1PackageCodec,
  DkgRound2PackageCodec,
  decodeCbor,
  dkgRound1,
  dkgRound2,
  encodeCbor,
  generateIdentityKey,
  getCiphersuite,
  identifierFromNumber,
  KeyPackageCodec,
  MAX_PARTIES,
  type MessageCodec,
  PublicKeyPackageCodec,
  RefreshRound1PackageCodec,
  RefreshRound2PackageCodec,
  RefreshShareCodec,
  RepairDeltaCodec,
  RepairSigmaCodec,
  refreshDealer,
  refreshRound1,
  refreshRound2,
  repairStep1,
  repairStep2,
  SealedBoxCodec,
  seal,
  trustedDealer,
  ValidationError,
  x25519FromIdentityPublicKey,
} from './index.js';
import { seededRng } from './test-helpers/rng.js';

const ID = 'FROST-ED25519-SHA512-v1' as const;
const norm = (v: unknown): unknown =>
  JSON.parse(
    JSON.stringify(v, (_k, x) => {
      if (x instanceof Uint8Array) return Buffer.from(x).toString('hex');
      if (x && typeof x === 'object' && typeof (x as { expose?: unknown }).expose === 'function') {
        return Buffer.from((x as { expose(): Uint8Array }).expose()).toString('hex');
      }
      return x;
    }),
  );

function roundTrips<T>(codec: MessageCodec<T>, value: T): void {
  expect(norm(codec.decode(codec.encode(ID, value), ID).value)).toEqual(norm(value));
  expect(norm(codec.fromJSON(JSON.parse(JSON.stringify(codec.toJSON(ID, value))), ID).value)).toEqual(
    norm(value),
  );
}

describe('key-generation wire messages', () => {
  it('DKG, refresh, repair and sealed-box messages round-trip (secrets included, via the codec only)', () => {
    const suite = getCiphersuite(ID);
    fc.assert(
      fc.property(fc.integer(), (seed) => {
        const rng = seededRng(seed);
        const threshold = { min: 2, max: 3 };
        const ids = [1, 2, 3].map((n) => identifierFromNumber(suite, n));
        const r1 = ids.map((identifier) => dkgRound1(suite, { identifier, threshold, rng }));
        roundTrips(DkgRound1PackageCodec, r1[0]!.package);
        const r2 = dkgRound2(
          suite,
          r1[0]!.secret,
          r1.slice(1).map((r) => r.package),
        );
        roundTrips(DkgRound2PackageCodec, r2.packages[0]!);

        const deal = trustedDealer(suite, threshold, { rng });
        const rd = refreshDealer(suite, deal.publicPackage, ids, rng);
        roundTrips(RefreshShareCodec, rd.shares[0]!);
        const f1 = ids.map((identifier) => refreshRound1(suite, { identifier, threshold, rng }));
        roundTrips(RefreshRound1PackageCodec, f1[0]!.package);
        const f2 = refreshRound2(
          suite,
          f1[0]!.secret,
          f1.slice(1).map((r) => r.package),
        );
        roundTrips(RefreshRound2PackageCodec, f2.packages[0]!);

        const helpers = ids.slice(0, 2);
        const deltas = helpers.map((_h, i) =>
          repairStep1(suite, helpers, deal.keyPackages[i]!, ids[2]!, rng),
        );
        roundTrips(RepairDeltaCodec, deltas[0]![0]!);
        const sigma = repairStep2(
          suite,
          helpers,
          deal.keyPackages[0]!,
          deltas.map((d) => d.find((x) => x.receiver === helpers[0])!),
        );
        roundTrips(RepairSigmaCodec, sigma);

        const box = seal(
          x25519FromIdentityPublicKey(generateIdentityKey(rng).publicKey),
          Uint8Array.of(1, 2),
          Uint8Array.of(3),
          rng,
        );
        roundTrips(SealedBoxCodec, box);
      }),
      { numRuns: 5 },
    );
  });
});

describe('codec suites and encode-side checks', () => {
  const suite = getCiphersuite(ID);
  const OTHER = 'FROST-secp256k1-SHA256-v1' as const;
  const rng = seededRng(20261125);
  const threshold = { min: 2, max: 3 };
  const deal = trustedDealer(suite, threshold, { rng });
  const ids = [1, 2, 3].map((n) => identifierFromNumber(suite, n));
  const refreshShare = refreshDealer(suite, deal.publicPackage, ids, rng).shares[0]!;
  /** The codecs whose body names its own suite, with a message of each. */
  const suited: [string, MessageCodec<unknown>, unknown][] = [
    ['KeyPackage', KeyPackageCodec as MessageCodec<unknown>, deal.keyPackages[0]],
    ['PublicKeyPackage', PublicKeyPackageCodec as MessageCodec<unknown>, deal.publicPackage],
    ['RefreshShare', RefreshShareCodec as MessageCodec<unknown>, refreshShare],
  ];
  const errorOf = (f: () => unknown): ValidationError => {
    try {
      f();
    } catch (e) {
      expect(e).toBeInstanceOf(ValidationError);
      return e as ValidationError;
    }
    return expect.unreachable('expected a ValidationError') as never;
  };

  it('decoding refuses a body that names another suite than the header (CBOR and JSON)', () => {
    for (const [name, codec, value] of suited) {
      const json = JSON.parse(JSON.stringify(codec.toJSON(ID, value)));
      const forged = { ...json, body: { ...json.body, suite: OTHER } };
      for (const expect_ of [ID, undefined]) {
        const e = errorOf(() => codec.fromJSON(forged, expect_));
        expect([name, e.code, e.fields]).toEqual([name, 'CIPHERSUITE_MISMATCH', ['body.suite']]);
      }
      const raw = decodeCbor(codec.encode(ID, value)) as { body: Record<string, unknown> };
      const bytes = encodeCbor({ ...raw, body: { ...raw.body, suite: OTHER } });
      const e = errorOf(() => codec.decode(bytes));
      expect([name, e.code, e.fields]).toEqual([name, 'CIPHERSUITE_MISMATCH', ['body.suite']]);
      // An unknown id in the body is malformed, not a mismatch.
      const unknown = errorOf(() => codec.fromJSON({ ...json, body: { ...json.body, suite: 'FROST-X' } }));
      expect([unknown.code, unknown.fields]).toEqual(['DECODE_FAILED', ['body.suite']]);
    }
  });

  it('encoding refuses an unknown suite id and a value of another suite', () => {
    for (const [name, codec, value] of suited) {
      for (const f of [codec.encode, codec.toJSON]) {
        const unknown = errorOf(() => f('FROST-X' as typeof ID, value));
        expect([name, unknown.code, unknown.fields]).toEqual([name, 'UNKNOWN_CIPHERSUITE', ['suite']]);
        const other = errorOf(() => f(OTHER, value));
        expect([name, other.code, other.fields]).toEqual([name, 'CIPHERSUITE_MISMATCH', ['value.suite']]);
      }
    }
    const e = errorOf(() =>
      SealedBoxCodec.encode(undefined as never, { ephemeralPublicKey: new Uint8Array(32) } as never),
    );
    expect(e.code).toBe('UNKNOWN_CIPHERSUITE');
  });

  it('a plain Uint8Array where SecretBytes belongs, or a string where bytes belong, is a ValidationError', () => {
    const kp = deal.keyPackages[0]!;
    const plain = { ...kp, signingShare: Uint8Array.from(kp.signingShare.expose()) };
    for (const f of [KeyPackageCodec.encode, KeyPackageCodec.toJSON]) {
      const e = errorOf(() => f(ID, plain as never));
      expect([e.code, e.fields]).toEqual(['INVALID_ARGUMENT', ['value.signingShare']]);
    }
    const stringy = { ...deal.publicPackage, groupPublicKey: 'ab' };
    const e = errorOf(() => PublicKeyPackageCodec.toJSON(ID, stringy as never));
    expect(e.fields).toEqual(['value.groupPublicKey']);
  });

  it('whatever encode accepts decodes back: a dropped or mistyped field is refused at encode', () => {
    const all: [string, MessageCodec<unknown>, unknown][] = [
      ...suited,
      [
        'RefreshRound1Package',
        RefreshRound1PackageCodec as MessageCodec<unknown>,
        refreshRound1(suite, { identifier: ids[0]!, threshold, rng }).package,
      ],
      [
        'RepairDelta',
        RepairDeltaCodec as MessageCodec<unknown>,
        repairStep1(suite, ids.slice(0, 2), deal.keyPackages[0]!, ids[2]!, rng)[0],
      ],
      [
        'DkgRound1Package',
        DkgRound1PackageCodec as MessageCodec<unknown>,
        dkgRound1(suite, { identifier: ids[0]!, threshold, rng }).package,
      ],
    ];
    const replacements = [undefined, null, 7, 'zz', true, {}, [], new Uint8Array(2), [new Uint8Array(1), 3]];
    fc.assert(
      fc.property(
        fc.constantFrom(...all),
        fc.nat(),
        fc.constantFrom('drop', ...replacements.map((_, i) => i)),
        ([name, codec, value], k, how) => {
          const keys = Object.keys(value as object);
          const key = keys[k % keys.length]!;
          const mutated: Record<string, unknown> = { ...(value as object) };
          if (how === 'drop') delete mutated[key];
          else mutated[key] = replacements[how as number];
          let bytes: Uint8Array;
          try {
            bytes = codec.encode(ID, mutated);
          } catch (e) {
            expect(e, `${name}.${key}`).toBeInstanceOf(ValidationError);
            return;
          }
          expect(() => codec.decode(bytes, ID), `${name}.${key} = ${String(how)}`).not.toThrow();
        },
      ),
      { numRuns: 300 },
    );
  });
});

describe('key package thresholds at decode (1 <= min <= max <= MAX_PARTIES)', () => {
  const suite = getCiphersuite(ID);
  const deal = trustedDealer(suite, { min: 2, max: 3 }, { rng: seededRng(7) });
  const packages: [string, MessageCodec<unknown>, unknown][] = [
    ['KeyPackage', KeyPackageCodec as MessageCodec<unknown>, deal.keyPackages[0]],
    ['PublicKeyPackage', PublicKeyPackageCodec as MessageCodec<unknown>, deal.publicPackage],
  ];
  /** Each bad threshold and the field decoding must name. */
  const bad: [{ min: number; max: number }, string[]][] = [
    [{ min: 2, max: MAX_PARTIES + 1 }, ['threshold.max']],
    [{ min: 2, max: 2 ** 32 }, ['threshold.max']],
    [{ min: 0, max: 3 }, ['threshold.min']],
    [{ min: 4, max: 3 }, ['threshold.min']],
    [{ min: MAX_PARTIES + 2, max: MAX_PARTIES + 1 }, ['threshold.max', 'threshold.min']],
  ];
  const codeAndFields = (f: () => unknown): [string, readonly string[]] | 'accepted' => {
    try {
      f();
      return 'accepted';
    } catch (e) {
      expect(e).toBeInstanceOf(ValidationError);
      return [(e as ValidationError).code, (e as ValidationError).fields];
    }
  };

  it('CBOR and JSON decoding refuse a threshold out of bounds, naming the field', () => {
    for (const [name, codec, value] of packages) {
      const json = JSON.parse(JSON.stringify(codec.toJSON(ID, value)));
      const raw = decodeCbor(codec.encode(ID, value)) as { body: Record<string, unknown> };
      for (const [threshold, fields] of bad) {
        const at = fields.map((f) => `body.${f}`);
        const want = [name, threshold, ['DECODE_FAILED', at]];
        const fromJson = codeAndFields(() => codec.fromJSON({ ...json, body: { ...json.body, threshold } }));
        expect([name, threshold, fromJson]).toEqual(want);
        const bytes = encodeCbor({ ...raw, body: { ...raw.body, threshold } });
        expect([name, threshold, codeAndFields(() => codec.decode(bytes, ID))]).toEqual(want);
      }
    }
  });

  it('encoding refuses the same thresholds (nothing is written that would not decode)', () => {
    for (const [name, codec, value] of packages) {
      for (const [threshold, fields] of bad) {
        const at = fields.map((f) => `value.${f}`);
        const mutated = { ...(value as object), threshold };
        expect([name, threshold, codeAndFields(() => codec.encode(ID, mutated))]).toEqual([
          name,
          threshold,
          ['INVALID_ARGUMENT', at],
        ]);
      }
    }
  });

  it('takes the bounds themselves: min 1, min = max, max = MAX_PARTIES', () => {
    for (const [name, codec, value] of packages) {
      for (const threshold of [
        { min: 1, max: 3 },
        { min: 3, max: 3 },
        { min: 2, max: MAX_PARTIES },
      ]) {
        // A public package holds one verifying share per party and min commitments: deal one that fits.
        const fitting =
          name === 'PublicKeyPackage'
            ? trustedDealer(
                suite,
                { min: Math.max(threshold.min, 2), max: threshold.max },
                { rng: seededRng(8) },
              ).publicPackage
            : value;
        const json = JSON.parse(JSON.stringify(codec.toJSON(ID, fitting)));
        if (threshold.min === 1 && name === 'PublicKeyPackage')
          json.body.commitments = json.body.commitments.slice(0, 1);
        const got = codec.fromJSON({ ...json, body: { ...json.body, threshold } }).value as {
          threshold: unknown;
        };
        expect([name, got.threshold]).toEqual([name, threshold]);
      }
    }
  });

  it('refuses a public package whose verifying shares or commitments do not fit its threshold, naming the field', () => {
    const pkg = deal.publicPackage;
    const json = JSON.parse(JSON.stringify(PublicKeyPackageCodec.toJSON(ID, pkg)));
    const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');
    const [first, ...rest] = Object.entries(pkg.verifyingShares);
    const other = `ff${first![0].slice(2)}`;
    const commitments = pkg.commitments!;
    const cases: [string, Partial<typeof pkg>, string][] = [
      ['a share missing', { verifyingShares: Object.fromEntries(rest) }, 'verifyingShares'],
      [
        'a share too many',
        { verifyingShares: { ...pkg.verifyingShares, [other]: first![1] } },
        'verifyingShares',
      ],
      ['a commitment missing', { commitments: commitments.slice(1) }, 'commitments'],
      ['a commitment too many', { commitments: [...commitments, commitments[0]!] }, 'commitments'],
    ];
    for (const [what, change, field] of cases) {
      const mutated = { ...pkg, ...change };
      expect([what, codeAndFields(() => PublicKeyPackageCodec.encode(ID, mutated))]).toEqual([
        what,
        ['INVALID_ARGUMENT', [`value.${field}`]],
      ]);
      const body = { ...json.body };
      if (change.verifyingShares)
        body.verifyingShares = Object.fromEntries(
          Object.entries(change.verifyingShares).map(([k, v]) => [k, hex(v)]),
        );
      if (change.commitments) body.commitments = change.commitments.map(hex);
      expect([what, codeAndFields(() => PublicKeyPackageCodec.fromJSON({ ...json, body }))]).toEqual([
        what,
        ['DECODE_FAILED', [`body.${field}`]],
      ]);
    }
  });
});
