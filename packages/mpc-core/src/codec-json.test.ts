/**
 * Codec fromJSON is as strict as decode: members are matched on the spec's own keys (not
 * Object.prototype's), and a "__proto__" record key is refused. (From the mpc-core library review.)
 */
import { describe, expect, it } from 'vitest';
import {
  ciphersuites,
  commit,
  PublicKeyPackageCodec,
  SignatureShareCodec,
  signShare,
  trustedDealer,
  ValidationError,
} from './index.js';
import { seededRng } from './test-helpers/rng.js';

const suite = ciphersuites.ed25519;
const ID = 'FROST-ED25519-SHA512-v1' as const;

describe('codec fromJSON is as strict as decode', () => {
  const deal = trustedDealer(suite, { min: 2, max: 3 }, { rng: seededRng(9103) });
  const n = commit(suite, deal.keyPackages[0]!, seededRng(9106));
  const m = commit(suite, deal.keyPackages[1]!, seededRng(9107));
  const pkg = { commitments: [n.commitment, m.commitment], message: Uint8Array.of(1) };
  const share = signShare(suite, deal.keyPackages[0]!, n, pkg, deal.publicPackage);

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
