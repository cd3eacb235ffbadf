import { ValidationError } from '@aaps/mpc-core';
import { bundleFromJSON } from '@sigstore/bundle';
import { PublicKey, TrustedRoot as SigstoreTrustedRoot } from '@sigstore/protobuf-specs';
import { toSignedEntity, toTrustMaterial, Verifier } from '@sigstore/verify';
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import type { EvidenceBundle } from './bundle/types.js';
import { verifyBundle } from './bundle/verify.js';
import { keyIdOf } from './keys.js';
import {
  parseTrustedRoot,
  SIGSTORE_BUNDLE_MEDIA_TYPE,
  type TrustedRoot,
  toSigstoreBundle,
} from './sigstore-export.js';
import {
  type LoggedFixture,
  makeEd25519Key,
  makeLoggedBundles,
  noteKeyFor,
  reloggedUnderLogKey,
  trustedRootFor,
} from './test-helpers/fixtures.js';
import { aggregationRecord, refFor } from './test-helpers/pooled.js';

function sigstoreVerifier(root: TrustedRoot): Verifier {
  const json = JSON.parse(JSON.stringify(root));
  const trust = toTrustMaterial(SigstoreTrustedRoot.fromJSON(json), {
    [json.aaps.groupKey.hint]: PublicKey.fromJSON(json.aaps.groupKey.publicKey),
  });
  return new Verifier(trust, { tlogThreshold: 1, ctlogThreshold: 0, timestampThreshold: 0 });
}

function sigstoreVerify(verifier: Verifier, exported: unknown): string | undefined {
  try {
    const bundle = bundleFromJSON(JSON.parse(JSON.stringify(exported)));
    verifier.verify(toSignedEntity(bundle));
    return undefined;
  } catch (e) {
    return (e as { code?: string }).code ?? String(e);
  }
}

describe('Sigstore export', () => {
  let fx: LoggedFixture;
  let root: TrustedRoot;

  beforeAll(async () => {
    const record = aggregationRecord();
    fx = await makeLoggedBundles(5, { pooled: { record, ref: refFor(record, 80) } });
    root = trustedRootFor(fx);
  });

  it('exports a v0.3 bundle that @sigstore/verify accepts offline with our trusted root', () => {
    const verifier = sigstoreVerifier(root);
    for (const b of fx.bundles) {
      const exported = toSigstoreBundle(b, noteKeyFor(fx.group));
      expect(exported.mediaType).toBe(SIGSTORE_BUNDLE_MEDIA_TYPE);
      expect(exported.verificationMaterial.publicKey.hint).toBe(keyIdOf(fx.group.publicKey));
      expect(sigstoreVerify(verifier, exported)).toBeUndefined();
    }
  });

  it('is rejected by @sigstore/verify when tampered or under another key', () => {
    const verifier = sigstoreVerifier(root);
    const good = toSigstoreBundle(fx.bundle, noteKeyFor(fx.group));
    const flip = (b64: string) => {
      const bytes = Buffer.from(b64, 'base64');
      bytes[bytes.length >> 1]! ^= 1;
      return bytes.toString('base64');
    };
    const payload = structuredClone(good);
    payload.dsseEnvelope.payload = flip(payload.dsseEnvelope.payload);
    expect(sigstoreVerify(verifier, payload)).toBe('TLOG_BODY_ERROR');
    const proof = structuredClone(good);
    const hashes = proof.verificationMaterial.tlogEntries[0]!.inclusionProof.hashes;
    hashes[0] = flip(hashes[0]!);
    expect(sigstoreVerify(verifier, proof)).toBe('TLOG_INCLUSION_PROOF_ERROR');
    const checkpoint = structuredClone(good);
    const cp = checkpoint.verificationMaterial.tlogEntries[0]!.inclusionProof.checkpoint;
    cp.envelope = cp.envelope.replace(/\n(\d+)\n/, (_m, n: string) => `\n${Number(n) + 1}\n`);
    expect(sigstoreVerify(verifier, checkpoint)).toBe('TLOG_INCLUSION_PROOF_ERROR');
    const other = makeEd25519Key();
    const otherRoot = trustedRootFor(fx, { groupPublicKey: other.publicKey });
    expect(sigstoreVerify(sigstoreVerifier(otherRoot), good)).toBe('PUBLIC_KEY_ERROR');
  });

  it('gives aaps-verify everything it needs from the same trusted root', () => {
    const keys = parseTrustedRoot(JSON.parse(JSON.stringify(root)));
    for (const b of fx.bundles) {
      verifyBundle(b, {
        groupPublicKey: keys.groupPublicKey,
        logKeys: keys.logKeys,
        roster: keys.roster!,
        threshold: keys.threshold,
      });
    }
    const broken = { ...root, aaps: { ...root.aaps, log: { ...root.aaps.log, publicKeyHex: 'zz' } } };
    const err = (() => {
      try {
        parseTrustedRoot(broken);
      } catch (e) {
        return e;
      }
    })();
    expect(err).toBeInstanceOf(ValidationError);
    expect((err as ValidationError).fields).toEqual(['aaps.log.publicKeyHex']);
  });

  it("carries the parties' roles (aaps.partyRoles): known roles only, each a party of its roster", () => {
    const ids = fx.r.roster.parties.map((p) => p.id);
    const roles = { [ids[0]!]: 'monitoring', [ids[1]!]: 'strategy', [ids[2]!]: 'maintenance' };
    const withRoles = trustedRootFor(fx, { partyRoles: roles });
    // A role the evidence rules do not know is left out, as a roster.json's is.
    expect(withRoles.aaps.partyRoles).toEqual({ [ids[0]!]: 'monitoring', [ids[1]!]: 'strategy' });
    expect(parseTrustedRoot(JSON.parse(JSON.stringify(withRoles))).partyRoles).toEqual(
      withRoles.aaps.partyRoles,
    );
    // Sigstore clients ignore the extension.
    expect(
      sigstoreVerify(sigstoreVerifier(withRoles), toSigstoreBundle(fx.bundle, noteKeyFor(fx.group))),
    ).toBeUndefined();
    expect(trustedRootFor(fx).aaps.partyRoles).toBeUndefined();
    expect(parseTrustedRoot(JSON.parse(JSON.stringify(root))).partyRoles).toBeUndefined();
    const refused = (partyRoles: unknown) => {
      try {
        parseTrustedRoot({ ...withRoles, aaps: { ...withRoles.aaps, partyRoles } });
      } catch (e) {
        return (e as ValidationError).fields;
      }
      return undefined;
    };
    expect(refused({ 'not-a-party': 'audit' })).toEqual(['aaps.partyRoles']);
    expect(refused({ [ids[0]!]: 7 })).toEqual(['aaps.partyRoles']);
    expect(refused(['audit'])).toEqual(['aaps.partyRoles']);
  });

  it('works with a log key separate from the group key', async () => {
    const { bundle, logKey } = await reloggedUnderLogKey(fx.bundle);
    const separate = trustedRootFor(fx, { logKey });
    expect(sigstoreVerify(sigstoreVerifier(separate), toSigstoreBundle(bundle, logKey))).toBeUndefined();
    expect(sigstoreVerify(sigstoreVerifier(root), toSigstoreBundle(bundle, logKey))).toBe(
      'TLOG_INCLUSION_PROOF_ERROR',
    );
    const keys = parseTrustedRoot(JSON.parse(JSON.stringify(separate)));
    verifyBundle(bundle, { groupPublicKey: keys.groupPublicKey, logKeys: keys.logKeys });
  });

  it('refuses to export a bundle not yet in the log', () => {
    const { transparencyLog: _gone, ...unlogged } = fx.bundle;
    expect(() => toSigstoreBundle(unlogged as EvidenceBundle, noteKeyFor(fx.group))).toThrow(ValidationError);
  });
});

describe('parseTrustedRoot: every malformed field is a DECODE_FAILED ValidationError', () => {
  it('a root whose tlogs or groupKey.hint is of another JSON type', async () => {
    const fx = await makeLoggedBundles(1);
    const root = JSON.parse(JSON.stringify(trustedRootFor(fx)));
    expect(parseTrustedRoot(root).origin).toBe('aaps.test/log');
    const cases = fc.constantFrom<[string, unknown, string]>(
      ['tlogs', {}, 'tlogs'],
      ['tlogs', 'https://log.example', 'tlogs'],
      ['tlogs', [null], 'tlogs'],
      ['tlogs', [1, null], 'tlogs'],
      ['tlogs', [{ publicKey: null }], 'tlogs'],
      ['hint', JSON.parse('{"toString":0,"valueOf":0}'), 'aaps.groupKey.hint'],
      ['hint', [Object.create(null)], 'aaps.groupKey.hint'],
    );
    fc.assert(
      fc.property(cases, ([at, value, field]) => {
        const hostile = structuredClone(root);
        if (at === 'tlogs') hostile.tlogs = value;
        else hostile.aaps.groupKey.hint = value;
        let error: unknown;
        try {
          parseTrustedRoot(hostile);
        } catch (e) {
          error = e;
        }
        expect(error).toBeInstanceOf(ValidationError);
        expect((error as ValidationError).code).toBe('DECODE_FAILED');
        expect((error as ValidationError).fields).toContain(field);
      }),
      { numRuns: 30 },
    );
  });
});
