/**
 * RFC 9591 Appendix E vectors (see ../test-vectors/SOURCE.md), reproduced through the public API:
 * nonces, commitments, signature shares and the final signature, byte for byte, on every backend.
 */
import { createPublicKey, verify as nodeVerify } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  type AnyCiphersuite,
  aggregate,
  bytesToHex,
  ciphersuites,
  commit,
  getCiphersuite,
  hexToBytes,
  identifierFromNumber,
  keyPackageFromShare,
  loadFastBackends,
  publicPackageFromKeyPackages,
  signShare,
  verify,
  verifyShare,
} from '../index.js';
import ed25519Vectors from '../test-vectors/frost-ed25519-sha512.json' with { type: 'json' };
import secp256k1Vectors from '../test-vectors/frost-secp256k1-sha256.json' with { type: 'json' };

type Vectors = typeof ed25519Vectors;

function queueRng(values: string[]) {
  const q = values.map((v) => hexToBytes(v));
  return (n: number) => {
    const next = q.shift();
    if (!next || next.length !== n) throw new Error(`test rng: no ${n}-byte value queued`);
    return next;
  };
}

function runVectors(suite: AnyCiphersuite, v: Vectors) {
  const threshold = { min: Number(v.config.MIN_PARTICIPANTS), max: Number(v.config.MAX_PARTICIPANTS) };
  const groupPublicKey = hexToBytes(v.inputs.group_public_key);
  const keyPackages = v.inputs.participant_shares.map((p) =>
    keyPackageFromShare(suite, {
      identifier: identifierFromNumber(suite, p.identifier),
      signingShare: hexToBytes(p.participant_share),
      groupPublicKey,
      threshold,
    }),
  );
  const pub = publicPackageFromKeyPackages(suite, keyPackages);
  const message = hexToBytes(v.inputs.message);
  const signers = v.round_one_outputs.outputs.map((o) => {
    const kp = keyPackages.find((k) => k.identifier === identifierFromNumber(suite, o.identifier))!;
    const nonces = commit(suite, kp, queueRng([o.hiding_nonce_randomness, o.binding_nonce_randomness]));
    return { o, kp, nonces };
  });
  for (const { o, nonces } of signers) {
    expect(bytesToHex(nonces.hiding.expose())).toBe(o.hiding_nonce);
    expect(bytesToHex(nonces.binding.expose())).toBe(o.binding_nonce);
    expect(bytesToHex(nonces.commitment.hiding)).toBe(o.hiding_nonce_commitment);
    expect(bytesToHex(nonces.commitment.binding)).toBe(o.binding_nonce_commitment);
  }
  const pkg = { commitments: signers.map((s) => s.nonces.commitment), message };
  const shares = signers.map(({ kp, nonces }) => signShare(suite, kp, nonces, pkg, pub));
  for (const [i, out] of v.round_two_outputs.outputs.entries()) {
    expect(bytesToHex(shares[i]!.share)).toBe(out.sig_share);
    verifyShare(suite, pkg, shares[i]!, pub);
  }
  const sig = aggregate(suite, pkg, shares, pub);
  expect(bytesToHex(sig)).toBe(v.final_output.sig);
  expect(verify(suite, groupPublicKey, message, sig)).toBe(true);
  return { sig, message, groupPublicKey };
}

describe('RFC 9591 Appendix E', () => {
  it('FROST(Ed25519, SHA-512) on the noble backend', () => {
    const { sig, message, groupPublicKey } = runVectors(ciphersuites.ed25519, ed25519Vectors);
    // Independent check: the threshold signature is a plain RFC 8032 signature (OpenSSL).
    const key = createPublicKey({
      key: Buffer.concat([Buffer.from('302a300506032b6570032100', 'hex'), groupPublicKey]),
      format: 'der',
      type: 'spki',
    });
    expect(nodeVerify(null, message, key, sig)).toBe(true);
  });

  it('FROST(Ed25519, SHA-512) on the libsodium backend', async () => {
    await loadFastBackends();
    const suite = getCiphersuite('FROST-ED25519-SHA512-v1');
    expect(suite.backend).toBe('libsodium');
    runVectors(suite, ed25519Vectors);
  });

  it('FROST(secp256k1, SHA-256)', () => {
    runVectors(ciphersuites.secp256k1, secp256k1Vectors as unknown as Vectors);
  });
});
