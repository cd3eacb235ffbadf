import {
  applyRefresh,
  bytesToHex,
  encryptAtRest,
  getCiphersuite,
  KeyPackageCodec,
  ProtocolError,
  refreshDealer,
  SecretBytes,
  trustedDealer,
  ValidationError,
  VerificationError,
} from '@aaps/mpc-core';
import { split } from 'shamir-secret-sharing';
import { describe, expect, it } from 'vitest';
import {
  BACKUP_VERSION,
  type BackupFile,
  backupFileToJson,
  ciphertextCommitment,
  headerBytes,
  shareDigest,
} from './backup-file.js';
import { type BackupInput, restoreBackup } from './restore.js';
import { backupFileName, splitBackup } from './split.js';

const suite = getCiphersuite('FROST-ED25519-SHA512-v1');
const dealt = trustedDealer(suite, { min: 3, max: 5 });
const kp = dealt.keyPackages[1]!;
const kpBytes = KeyPackageCodec.encode(kp.suite, kp);
const createdAt = '2026-11-25T16:00:00.000Z';

const opts = {
  k: 3,
  m: 5,
  partyId: 'maintenance',
  groupPublicKey: kp.groupPublicKey,
  verifyingShare: kp.verifyingShare,
  publicPackage: dealt.publicPackage,
  rosterDigest: 'ab'.repeat(32),
  createdAt,
};

/** Files as the CLI would hand them over: parsed JSON with their names. */
const asInputs = (files: readonly BackupFile[]): BackupInput[] =>
  files.map((f) => ({ name: backupFileName(f), json: JSON.parse(JSON.stringify(backupFileToJson(f))) }));

async function refusal<E>(p: Promise<unknown>, cls: new (...a: never[]) => E): Promise<E> {
  try {
    await p;
  } catch (e) {
    expect(e).toBeInstanceOf(cls);
    return e as E;
  }
  return expect.unreachable('expected a refusal') as never;
}

const edit = (input: BackupInput, change: Record<string, unknown>): BackupInput => ({
  name: input.name,
  json: { ...(input.json as Record<string, unknown>), ...change },
});
const flipHex = (hex: string, at = 0) =>
  hex.slice(0, at) + (Number.parseInt(hex[at]!, 16) ^ 1).toString(16) + hex.slice(at + 1);

describe('key-share backups', () => {
  it('refuses an rng that returns fewer bytes than asked (a short backup key), naming rng', async () => {
    const short = (n: number) => new Uint8Array(Math.max(0, n - 1));
    const e = await refusal(splitBackup(kpBytes, { ...opts, rng: short }), ValidationError);
    expect(e.fields).toEqual(['rng']);
  });

  it('any k of m files restore the key package, checked against its verifying share', async () => {
    const files = await splitBackup(kpBytes, opts);
    expect(files.map((f) => f.index)).toEqual([1, 2, 3, 4, 5]);
    for (const pick of [
      [0, 1, 2],
      [4, 0, 2],
      [1, 3, 4],
      [0, 1, 2, 3, 4],
    ]) {
      const inputs = asInputs(pick.map((i) => files[i]!));
      const r = await restoreBackup(inputs, {
        expectGroupPublicKey: kp.groupPublicKey,
        expectVerifyingShare: kp.verifyingShare,
        expectPartyId: 'maintenance',
      });
      expect(Buffer.from(r.keyPackageBytes).equals(Buffer.from(kpBytes))).toBe(true);
      expect(r.keyPackage.identifier).toBe(kp.identifier);
      expect(r.partyId).toBe('maintenance');
      expect(r.publicPackage).toEqual(dealt.publicPackage);
      expect(r.rosterDigest).toBe('ab'.repeat(32));
      expect(r.used).toEqual(inputs.slice(0, 3).map((i) => i.name));
    }
  });

  it('no file holds the signing share or the backup key in the clear', async () => {
    const files = await splitBackup(kpBytes, opts);
    const shareHex = Buffer.from(kp.signingShare.expose()).toString('hex');
    for (const f of files) expect(JSON.stringify(backupFileToJson(f))).not.toContain(shareHex);
  });

  it('a short set is refused, naming nobody', async () => {
    const files = await splitBackup(kpBytes, opts);
    for (const n of [0, 1, 2]) {
      const e = await refusal(restoreBackup(asInputs(files.slice(0, n))), ProtocolError);
      expect(e.code).toBe('QUORUM_UNREACHABLE');
      expect(e.culprits).toEqual([]);
    }
  });

  it('a mixed set (another backup of the same key, another party) is refused naming the odd file', async () => {
    const a = asInputs(await splitBackup(kpBytes, opts));
    const b = asInputs(await splitBackup(kpBytes, opts));
    const e = await refusal(restoreBackup([a[0]!, b[1]!, a[2]!]), ProtocolError);
    expect(e.code).toBe('INCONSISTENT_TRANSCRIPT');
    expect(e.culprits).toEqual([b[1]!.name]);
    const other = dealt.keyPackages[2]!;
    const c = asInputs(
      await splitBackup(KeyPackageCodec.encode(other.suite, other), {
        ...opts,
        partyId: 'audit',
        verifyingShare: other.verifyingShare,
      }),
    );
    const e2 = await refusal(restoreBackup([a[0]!, a[1]!, c[2]!, a[3]!]), ProtocolError);
    expect(e2.culprits).toEqual([c[2]!.name]);
    // two against two: nobody is in the majority, every file is named
    const e3 = await refusal(restoreBackup([a[0]!, a[1]!, b[2]!, b[3]!]), ProtocolError);
    expect(e3.culprits).toEqual([a[0]!.name, a[1]!.name, b[2]!.name, b[3]!.name]);
    // the message (all the CLI prints) names each set and its files
    const setOf = (f: BackupInput) => (f.json as { set_id: string }).set_id.slice(0, 8);
    expect(e3.message).toContain(`set ${setOf(a[0]!)} (party maintenance): ${a[0]!.name}, ${a[1]!.name}`);
    expect(e3.message).toContain(`set ${setOf(b[2]!)} (party maintenance): ${b[2]!.name}, ${b[3]!.name}`);
    expect(e2.message).toContain(`set ${setOf(c[2]!)} (party audit): ${c[2]!.name}`);
  });

  it('a package that fails a check of step 6 is refused naming the check, and a stale sharing says so', async () => {
    const files = asInputs(await splitBackup(kpBytes, opts));
    const three = files.slice(0, 3);
    // The group refreshed since: same group key, every verifying share changed.
    const zero = refreshDealer(
      suite,
      dealt.publicPackage,
      dealt.keyPackages.map((k) => k.identifier),
    );
    const now = applyRefresh(suite, kp, dealt.publicPackage, zero.shares[1]!).keyPackage;
    for (const expectGroupPublicKey of [undefined, kp.groupPublicKey]) {
      const e = await refusal(
        restoreBackup(three, {
          expectVerifyingShare: now.verifyingShare,
          ...(expectGroupPublicKey ? { expectGroupPublicKey } : {}),
        }),
        VerificationError,
      );
      expect(e.check).toBe('backup.verifying-share');
      expect(e.message).toContain('--expect-verifying-share');
      expect(e.message).toMatch(/another sharing of (this group key|it), from before a refresh/);
      expect(e.message).toMatch(
        /start the party with no key and run `aaps keys repair [a-z0-9-]+ --reason TEXT`/,
      );
      expect(e.message).toContain('a backup set taken after the last refresh');
      expect(e.details).toEqual({
        backup: bytesToHex(kp.verifyingShare),
        expected: bytesToHex(now.verifyingShare),
      });
    }
    // another party's verifying share of the same sharing: a wrong value, not a stale backup
    const e2 = await refusal(
      restoreBackup(three, { expectVerifyingShare: dealt.keyPackages[0]!.verifyingShare }),
      VerificationError,
    );
    expect(e2.message).toContain("another participant's");
    expect(e2.message).not.toContain('refresh or repair');
    // another group key
    const other = trustedDealer(suite, { min: 3, max: 5 });
    const e3 = await refusal(
      restoreBackup(three, {
        expectGroupPublicKey: other.publicPackage.groupPublicKey,
        expectVerifyingShare: kp.verifyingShare,
      }),
      VerificationError,
    );
    expect(e3.check).toBe('backup.group-key');
    expect(e3.message).toContain('--expect-group-key');
    // a set whose header names another group's public package than the package it holds
    const setId = new Uint8Array(16).fill(9);
    const key = new Uint8Array(32).fill(7);
    const shares = await split(Uint8Array.from(key), 2, 2);
    const header = {
      version: BACKUP_VERSION,
      suite: kp.suite,
      partyId: 'maintenance',
      groupPublicKey: kp.groupPublicKey,
      verifyingShare: kp.verifyingShare,
      k: 2,
      m: 2,
      setId,
      createdAt,
      shareDigests: shares.map((s, i) => shareDigest(setId, i + 1, s)),
      publicPackage: other.publicPackage,
    } as const;
    const ciphertext = encryptAtRest(new SecretBytes(key), kpBytes, headerBytes(header));
    const commitment = ciphertextCommitment(setId, ciphertext);
    const forged = shares.map((share, i) => ({ ...header, index: i + 1, ciphertext, commitment, share }));
    const e4 = await refusal(restoreBackup(asInputs(forged)), VerificationError);
    expect(e4.check).toBe('backup.header');
  });

  it('a wrong file (altered share, ciphertext, header or commitment) is named', async () => {
    const files = asInputs(await splitBackup(kpBytes, opts));
    const j = files[1]!.json as Record<string, string>;
    const share = edit(files[1]!, { share: flipHex(j.share!, 4) });
    const e1 = await refusal(restoreBackup([files[0]!, share, files[2]!, files[3]!]), ProtocolError);
    expect(e1.code).toBe('INVALID_SECRET_SHARE');
    expect(e1.culprits).toEqual([files[1]!.name]);
    const e2 = await refusal(restoreBackup([files[0]!, share, files[2]!]), ProtocolError);
    expect(e2.code).toBe('QUORUM_UNREACHABLE');
    expect(e2.culprits).toEqual([files[1]!.name]);
    const ct = edit(files[1]!, { ciphertext: flipHex(j.ciphertext!, 70) });
    const e3 = await refusal(restoreBackup([files[0]!, ct, files[2]!, files[3]!]), ProtocolError);
    expect(e3.code).toBe('COMMITMENT_MISMATCH');
    expect(e3.culprits).toEqual([files[1]!.name]);
    for (const change of [
      { commitment: flipHex(j.commitment!) },
      { k: 2 },
      { verifying_share: flipHex(j.verifying_share!, 63) },
    ]) {
      const e4 = await refusal(restoreBackup([files[0]!, edit(files[1]!, change), files[2]!]), ProtocolError);
      expect(e4.code).toBe('INCONSISTENT_TRANSCRIPT');
      expect(e4.culprits).toEqual([files[1]!.name]);
    }
  });

  it('a set of another party is refused when the caller names the party', async () => {
    const files = asInputs(await splitBackup(kpBytes, opts));
    const e = await refusal(restoreBackup(files.slice(0, 3), { expectPartyId: 'audit' }), ProtocolError);
    expect(e.code).toBe('INCONSISTENT_TRANSCRIPT');
    expect(e.culprits).toEqual(files.slice(0, 3).map((f) => f.name));
  });

  it('the same share twice and unreadable files are refused by name', async () => {
    const files = asInputs(await splitBackup(kpBytes, opts));
    const copy = { name: 'copy-of-1.json', json: files[0]!.json };
    const e = await refusal(restoreBackup([files[0]!, copy, files[1]!]), ProtocolError);
    expect(e.code).toBe('DUPLICATE_IDENTIFIER');
    expect(e.culprits).toEqual(['copy-of-1.json']);
    const v = await refusal(
      restoreBackup([
        files[0]!,
        { name: 'notes.json', json: { hello: 1 } },
        edit(files[2]!, { index: 0, extra: true }),
      ]),
      ValidationError,
    );
    expect(v.fields).toEqual([
      'notes.json',
      files[2]!.name,
      `${files[2]!.name}:extra`,
      `${files[2]!.name}:index`,
    ]);
    const ver = await refusal(restoreBackup([edit(files[0]!, { version: 2 })]), ValidationError);
    expect(ver.code).toBe('UNSUPPORTED_VERSION');
  });

  it('a consistent set whose share does not match the verifying share is refused before use', async () => {
    // Forge a well-formed set around a key package with another signing share.
    const forgedKp = { ...kp, signingShare: new SecretBytes(dealt.keyPackages[0]!.signingShare.expose()) };
    const bytes = KeyPackageCodec.encode(forgedKp.suite, forgedKp);
    const setId = new Uint8Array(16).fill(3);
    const key = new Uint8Array(32).fill(5);
    const shares = await split(Uint8Array.from(key), 3, 2);
    const header = {
      version: BACKUP_VERSION,
      suite: kp.suite,
      partyId: 'maintenance',
      groupPublicKey: kp.groupPublicKey,
      verifyingShare: kp.verifyingShare,
      k: 2,
      m: 3,
      setId,
      createdAt,
      shareDigests: shares.map((s, i) => shareDigest(setId, i + 1, s)),
    } as const;
    const ciphertext = encryptAtRest(new SecretBytes(key), bytes, headerBytes(header));
    const commitment = ciphertextCommitment(setId, ciphertext);
    const forged = shares.map((share, i) => ({ ...header, index: i + 1, ciphertext, commitment, share }));
    const e = await refusal(restoreBackup(asInputs(forged.slice(0, 2))), VerificationError);
    expect(e.check).toBe('backup.verifying-share');
    // a forged set whose shares repeat an x coordinate cannot be combined: refused, not a crash
    const twin = Uint8Array.from(shares[1]!);
    twin[32] = shares[0]![32]!;
    const clash = {
      ...header,
      shareDigests: [shares[0]!, twin, shares[2]!].map((s, i) => shareDigest(setId, i + 1, s)),
    };
    const clashCt = encryptAtRest(new SecretBytes(key), bytes, headerBytes(clash));
    const clashFiles = [shares[0]!, twin].map((share, i) => ({
      ...clash,
      index: i + 1,
      ciphertext: clashCt,
      commitment: ciphertextCommitment(setId, clashCt),
      share,
    }));
    const e0 = await refusal(restoreBackup(asInputs(clashFiles)), VerificationError);
    expect(e0.check).toBe('backup.ciphertext');
    // and a genuine set is refused when the caller expects another party's verifying share
    const files = asInputs(await splitBackup(kpBytes, opts));
    const e2 = await refusal(
      restoreBackup(files.slice(0, 3), { expectVerifyingShare: dealt.keyPackages[0]!.verifyingShare }),
      VerificationError,
    );
    expect(e2.check).toBe('backup.verifying-share');
  });

  it('refuses to back up a key that does not match the keys it is filed under', async () => {
    const e = await refusal(
      splitBackup(kpBytes, { ...opts, verifyingShare: dealt.keyPackages[0]!.verifyingShare }),
      VerificationError,
    );
    expect(e.check).toBe('backup.verifying-share');
    const e2 = await refusal(splitBackup(kpBytes, { ...opts, k: 6 }), ValidationError);
    expect(e2.code).toBe('INVALID_THRESHOLD');
    const e3 = await refusal(
      splitBackup(kpBytes, { ...opts, groupPublicKey: kp.verifyingShare }),
      ValidationError,
    );
    expect(e3.fields).toEqual(['groupPublicKey']);
  });
});
