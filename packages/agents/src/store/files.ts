/**
 * The party's files: its identity key and at-rest encryption key, both created with mode 0600.
 * Secrets are read into `SecretBytes` and never printed.
 */
import {
  chmodSync,
  chownSync,
  closeSync,
  constants,
  copyFileSync,
  existsSync,
  fchmodSync,
  fsyncSync,
  linkSync,
  lstatSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  writeSync,
} from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { parseJsonRefusingRepeats } from '@aaps/evidence';
import {
  bytesToHex,
  generateIdentityKey,
  hexToBytes,
  type IdentityKey,
  identityPublicKey,
  SecretBytes,
  ValidationError,
} from '@aaps/mpc-core';
import { randomBytes } from '@noble/hashes/utils.js';
import { runningOther } from './pid-file.js';

/** The temporary file a write of `path` goes to first, beside it: `.NAME.<pid>.<12 hex>.tmp`. */
function tempName(path: string): string {
  return `.${basename(path)}.${process.pid}.${bytesToHex(randomBytes(6))}.tmp`;
}

/**
 * Remove the temporary files of `path` that a write of it left when its process was killed
 * mid-write (SIGKILL, power loss): each holds the contents of `path` or of a write that never
 * became it (a key, for a key file), and nothing reads it. Only names of exactly {@link tempName}'s
 * form go, and only those whose writer is no longer running (a process of another pid that runs
 * may be writing it now).
 */
function removeStaleTemps(path: string): void {
  const dir = dirname(path);
  const prefix = `.${basename(path)}.`;
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return; // no directory yet: nothing was left in it
  }
  for (const name of names) {
    if (!name.startsWith(prefix)) continue;
    const writer = /^(\d{1,10})\.[0-9a-f]{12}\.tmp$/.exec(name.slice(prefix.length));
    if (writer === null || runningOther(Number(writer[1]))) continue;
    rmSync(join(dir, name), { force: true });
  }
}

/**
 * Write `contents` to a new temporary file beside `path`, created exclusively (with `mode`, less
 * the umask), then set to `finalMode` when given, before anything is written, and synced to disk.
 * Returns its path; on failure it is removed and the error thrown.
 */
function writeSyncedTemp(path: string, contents: string, mode: number, finalMode?: number): string {
  const tmp = join(dirname(path), tempName(path));
  const fd = openSync(tmp, 'wx', mode);
  try {
    try {
      if (finalMode !== undefined) fchmodSync(fd, finalMode);
      const bytes = Buffer.from(contents, 'utf8');
      for (let at = 0; at < bytes.length; ) at += writeSync(fd, bytes, at);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
  } catch (e) {
    rmSync(tmp, { force: true });
    throw e;
  }
  return tmp;
}

/**
 * Write `path` (create it, or replace it) whole or not at all, and durably: the contents go to a
 * temporary file in the same directory, synced, which is then renamed over `path`, and the
 * directory is synced so that the rename itself is on disk. A process killed, a disk that fills or
 * a power cut at any point leaves at `path` the old file whole or the new one whole, never an
 * empty or half-written one; a reader holding the old file open reads it to its end. The file a
 * write cut short leaves (`.NAME.<pid>.<hex>.tmp` beside it) is removed by the next write of
 * `path`; one that fails in this process is removed at once.
 *
 * A new file gets `mode` (less the umask, as any new file); a file replaced keeps its mode and,
 * where this process may give it (root), its owner and group, as a rewrite in place would. A
 * symbolic link at `path` is replaced by the file, not followed. Every state file a later start
 * reads is written through this (the roster and party configs of `layoutCluster` and `aaps party
 * init`, the gateway's public package, a saved checkpoint, `aaps up`'s record of a first start).
 */
export function writeFileDurably(path: string, contents: string, mode = 0o644): void {
  removeStaleTemps(path);
  let old: { mode: number; uid: number; gid: number } | undefined;
  try {
    const st = lstatSync(path);
    if (st.isFile()) old = { mode: st.mode & 0o7777, uid: st.uid, gid: st.gid };
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
  }
  const tmp = writeSyncedTemp(path, contents, old === undefined ? mode : 0o600, old?.mode);
  try {
    const uid = process.getuid?.(); // undefined on Windows, which has no such owners
    if (old !== undefined && uid !== undefined && (old.uid !== uid || old.gid !== process.getgid?.())) {
      try {
        chownSync(tmp, old.uid, old.gid);
      } catch (e) {
        // Not root: the new file is this user's, as a file it wrote afresh would be.
        if ((e as NodeJS.ErrnoException).code !== 'EPERM') throw e;
      }
    }
    renameSync(tmp, path);
  } catch (e) {
    rmSync(tmp, { force: true });
    throw e;
  }
  syncDirectory(dirname(path));
}

/**
 * Create `path` (0600; its directory made 0700 if need be) whole or not at all, and durably: the
 * contents go to a temporary file in the same directory, synced, then linked into place (the
 * directory synced), so no reader, and no process killed mid-write, ever sees an empty or
 * half-written file at `path` (only, at worst, an unused `.NAME.*.tmp` beside it, which the next
 * write of `path` removes: {@link removeStaleTemps}). The link fails with `EEXIST` when `path`
 * exists (another process made it first): a file is never replaced. Key files and the data
 * directory's lock file (`aaps-up.pid`) are made this way.
 */
export function createFileDurably(path: string, contents: string): void {
  removeStaleTemps(path);
  const dir = dirname(path);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const tmp = writeSyncedTemp(path, contents, 0o600, 0o600);
  try {
    try {
      linkSync(tmp, path);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      // A file system without hard links: an exclusive copy still never replaces a key.
      if (code !== 'EPERM' && code !== 'ENOTSUP' && code !== 'EOPNOTSUPP' && code !== 'ENOSYS') throw e;
      copyFileSync(tmp, path, constants.COPYFILE_EXCL);
      chmodSync(path, 0o600);
    }
  } finally {
    rmSync(tmp, { force: true });
  }
  syncDirectory(dir);
}

/** Make a directory's entries durable (best effort: not every platform opens directories). */
export function syncDirectory(dir: string): void {
  let fd: number | undefined;
  try {
    fd = openSync(dir, 'r');
    fsyncSync(fd);
  } catch {
    // e.g. Windows: the entry is as durable as the platform makes it
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

/** What a data key file that does not hold a key asks the operator to do. */
const BAD_DATA_KEY_HINT =
  "if this party has no database yet (no db/ in its data directory) delete the file and start again; otherwise restore it from your copy: the database's key share is encrypted under it";

/** What an identity key file that does not hold a key asks the operator to do. */
const BAD_IDENTITY_KEY_HINT: Record<IdentityKeyKind, string> = {
  party:
    'restore it from your copy: its public key is in the roster (a new key needs a new roster entry: `aaps party init`)',
  approver: 'restore it from your copy: its public key is in the roster (a new key needs a new roster entry)',
  gateway: 'restore it from your copy: its public key is in the roster (a new key needs a new roster entry)',
};

function readSecretHex(path: string, what: string, hint: string): SecretBytes {
  const mode = statSync(path).mode & 0o777;
  if (mode & 0o077) {
    throw new ValidationError(
      'FORBIDDEN',
      `${what} ${path} is readable by others (mode ${mode.toString(8)}); chmod 600 it`,
      [path],
    );
  }
  const hex = readFileSync(path, 'utf8').trim();
  try {
    return new SecretBytes(hexToBytes(hex, what, 32));
  } catch (cause) {
    if (!(cause instanceof ValidationError)) throw cause;
    // Never the contents: only what is wrong with them.
    const found =
      hex.length === 0
        ? 'is empty (a first start stopped while writing it, or a torn copy)'
        : 'does not hold a 32-byte key as 64 lower-case hex digits';
    throw new ValidationError(cause.code, `${what} ${path} ${found}: ${hint}`, [path], {
      cause,
    });
  }
}

/**
 * Make the database directory `path` owner only (0700) before LevelDB opens it: it holds the sealed
 * key share and nonces, the audit trail and the witness records, and LevelDB alone would create it
 * 0755 under umask 022. One there already is tightened. Returns whether it was created (so a start
 * that then fails to open it can remove it again).
 */
export function prepareStoreDir(path: string): boolean {
  const created = !existsSync(path);
  if (created) mkdirSync(path, { recursive: true, mode: 0o700 });
  else if ((statSync(path).mode & 0o077) !== 0) chmodSync(path, 0o700);
  return created;
}

/** Whose identity key a file holds: it decides what a missing file's error suggests. */
export type IdentityKeyKind = 'party' | 'approver' | 'gateway';

const MISSING_KEY: Record<IdentityKeyKind, { what: string; hint: string }> = {
  party: { what: 'identity key', hint: 'run `aaps party init`' },
  approver: {
    what: 'approver key',
    hint: 'pass --approver ID with the --data-dir `aaps approver init` made its key in (or that of the running `aaps up`), or --approver-key FILE',
  },
  gateway: {
    what: 'gateway key',
    hint: 'pass the --data-dir of the `aaps up` that made it, or --gateway-key FILE',
  },
};

/**
 * Load the identity key at `path`, or create it (0600) when `create` is set; `kind` says whose key
 * it is, for the hint when it is missing.
 */
export function loadOrCreateIdentityKey(
  path: string,
  create: boolean,
  kind: IdentityKeyKind = 'party',
): IdentityKey {
  if (create && !existsSync(path)) {
    // The write removes what an earlier one cut short (`createFileDurably`).
    const key = generateIdentityKey();
    createFileDurably(path, `${bytesToHex(key.secretKey.expose())}\n`);
    return key;
  }
  removeStaleTemps(path);
  if (!existsSync(path)) {
    const { what, hint } = MISSING_KEY[kind];
    throw new ValidationError('NOT_FOUND', `${what} ${path} does not exist (${hint})`, [path]);
  }
  const secretKey = readSecretHex(path, MISSING_KEY[kind].what, BAD_IDENTITY_KEY_HINT[kind]);
  return { secretKey, publicKey: identityPublicKey(secretKey) };
}

/** Load the 32-byte at-rest key from `path`, or create it (0600) when `create` is set. */
/**
 * Create a new 32-byte at-rest key at `path` (0600), or return undefined when the file exists
 * already (another start may have just made it): a caller that gets a key knows it wrote the file.
 */
export function createDataKey(path: string): SecretBytes | undefined {
  const k = randomBytes(32);
  try {
    createFileDurably(path, `${bytesToHex(k)}\n`);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'EEXIST') return undefined;
    throw e;
  }
  return new SecretBytes(k);
}

export function loadOrCreateDataKey(path: string, create: boolean): SecretBytes {
  if (create && !existsSync(path)) {
    // The write removes what an earlier one cut short (`createFileDurably`).
    const k = randomBytes(32);
    createFileDurably(path, `${bytesToHex(k)}\n`);
    return new SecretBytes(k);
  }
  removeStaleTemps(path);
  if (!existsSync(path)) throw new ValidationError('NOT_FOUND', `data key ${path} does not exist`, [path]);
  return readSecretHex(path, 'data key', BAD_DATA_KEY_HINT);
}

/** The plain meaning of the common reasons a file cannot be read, with the code an operator searches for. */
const READ_FAILURES: Readonly<Record<string, string>> = {
  ENOENT: 'it does not exist',
  EISDIR: 'it is a directory, not a file',
  EACCES: 'permission denied (the user this runs as may not read it or a directory above it)',
  EPERM: 'operation not permitted',
  ENOTDIR: 'a part of its path is a file, not a directory',
  ELOOP: 'too many symbolic links (a loop?)',
  ENAMETOOLONG: 'its name is too long',
  EMFILE: 'too many open files in this process',
  ENFILE: 'too many open files on this system',
  EIO: 'an I/O error (the disk?)',
};

/** Why reading a file failed, in words: `it is a directory, not a file (EISDIR)`. */
export function readFailure(e: unknown): string {
  const code = (e as NodeJS.ErrnoException | undefined)?.code;
  if (typeof code === 'string') {
    const meaning = READ_FAILURES[code];
    return meaning === undefined ? code : `${meaning} (${code})`;
  }
  return e instanceof Error ? e.message : String(e);
}

/**
 * A JSON file a party is configured by (its config, roster, policy). A key given twice is refused,
 * naming its dot path (escaped: the line is printed): `JSON.parse` would keep the last silently,
 * so an old line left below an edit (a narrowed `allow` followed by the wide one) would win unseen.
 */
export function readJsonFile(path: string, what: string): unknown {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (cause) {
    throw new ValidationError('NOT_FOUND', `${what} ${path} cannot be read: ${readFailure(cause)}`, [path], {
      cause,
    });
  }
  const read = parseJsonRefusingRepeats(text);
  if ('notJson' in read)
    throw new ValidationError('DECODE_FAILED', `${what} ${path} is not valid JSON`, [path], {
      cause: read.notJson,
    });
  if ('repeated' in read) {
    const { shown } = read.repeated;
    throw new ValidationError(
      'DECODE_FAILED',
      `${what} ${path}: ${shown} is given twice (say it once: JSON keeps only the last)`,
      [shown],
    );
  }
  return read.value;
}

/** Write `value` as JSON to `path` (its directory made if need be), whole and durably: {@link writeFileDurably}. */
export function writeJsonFile(path: string, value: unknown, mode = 0o644): void {
  mkdirSync(dirname(path), { recursive: true });
  writeFileDurably(path, `${JSON.stringify(value, null, 2)}\n`, mode);
}
