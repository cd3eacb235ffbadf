/**
 * Rebuilding a key package from k of its m backup files. `shamir-secret-sharing` silently returns
 * wrong bytes for a wrong or mixed set, so nothing is combined unchecked, in this order:
 *
 * 1. every file parses (else `ValidationError`, `fields` name the file);
 * 2. all files belong to one set (of the expected party, when given): same header bytes (party, group key, verifying share, k, m, set
 *    id, share digests…) and ciphertext commitment; files outside the largest agreeing group are named
 *    (`ProtocolError('INCONSISTENT_TRANSCRIPT')`, `culprits` = file names), and the message lists
 *    every set with its files (on a tie, all of them);
 * 3. no index twice (`DUPLICATE_IDENTIFIER`), each file's ciphertext matches the set's commitment
 *    (`COMMITMENT_MISMATCH`) and its share matches the set's digest for its index
 *    (`INVALID_SECRET_SHARE`), each naming the file;
 * 4. at least k good files remain (`QUORUM_UNREACHABLE`, naming the bad ones);
 * 5. the combined key opens the AEAD over the header (`VerificationError`, check `backup.ciphertext`);
 * 6. its signing share s satisfies s·G == the header's verifying share (`VerificationError`, check
 *    `backup.verifying-share`); the package is the header's (`backup.header`); its group key is the
 *    one the caller trusts (`backup.group-key`), and its verifying share too
 *    (`backup.verifying-share`; the message tells another party's share from another sharing of
 *    the group key: a backup from before a refresh, and what to do instead).
 */
import {
  bytesToHex,
  decryptAtRest,
  equalBytes,
  type KeyPackage,
  ProtocolError,
  type PublicKeyPackage,
  SecretBytes,
  ValidationError,
  VerificationError,
} from '@aaps/mpc-core';
import { combine } from 'shamir-secret-sharing';
import {
  type BackupFile,
  ciphertextCommitment,
  headerBytes,
  parseBackupFile,
  shareDigest,
} from './backup-file.js';
import { checkSigningShare } from './split.js';

/** One input file: its name (path) for error messages, and its parsed JSON. */
export interface BackupInput {
  readonly name: string;
  readonly json: unknown;
}

export interface RestoreOptions {
  /** Keys the caller trusts from elsewhere (`GET /v1/keys`, the gateway's trusted root). */
  readonly expectGroupPublicKey?: Uint8Array;
  readonly expectVerifyingShare?: Uint8Array;
  readonly expectPartyId?: string;
}

export interface RestoredBackup {
  /** The package's `KeyPackageCodec` bytes. */
  readonly keyPackageBytes: Uint8Array;
  readonly keyPackage: KeyPackage;
  readonly partyId: string;
  readonly publicPackage?: PublicKeyPackage;
  readonly rosterDigest?: string;
  readonly createdAt: string;
  readonly setIdHex: string;
  /** The files whose shares were combined. */
  readonly used: readonly string[];
}

export async function restoreBackup(
  inputs: readonly BackupInput[],
  opts: RestoreOptions = {},
): Promise<RestoredBackup> {
  if (inputs.length === 0)
    throw new ProtocolError('QUORUM_UNREACHABLE', 'no backup files given', [], { details: { have: 0 } });
  // 1. parse every file, reporting all that fail
  const parsed: { name: string; file: BackupFile }[] = [];
  const broken: ValidationError[] = [];
  for (const { name, json } of inputs) {
    try {
      parsed.push({ name, file: parseBackupFile(json, name) });
    } catch (e) {
      if (e instanceof ValidationError) broken.push(e);
      else throw e;
    }
  }
  if (broken.length)
    throw new ValidationError(
      broken.length === 1 ? broken[0]!.code : 'DECODE_FAILED',
      broken.map((e) => e.message).join('; '),
      broken.flatMap((e) => e.fields),
    );
  // 2. one set: group by header bytes
  const groups = new Map<string, { name: string; file: BackupFile }[]>();
  for (const p of parsed) {
    const key = `${bytesToHex(headerBytes(p.file))}/${bytesToHex(p.file.commitment)}`;
    groups.set(key, [...(groups.get(key) ?? []), p]);
  }
  if (groups.size > 1) {
    const sizes = [...groups.values()].map((g) => g.length).sort((a, b) => b - a);
    const tie = sizes[0] === sizes[1];
    const largest = [...groups.values()].find((g) => g.length === sizes[0])!;
    const culprits = tie
      ? parsed.map((p) => p.name)
      : parsed.filter((p) => !largest.includes(p)).map((p) => p.name);
    throw new ProtocolError(
      'INCONSISTENT_TRANSCRIPT',
      tie
        ? `the backup files come from ${groups.size} different sets or parties (or were edited), none in the majority: ${describeSets([...groups.values()])}; give files of one set only`
        : `${culprits.join(', ')} ${culprits.length === 1 ? 'is' : 'are'} not from the same backup set as the other files (another set, party or key, or edited): ${describeSets([...groups.values()])}; leave ${culprits.length === 1 ? 'it' : 'them'} out`,
      culprits,
      {
        details: {
          sets: [...groups.values()].map((g) => ({
            set: bytesToHex(g[0]!.file.setId),
            party: g[0]!.file.partyId,
            files: g.map((p) => p.name),
          })),
        },
      },
    );
  }
  const set = parsed;
  const head = set[0]!.file;
  if (opts.expectPartyId !== undefined && head.partyId !== opts.expectPartyId)
    throw new ProtocolError(
      'INCONSISTENT_TRANSCRIPT',
      `the backup files are of party ${head.partyId}, not ${opts.expectPartyId}`,
      set.map((p) => p.name),
    );
  // 3. per-file checks
  const seen = new Map<number, string>();
  const duplicates: { name: string; index: number }[] = [];
  const badCommitment: string[] = [];
  const badShare: string[] = [];
  const good: { name: string; file: BackupFile }[] = [];
  for (const p of set) {
    const { file } = p;
    if (seen.has(file.index)) {
      duplicates.push({ name: p.name, index: file.index });
      continue;
    }
    seen.set(file.index, p.name);
    if (!equalBytes(ciphertextCommitment(file.setId, file.ciphertext), file.commitment)) {
      badCommitment.push(p.name);
      continue;
    }
    if (!equalBytes(shareDigest(file.setId, file.index, file.share), file.shareDigests[file.index - 1]!)) {
      badShare.push(p.name);
      continue;
    }
    good.push(p);
  }
  if (duplicates.length)
    throw new ProtocolError(
      'DUPLICATE_IDENTIFIER',
      `${duplicates.map((d) => `${d.name} repeats share ${d.index} of ${seen.get(d.index)}`).join('; ')}`,
      duplicates.map((d) => d.name),
    );
  const culprits = [...badCommitment, ...badShare];
  // 4. enough good files
  if (good.length < head.k)
    throw new ProtocolError(
      'QUORUM_UNREACHABLE',
      `${good.length} usable backup file(s) of party ${head.partyId}, ${head.k} of ${head.m} needed${
        culprits.length ? `; refused: ${culprits.join(', ')} (ciphertext or share altered)` : ''
      }`,
      culprits,
      { details: { have: good.length, need: head.k, badCommitment, badShare } },
    );
  if (culprits.length)
    throw new ProtocolError(
      badCommitment.length ? 'COMMITMENT_MISMATCH' : 'INVALID_SECRET_SHARE',
      `${culprits.join(', ')}: ${badCommitment.length ? 'ciphertext' : 'share'} does not match the set's commitment; leave ${
        culprits.length === 1 ? 'it' : 'them'
      } out`,
      culprits,
      { details: { badCommitment, badShare } },
    );
  // 5. combine k shares and open the package
  const used = good.slice(0, head.k);
  let keyPackageBytes: Uint8Array;
  let key: SecretBytes | undefined;
  try {
    // `combine` throws a bare Error on repeated x coordinates or unequal lengths.
    const keyBytes = await combine(used.map((p) => p.file.share));
    key = new SecretBytes(keyBytes);
    keyBytes.fill(0);
    keyPackageBytes = decryptAtRest(key, head.ciphertext, headerBytes(head));
  } catch (cause) {
    throw new VerificationError(
      'backup.ciphertext',
      'the combined backup key does not open the key package: the set was made wrong or forged',
      { cause },
    );
  } finally {
    key?.wipe();
  }
  // 6. the package is the one the header (and the caller) vouch for
  const kp = checkSigningShare(keyPackageBytes, head.verifyingShare, 'backup.verifying-share');
  const refusal = packageMismatch(head, kp, opts);
  if (refusal) {
    kp.signingShare.wipe();
    throw refusal;
  }
  return {
    keyPackageBytes,
    keyPackage: kp,
    partyId: head.partyId,
    createdAt: head.createdAt,
    setIdHex: bytesToHex(head.setId),
    used: used.map((p) => p.name),
    ...(head.publicPackage ? { publicPackage: head.publicPackage } : {}),
    ...(head.rosterDigest !== undefined ? { rosterDigest: head.rosterDigest } : {}),
  };
}

/** `set 1a2b3c4d (party audit): a.json, b.json; set 5e6f7a8b (party audit): c.json`: which file is of which set. */
function describeSets(groups: readonly (readonly { name: string; file: BackupFile }[])[]): string {
  const ids = groups.map((g) => bytesToHex(g[0]!.file.setId).slice(0, 8));
  return groups
    .map((g, i) => {
      const edited = ids.indexOf(ids[i]!) !== i || ids.lastIndexOf(ids[i]!) !== i ? ', headers differ' : '';
      return `set ${ids[i]} (party ${g[0]!.file.partyId}${edited}): ${g.map((p) => p.name).join(', ')}`;
    })
    .join('; ');
}

/** A key's first 16 hex digits, for a message that names it (the full value goes in `details`). */
export const shortHex = (b: Uint8Array) => `${bytesToHex(b).slice(0, 16)}…`;

/** What a restore does instead of a stale share: the group repairs a party that holds none. */
const staleRemedy = (partyId: string) =>
  `nothing was written; instead start the party with no key and run \`aaps keys repair ${partyId} --reason TEXT\` on the gateway (k parties on the current shares rebuild its share; the others may be down), or restore a backup set taken after the last refresh`;

/**
 * Step 6's checks, in order, each with its own `check` and message: the package against its own
 * header (`backup.header`: the set was made wrong or forged), against `--expect-group-key`
 * (`backup.group-key`: a backup of another group key), and against `--expect-verifying-share`
 * (`backup.verifying-share`: another party's share, or, the group key being the same, another
 * sharing of it from before a refresh or repair, which no longer combines with the other parties').
 */
function packageMismatch(
  head: BackupFile,
  kp: KeyPackage,
  opts: RestoreOptions,
): VerificationError | undefined {
  const headerPackageShare = head.publicPackage?.verifyingShares[kp.identifier];
  if (
    kp.suite !== head.suite ||
    !equalBytes(kp.verifyingShare, head.verifyingShare) ||
    !equalBytes(kp.groupPublicKey, head.groupPublicKey) ||
    (head.publicPackage !== undefined &&
      (!equalBytes(head.publicPackage.groupPublicKey, kp.groupPublicKey) ||
        !equalBytes(headerPackageShare ?? new Uint8Array(0), kp.verifyingShare)))
  )
    return new VerificationError(
      'backup.header',
      'the key package in the backup is not the one its header names (suite, group key, verifying share or public package): the set was made wrong or forged',
    );
  const expectedKey = opts.expectGroupPublicKey;
  if (expectedKey !== undefined && !equalBytes(kp.groupPublicKey, expectedKey))
    return new VerificationError(
      'backup.group-key',
      `the backup is of group key ${shortHex(kp.groupPublicKey)}, not the expected ${shortHex(expectedKey)} (--expect-group-key): it is a backup of another group key, from before a new DKG, or of another group`,
      { details: { backup: bytesToHex(kp.groupPublicKey), expected: bytesToHex(expectedKey) } },
    );
  const expected = opts.expectVerifyingShare;
  if (expected === undefined || equalBytes(kp.verifyingShare, expected)) return undefined;
  const details = { backup: bytesToHex(kp.verifyingShare), expected: bytesToHex(expected) };
  const mismatch = `the backup's verifying share ${shortHex(kp.verifyingShare)} is not the expected ${shortHex(expected)} (--expect-verifying-share)`;
  const other = Object.values(head.publicPackage?.verifyingShares ?? {}).some((v) => equalBytes(v, expected));
  if (other)
    return new VerificationError(
      'backup.verifying-share',
      `${mismatch}: the expected one is another participant's in the backup's own key package, not this party's: take this party's verifying_share from GET /v1/keys`,
      { details },
    );
  return new VerificationError(
    'backup.verifying-share',
    expectedKey !== undefined
      ? `${mismatch}, though its group key is the expected one: the backup is of another sharing of this group key, from before a refresh or repair, and its share no longer combines with the other parties'; ${staleRemedy(head.partyId)}`
      : `${mismatch}: if its group key ${shortHex(kp.groupPublicKey)} is the group's (group_public_key in GET /v1/keys), the backup is of another sharing of it, from before a refresh or repair, and its share no longer combines with the other parties'; ${staleRemedy(head.partyId)}`,
    { details },
  );
}
