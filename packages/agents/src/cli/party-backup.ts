/**
 * `aaps party backup` and `aaps party restore`: split a stopped party's key package into m files
 * for custodians, and rebuild it from any k of them.
 *
 *   aaps party backup  --config F --split k/m --out DIR
 *   aaps party restore --config F [--force] [--expect-group-key HEX] [--expect-verifying-share HEX]
 *                      [--checkpoint NOTE] FILE...
 *
 * Both open the party's LevelDB, so the party process must be stopped (LevelDB holds a lock).
 * Exit 0 on success; 1 when the operation is refused (party running, no key, a backup while a new
 * share is pending (not yet committed), a key already there (or, with --force, one of another
 * group key or sharing than the backup's without the --expect flag), a wrong, short or mixed set of
 * files, a share that fails its verifying share or the expected keys); 2 on a usage error or
 * unreadable input. Errors are one line on stderr; no secret is ever printed. A restore that
 * nothing checked (no key held to compare, no --expect-verifying-share) succeeds with one warning
 * line on stderr: it cannot tell a backup from before a key refresh.
 */
import { mkdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseJsonRefusingRepeats } from '@aaps/evidence';
import {
  AapsError,
  bytesToHex,
  equalBytes,
  hexToBytes,
  type KeyPackage,
  KeyPackageCodec,
  ValidationError,
  VerificationError,
} from '@aaps/mpc-core';
import { backupFileToJson } from '../backup/backup-file.js';
import { restoreBackup, shortHex } from '../backup/restore.js';
import { backupFileName, splitBackup } from '../backup/split.js';
import { missingValue, splitFlag } from '../flag-arg.js';
import { parseRoster, rosterDigest } from '../roster.js';
import { createFileDurably, readJsonFile } from '../store/files.js';
import type { PartyStore, StoredKey } from '../store/level.js';
import {
  checkRestoreCheckpoint,
  recordRestoreCheckpoint,
  verifyRestoreCheckpoint,
} from './restore-checkpoint.js';
import { loadPartyConfig, loadPartyDataKey, openStoppedPartyStore, Refused } from './stopped-party.js';

export interface CliIo {
  out(line: string): void;
  err(line: string): void;
}

const stdio: CliIo = {
  out: (line) => process.stdout.write(`${line}\n`),
  err: (line) => process.stderr.write(`${line}\n`),
};

const BACKUP_USAGE = 'usage: aaps party backup --config F --split k/m --out DIR';
const RESTORE_USAGE =
  'usage: aaps party restore --config F [--force] [--expect-group-key HEX] [--expect-verifying-share HEX] [--checkpoint NOTE] FILE...';

/** `--help` (or `-h`) anywhere: the command prints its usage on stdout and exits 0. */
function wantsHelp(argv: readonly string[]): boolean {
  return argv.some((a) => a === '--help' || a === '-h');
}

/** A usage error or unreadable input: exit 2. Anything else refused: exit 1. */
class UsageError extends Error {}

type Env = Readonly<Record<string, string | undefined>>;

/** Splits our own flags (and positionals) from the party's config flags. */
function splitArgs(argv: readonly string[], own: readonly string[], bool: readonly string[], usage: string) {
  const mine: Record<string, string> = {};
  const flags = new Set<string>();
  const rest: string[] = [];
  const positional: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const flag = splitFlag(a);
    if (flag === undefined) {
      positional.push(a);
      continue;
    }
    const { name, inline } = flag;
    if (bool.includes(name)) {
      flags.add(name);
      continue;
    }
    if (own.includes(name)) {
      if (inline === undefined && missingValue(argv[i + 1]))
        throw new UsageError(`--${name} needs a value; ${usage}`);
      mine[name] = inline ?? argv[++i]!;
      continue;
    }
    rest.push(a);
    if (inline === undefined && !missingValue(argv[i + 1])) rest.push(argv[++i]!);
  }
  return { mine, flags, rest, positional };
}

function exitCode(e: unknown, io: CliIo, prefix: string): number {
  if (e instanceof UsageError) {
    io.err(`${prefix}: ${e.message}`);
    return 2;
  }
  if (e instanceof Refused) {
    io.err(`${prefix}: ${e.message}`);
    return 1;
  }
  if (e instanceof ValidationError && !(e instanceof VerificationError)) {
    io.err(`${prefix}: ${e.message}`);
    return 2;
  }
  if (e instanceof AapsError) {
    const check = e instanceof VerificationError ? ` [${e.check}]` : '';
    io.err(`${prefix}: ${e.message}${check}`);
    return 1;
  }
  io.err(`${prefix}: ${e instanceof Error ? e.message : String(e)}`);
  return 1;
}

/** `aaps party backup --config F --split k/m --out DIR`. Returns the exit code. */
export async function runPartyBackup(argv: readonly string[], env: Env, io: CliIo = stdio): Promise<number> {
  const prefix = 'aaps party backup';
  if (wantsHelp(argv)) {
    io.out(BACKUP_USAGE);
    return 0;
  }
  try {
    const { mine, rest, positional } = splitArgs(argv, ['split', 'out'], [], BACKUP_USAGE);
    if (positional.length) throw new UsageError(`unexpected argument ${positional[0]}; ${BACKUP_USAGE}`);
    const m = /^(\d{1,3})\/(\d{1,3})$/.exec(mine.split ?? '');
    if (!m) throw new UsageError(`--split k/m is required (e.g. --split 3/5); ${BACKUP_USAGE}`);
    if (!mine.out) throw new UsageError(`--out DIR is required; ${BACKUP_USAGE}`);
    const k = Number(m[1]);
    const total = Number(m[2]);
    if (k < 2 || total < k || total > 255)
      throw new UsageError(`--split ${mine.split}: expected 2 <= k <= m <= 255`);
    const config = loadPartyConfig(rest, env);
    const store = await openStoppedPartyStore(config, () => loadPartyDataKey(config, false), true);
    try {
      const stored = await store.loadKey();
      if (!stored) throw new Refused(`party ${config.id} has no key yet: nothing to back up`);
      const kp = stored.keyPackage;
      try {
        await refuseIfPending(store, config.id);
      } catch (e) {
        kp.signingShare.wipe();
        throw e;
      }
      const files = await splitBackup(KeyPackageCodec.encode(kp.suite, kp), {
        k,
        m: total,
        partyId: config.id,
        groupPublicKey: kp.groupPublicKey,
        verifyingShare: kp.verifyingShare,
        publicPackage: stored.publicPackage,
        rosterDigest: stored.rosterDigest,
        createdAt: new Date().toISOString(),
      });
      kp.signingShare.wipe();
      const dir = resolve(mine.out);
      mkdirSync(dir, { recursive: true, mode: 0o700 });
      const written: string[] = [];
      for (const f of files) {
        const path = join(dir, backupFileName(f));
        // 0600, never over an existing file, whole and synced before the backup is said written.
        createFileDurably(path, `${JSON.stringify(backupFileToJson(f), null, 2)}\n`);
        written.push(path);
      }
      const setHex = Buffer.from(files[0]!.setId).toString('hex');
      await store.audit({
        at: new Date().toISOString(),
        event: 'key.backup',
        detail: { set: setHex, k, m: total },
      });
      io.out(
        `wrote ${total} backup files of party ${config.id} (any ${k} restore it; set ${setHex.slice(0, 8)}) to ${dir}: give one to each custodian`,
      );
      for (const p of written) io.out(p);
      return 0;
    } finally {
      await store.close();
    }
  } catch (e) {
    return exitCode(e, io, prefix);
  }
}

/**
 * A share a DKG or refresh left pending (this party verified it; the commit, sent once every party
 * verified it, has not reached it): the gateway commits it the next time it looks, and a backup of
 * the current share would then restore one the group no longer uses. Refused: back up after the
 * commit.
 */
async function refuseIfPending(store: PartyStore, partyId: string): Promise<void> {
  const pending = await store.loadPendingKey();
  if (pending === undefined) return;
  pending.key.keyPackage.signingShare.wipe();
  const { protocol, session } = pending.meta;
  throw new Refused(
    `party ${partyId} holds a ${protocol === 'refresh' ? 'refreshed share' : 'new key'} not yet committed (pending from ${protocol} session ${session}): the gateway commits it once every party verified it, the next time it looks, and the share a backup takes now is then one the group no longer uses. Start the party so the commit lands (GET /v1/keys then shows its new verifying_share; after a refresh that failed, \`aaps keys refresh\` replaces the pending share), stop it, and back up then`,
  );
}

/**
 * `--force` replaces a held key the store can open only with a backup of the same sharing, unless
 * the operator names what the backup holds: a backup of another group key needs
 * `--expect-group-key` (its key), and one of an older sharing of the same key (from before a
 * refresh or repair: its share no longer combines with the other parties' current ones) needs
 * `--expect-verifying-share` (its share). Otherwise it would put an unusable share over a good one
 * and say nothing.
 */
function refuseUnlessMeant(
  held: StoredKey,
  backup: KeyPackage,
  named: { groupKey: boolean; verifyingShare: boolean },
): void {
  if (!equalBytes(held.keyPackage.groupPublicKey, backup.groupPublicKey)) {
    if (!named.groupKey)
      throw new Refused(
        `the backup is of group key ${shortHex(backup.groupPublicKey)}, this party holds group key ${shortHex(held.keyPackage.groupPublicKey)}: pass --expect-group-key ${bytesToHex(backup.groupPublicKey)} to replace it`,
      );
    return;
  }
  if (!equalBytes(held.keyPackage.verifyingShare, backup.verifyingShare) && !named.verifyingShare)
    throw new Refused(
      `the backup is another sharing of this group key (verifying share ${shortHex(backup.verifyingShare)}, held ${shortHex(held.keyPackage.verifyingShare)}: from before a refresh or repair, it will not combine with the other parties' shares): pass --expect-verifying-share ${bytesToHex(backup.verifyingShare)} to restore it anyway, then repair or refresh`,
    );
}

/** `aaps party restore --config F [--force] FILE...`. Returns the exit code. */
export async function runPartyRestore(argv: readonly string[], env: Env, io: CliIo = stdio): Promise<number> {
  const prefix = 'aaps party restore';
  if (wantsHelp(argv)) {
    io.out(RESTORE_USAGE);
    return 0;
  }
  try {
    const { mine, flags, rest, positional } = splitArgs(
      argv,
      ['expect-group-key', 'expect-verifying-share', 'checkpoint'],
      ['force'],
      RESTORE_USAGE,
    );
    if (positional.length === 0)
      throw new UsageError(`give the backup files to restore from; ${RESTORE_USAGE}`);
    const config = loadPartyConfig(rest, env);
    const inputs = positional.map((name) => {
      let text: string;
      try {
        text = readFileSync(name, 'utf8');
      } catch (e) {
        throw new UsageError(
          `cannot read backup file ${name}: ${(e as NodeJS.ErrnoException).code ?? 'error'}`,
        );
      }
      const read = parseJsonRefusingRepeats(text);
      if ('notJson' in read) throw new UsageError(`backup file ${name} is not JSON`);
      // A key given twice: JSON.parse keeps the last, a custodian or another reader the first.
      if ('repeated' in read) throw new UsageError(`backup file ${name}: ${read.repeated.problem}`);
      return { name, json: read.value };
    });
    const expect = (flag: string) => {
      const v = mine[flag];
      if (v === undefined) return undefined;
      try {
        return hexToBytes(v.toLowerCase(), `--${flag}`);
      } catch {
        throw new UsageError(`--${flag}: expected hex`);
      }
    };
    const checkpointFile = mine.checkpoint;
    let checkpointText: string | undefined;
    if (checkpointFile !== undefined) {
      try {
        checkpointText = readFileSync(checkpointFile, 'utf8');
      } catch (e) {
        throw new UsageError(
          `cannot read --checkpoint ${checkpointFile}: ${(e as NodeJS.ErrnoException).code ?? 'error'}`,
        );
      }
    }
    const groupKey = expect('expect-group-key');
    const verifyingShare = expect('expect-verifying-share');
    const restored = await restoreBackup(inputs, {
      expectPartyId: config.id,
      ...(groupKey ? { expectGroupPublicKey: groupKey } : {}),
      ...(verifyingShare ? { expectVerifyingShare: verifyingShare } : {}),
    });
    if (!restored.publicPackage)
      throw new Refused('the backup carries no public key package: it cannot rebuild the party store');
    const checkpoint =
      checkpointText === undefined
        ? undefined
        : verifyRestoreCheckpoint(checkpointText, checkpointFile!, restored.publicPackage);
    const roster = parseRoster(readJsonFile(config.rosterPath, 'roster'));
    const store = await openStoppedPartyStore(config, () => loadPartyDataKey(config, true), false);
    try {
      let existing = false;
      let held: StoredKey | undefined;
      try {
        held = await store.loadKey();
        existing = held !== undefined;
      } catch {
        existing = true; // a key is there but does not open under this data key
      }
      if (existing && !flags.has('force'))
        throw new Refused(`party ${config.id} already has a key; pass --force to replace it with the backup`);
      if (held !== undefined) {
        try {
          refuseUnlessMeant(held, restored.keyPackage, {
            groupKey: groupKey !== undefined,
            verifyingShare: verifyingShare !== undefined,
          });
        } finally {
          held.keyPackage.signingShare.wipe();
        }
      }
      if (checkpoint !== undefined) await checkRestoreCheckpoint(store, config, checkpoint);
      // The key, the removal of the old share's nonces and the audit entry: one synced write.
      await store.restoreKey(
        {
          keyPackage: restored.keyPackage,
          publicPackage: restored.publicPackage,
          rosterDigest: restored.rosterDigest ?? rosterDigest(roster),
          createdAt: restored.createdAt,
        },
        (dropped) => ({
          at: new Date().toISOString(),
          event: 'key.restored',
          detail: {
            set: restored.setIdHex,
            files: restored.used.length,
            replaced: existing,
            nonces_dropped: dropped,
          },
        }),
      );
      const restoredShare = bytesToHex(restored.keyPackage.verifyingShare);
      restored.keyPackage.signingShare.wipe();
      const logRecord =
        checkpoint === undefined ? undefined : await recordRestoreCheckpoint(store, config, checkpoint);
      io.out(
        `restored the key of party ${config.id} from ${restored.used.length} backup files (set ${restored.setIdHex.slice(0, 8)}); its signing share matches its verifying share${logRecord === undefined ? '' : `; ${logRecord}`}`,
      );
      // Nothing told whether the backup's share is still the group's: say so, and how to check.
      if (held === undefined && verifyingShare === undefined)
        io.err(
          `${prefix}: warning: nothing checked this backup against the group's current keys (no key held to compare with, no --expect-verifying-share): a backup taken before a key refresh restores a share that no longer combines with the other parties', and the party cannot sign. Check it: its verifying share is ${restoredShare}; it must be this party's verifying_share in GET /v1/keys (or run the restore again with --force --expect-verifying-share set to that value)`,
        );
      return 0;
    } finally {
      await store.close();
    }
  } catch (e) {
    return exitCode(e, io, prefix);
  }
}
