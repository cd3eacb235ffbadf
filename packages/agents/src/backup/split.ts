/**
 * Splitting a party's key package into m backup files, any k of which rebuild it. The package is
 * encrypted (XChaCha20-Poly1305) under a fresh 32-byte backup key whose associated data is the
 * whole header; the backup key, never the package, is split k-of-m with `shamir-secret-sharing`.
 * Every file carries the ciphertext, its commitment and the digest of every share, so any k
 * files are enough and a wrong one is caught before anything is combined. Pure: no files here.
 */
import {
  bytesToHex,
  encryptAtRest,
  equalBytes,
  getCiphersuite,
  KeyPackageCodec,
  type PublicKeyPackage,
  type Rng,
  randomBytesOf,
  SecretBytes,
  ValidationError,
  VerificationError,
} from '@aaps/mpc-core';
import { randomBytes } from '@noble/hashes/utils.js';
import { split } from 'shamir-secret-sharing';
import {
  BACKUP_VERSION,
  type BackupFile,
  type BackupHeader,
  ciphertextCommitment,
  headerBytes,
  MAX_BACKUP_SHARES,
  shareDigest,
} from './backup-file.js';

export interface SplitBackupOptions {
  /** Files needed to restore. */
  readonly k: number;
  /** Files written (one per custodian). */
  readonly m: number;
  /** The party's roster id. */
  readonly partyId: string;
  /** Must match the key package: a backup of the wrong key is refused. */
  readonly groupPublicKey: Uint8Array;
  readonly verifyingShare: Uint8Array;
  /** Carried in the header so that a restore can rebuild the party's store. */
  readonly publicPackage?: PublicKeyPackage;
  readonly rosterDigest?: string;
  /** ISO time written into the header. */
  readonly createdAt: string;
  readonly rng?: Rng;
}

/** Checks that the package's signing share is the discrete log of its verifying share. */
export function checkSigningShare(keyPackageBytes: Uint8Array, verifyingShare: Uint8Array, check: string) {
  const kp = KeyPackageCodec.decode(keyPackageBytes).value;
  const suite = getCiphersuite(kp.suite);
  const s = suite.field.fromBytes(kp.signingShare.expose(), 'keyPackage.signingShare');
  const ok = equalBytes(suite.group.serialize(suite.group.mulBase(s)), verifyingShare);
  if (!ok)
    throw new VerificationError(check, 'the signing share does not match the verifying share', {
      code: 'VERIFICATION_FAILED',
    });
  return kp;
}

/**
 * `keyPackageBytes` is the party's `KeyPackageCodec` encoding (as `PartyStore.loadKey` gives it,
 * re-encoded). Returns m files, index 1..m.
 */
export async function splitBackup(
  keyPackageBytes: Uint8Array,
  opts: SplitBackupOptions,
): Promise<BackupFile[]> {
  const { k, m } = opts;
  if (!Number.isSafeInteger(m) || !Number.isSafeInteger(k) || k < 2 || m < k || m > MAX_BACKUP_SHARES)
    throw new ValidationError('INVALID_THRESHOLD', `backup split ${k}/${m}: expected 2 <= k <= m <= 255`, [
      'k',
      'm',
    ]);
  if (!/^[a-z][a-z0-9-]{0,62}$/.test(opts.partyId))
    throw new ValidationError('INVALID_ARGUMENT', 'partyId: expected a roster id', ['partyId']);
  if (!/^\d{4}-\d\d-\d\dT[0-9:.]+Z$/.test(opts.createdAt))
    throw new ValidationError('INVALID_ARGUMENT', 'createdAt: expected an ISO UTC time', ['createdAt']);
  const kp = checkSigningShare(keyPackageBytes, opts.verifyingShare, 'backup.verifying-share');
  const mismatched = [
    !equalBytes(kp.groupPublicKey, opts.groupPublicKey) && 'groupPublicKey',
    !equalBytes(kp.verifyingShare, opts.verifyingShare) && 'verifyingShare',
    opts.publicPackage &&
      !equalBytes(
        opts.publicPackage.verifyingShares[kp.identifier] ?? new Uint8Array(0),
        kp.verifyingShare,
      ) &&
      'publicPackage',
  ].filter((x): x is string => typeof x === 'string');
  if (mismatched.length)
    throw new ValidationError(
      'INVALID_ARGUMENT',
      `the key package does not match ${mismatched.join(', ')}`,
      mismatched,
    );
  const rng = opts.rng ?? randomBytes;
  const backupKey = randomBytesOf(rng, 32);
  const setId = randomBytesOf(rng, 16);
  const shares = await split(backupKey, m, k);
  const header: BackupHeader = {
    version: BACKUP_VERSION,
    suite: kp.suite,
    partyId: opts.partyId,
    groupPublicKey: Uint8Array.from(opts.groupPublicKey),
    verifyingShare: Uint8Array.from(opts.verifyingShare),
    k,
    m,
    setId,
    createdAt: opts.createdAt,
    shareDigests: shares.map((s, i) => shareDigest(setId, i + 1, s)),
    ...(opts.rosterDigest !== undefined ? { rosterDigest: opts.rosterDigest } : {}),
    ...(opts.publicPackage !== undefined ? { publicPackage: opts.publicPackage } : {}),
  };
  const key = new SecretBytes(backupKey);
  backupKey.fill(0);
  const ciphertext = encryptAtRest(key, keyPackageBytes, headerBytes(header), rng);
  key.wipe();
  kp.signingShare.wipe();
  const commitment = ciphertextCommitment(setId, ciphertext);
  return shares.map((share, i) => ({ ...header, index: i + 1, ciphertext, commitment, share }));
}

/** A file name for one backup file: `<party>.backup.<set>.<i>-of-<m>.json`. */
export function backupFileName(f: BackupFile): string {
  return `${f.partyId}.backup.${bytesToHex(f.setId).slice(0, 8)}.${f.index}-of-${f.m}.json`;
}
