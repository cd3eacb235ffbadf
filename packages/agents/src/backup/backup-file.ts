/**
 * The key-backup file a custodian keeps: one of m, any k of which rebuild a party's key package.
 * JSON, snake_case, bytes as lower-case hex. Every file of a set carries the same header (party,
 * group key, verifying share, k, m, set id, the ciphertext and its SHA-256, and the SHA-256 of every
 * share in the set) plus its own index and share, so a wrong, short or mixed set is refused naming
 * the bad file. Parsing is pure and strict; reading and writing files is the CLI's.
 */
import {
  bytesToHex,
  type CiphersuiteId,
  canonicalBytes,
  concatBytes,
  displayValue,
  hexToBytes,
  isCiphersuiteId,
  type PublicKeyPackage,
  PublicKeyPackageCodec,
  ValidationError,
} from '@aaps/mpc-core';
import { sha256 } from '@noble/hashes/sha2.js';
import { ROSTER_ID } from '../roster.js';

export const BACKUP_FORMAT = 'aaps-key-backup';
export const BACKUP_VERSION = 1;
/** `shamir-secret-sharing` works in GF(2^8): at most 255 shares. */
export const MAX_BACKUP_SHARES = 255;

/** What every file of one backup set shares. */
export interface BackupHeader {
  readonly version: typeof BACKUP_VERSION;
  readonly suite: CiphersuiteId;
  readonly partyId: string;
  readonly groupPublicKey: Uint8Array;
  readonly verifyingShare: Uint8Array;
  readonly k: number;
  readonly m: number;
  /** Random id of this backup set (16 bytes). */
  readonly setId: Uint8Array;
  readonly createdAt: string;
  readonly rosterDigest?: string;
  /** The group's public key package, so that a restore can rebuild the party's store. */
  readonly publicPackage?: PublicKeyPackage;
  /** SHA-256 of each share, in index order (see {@link shareDigest}). */
  readonly shareDigests: readonly Uint8Array[];
}

export interface BackupFile extends BackupHeader {
  /** 1..m. */
  readonly index: number;
  /** The key package under the backup key: nonce(24) || XChaCha20-Poly1305 ciphertext. */
  readonly ciphertext: Uint8Array;
  /** SHA-256(set id || ciphertext). */
  readonly commitment: Uint8Array;
  /** This file's `shamir-secret-sharing` share of the backup key (33 bytes). */
  readonly share: Uint8Array;
}

/** SHA-256 binding a share to its set and index. */
export function shareDigest(setId: Uint8Array, index: number, share: Uint8Array): Uint8Array {
  return sha256(
    concatBytes(canonicalBytes({ ctx: 'aaps.key-backup.share', set: bytesToHex(setId), index }), share),
  );
}

export function ciphertextCommitment(setId: Uint8Array, ciphertext: Uint8Array): Uint8Array {
  return sha256(concatBytes(setId, ciphertext));
}

/** The header's canonical JSON: the AEAD's associated data, and what files of one set must agree on. */
export function headerBytes(h: BackupHeader): Uint8Array {
  return canonicalBytes(headerJson(h));
}

function headerJson(h: BackupHeader): Record<string, unknown> {
  const out: Record<string, unknown> = {
    format: BACKUP_FORMAT,
    version: h.version,
    suite: h.suite,
    party_id: h.partyId,
    group_public_key: bytesToHex(h.groupPublicKey),
    verifying_share: bytesToHex(h.verifyingShare),
    k: h.k,
    m: h.m,
    set_id: bytesToHex(h.setId),
    created_at: h.createdAt,
    share_digests: h.shareDigests.map(bytesToHex),
  };
  if (h.rosterDigest !== undefined) out.roster_digest = h.rosterDigest;
  if (h.publicPackage !== undefined)
    out.public_package = PublicKeyPackageCodec.toJSON(h.suite, h.publicPackage);
  return out;
}

/** The file as JSON (what the CLI writes). */
export function backupFileToJson(f: BackupFile): Record<string, unknown> {
  return {
    ...headerJson(f),
    index: f.index,
    ciphertext: bytesToHex(f.ciphertext),
    commitment: bytesToHex(f.commitment),
    share: bytesToHex(f.share),
  };
}

const REQUIRED = [
  'format',
  'version',
  'suite',
  'party_id',
  'group_public_key',
  'verifying_share',
  'k',
  'm',
  'set_id',
  'created_at',
  'share_digests',
  'index',
  'ciphertext',
  'commitment',
  'share',
] as const;
const OPTIONAL = ['roster_digest', 'public_package'] as const;

const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * Strictly parse one backup file. `name` (the file's path) names it in errors: a
 * `ValidationError('DECODE_FAILED' | 'UNSUPPORTED_VERSION')` whose `fields` are `name` and
 * `name:field` for each problem.
 */
export function parseBackupFile(json: unknown, name: string): BackupFile {
  const problems: string[] = [];
  const bad = (field: string, what: string) => {
    problems.push(`${field}: ${what}`);
  };
  if (!isObject(json) || json.format !== BACKUP_FORMAT)
    throw new ValidationError('DECODE_FAILED', `${name}: not an AAPS key-backup file`, [name]);
  if (json.version !== BACKUP_VERSION)
    throw new ValidationError(
      'UNSUPPORTED_VERSION',
      `${name}: backup version ${displayValue(json.version)} is not supported (want ${BACKUP_VERSION})`,
      [name],
    );
  for (const k of Object.keys(json))
    if (!(REQUIRED as readonly string[]).includes(k) && !(OPTIONAL as readonly string[]).includes(k))
      bad(k, 'unknown field');
  for (const k of REQUIRED) if (!(k in json)) bad(k, 'missing');
  const hex = (field: string, len?: number): Uint8Array => {
    const v = json[field];
    try {
      return hexToBytes(v as string, field, len);
    } catch {
      bad(field, len ? `expected ${len} bytes of lower-case hex` : 'expected lower-case hex');
      return new Uint8Array(0);
    }
  };
  const int = (field: string, min: number, max: number): number => {
    const v = json[field];
    if (!Number.isSafeInteger(v) || (v as number) < min || (v as number) > max)
      bad(field, `expected an integer in [${min}, ${max}]`);
    return Number.isSafeInteger(v) ? (v as number) : 0;
  };
  const str = (field: string, re: RegExp): string => {
    const v = json[field];
    if (typeof v !== 'string' || !re.test(v)) bad(field, `expected ${re.source}`);
    return typeof v === 'string' ? v : '';
  };
  const suite = json.suite;
  if (!isCiphersuiteId(suite)) bad('suite', 'unknown ciphersuite');
  const m = int('m', 2, MAX_BACKUP_SHARES);
  const k = int('k', 2, MAX_BACKUP_SHARES);
  if (k > m) bad('k', 'must not exceed m');
  const index = int('index', 1, MAX_BACKUP_SHARES);
  if (index > m) bad('index', 'must not exceed m');
  const digests: Uint8Array[] = [];
  if (!Array.isArray(json.share_digests) || json.share_digests.length !== m)
    bad('share_digests', `expected ${m} digests`);
  else
    json.share_digests.forEach((d: unknown, i: number) => {
      try {
        digests.push(hexToBytes(d as string, `share_digests[${i}]`, 32));
      } catch {
        bad(`share_digests[${i}]`, 'expected 32 bytes of hex');
      }
    });
  let publicPackage: PublicKeyPackage | undefined;
  if (json.public_package !== undefined) {
    try {
      publicPackage = PublicKeyPackageCodec.fromJSON(json.public_package, suite as CiphersuiteId).value;
    } catch {
      bad('public_package', 'not a valid public key package');
    }
  }
  const file: BackupFile = {
    version: BACKUP_VERSION,
    suite: suite as CiphersuiteId,
    partyId: str('party_id', ROSTER_ID),
    groupPublicKey: hex('group_public_key'),
    verifyingShare: hex('verifying_share'),
    k,
    m,
    setId: hex('set_id', 16),
    createdAt: str('created_at', /^\d{4}-\d\d-\d\dT[0-9:.]+Z$/),
    shareDigests: digests,
    index,
    ciphertext: hex('ciphertext'),
    commitment: hex('commitment', 32),
    share: hex('share'),
    ...(json.roster_digest !== undefined ? { rosterDigest: str('roster_digest', /^[0-9a-f]{64}$/) } : {}),
    ...(publicPackage ? { publicPackage } : {}),
  };
  if (problems.length)
    throw new ValidationError('DECODE_FAILED', `${name}: bad backup file (${problems.join('; ')})`, [
      name,
      ...problems.map((p) => `${name}:${p.slice(0, p.indexOf(':'))}`),
    ]);
  return file;
}
