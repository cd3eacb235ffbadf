/**
 * `aaps unseal --out FILE`: the file opened secrets go to. It is made before the unseal request is
 * signed, so a path that cannot be written is found while nothing has been logged or released
 * (a request id is spent once posted); and it is a new file, created exclusively with mode 0600 in
 * FILE's directory and, once written and synced, renamed over FILE (the directory synced after,
 * so a power loss does not take the values back). So an existing FILE readable by others (and
 * anyone holding it open) never sees the values, and a symbolic link at FILE is replaced, not
 * followed. The new file is removed when the command ends without writing it, a stop signal
 * included (`discardOnSignal`).
 */
import { randomBytes } from 'node:crypto';
import {
  closeSync,
  constants,
  fchmodSync,
  fsyncSync,
  lstatSync,
  openSync,
  renameSync,
  rmSync,
  writeSync,
} from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { syncDirectory } from '@aaps/agents';
import { UsageError } from './usage-error.js';

export interface SecretFile {
  /** Write `text` (the only write) and put the file in FILE's place. */
  commit(text: string): void;
  /** Remove the new file, if it was not committed; FILE is left as it was. */
  discard(): void;
}

const code = (e: unknown) => (e as NodeJS.ErrnoException | undefined)?.code ?? String(e);

/** Make the new file for `path` (0600, exclusively); a `UsageError` naming `path` when it cannot be. */
export function prepareSecretFile(path: string): SecretFile {
  try {
    const st = lstatSync(path);
    if (!st.isFile() && !st.isSymbolicLink())
      throw new UsageError(`--out ${path}: not a regular file (the opened values would replace it)`);
  } catch (e) {
    if (e instanceof UsageError) throw e;
    if (code(e) !== 'ENOENT')
      throw new UsageError(`--out ${path}: cannot be written (${code(e)})`, { cause: e });
  }
  const temp = join(dirname(path), `.${basename(path)}.${randomBytes(6).toString('hex')}.tmp`);
  let fd: number;
  try {
    const flags = constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | (constants.O_NOFOLLOW ?? 0);
    fd = openSync(temp, flags, 0o600);
  } catch (e) {
    throw new UsageError(`--out ${path}: cannot be written (${code(e)})`, { cause: e });
  }
  let open = true;
  let done = false;
  const close = () => {
    if (open) closeSync(fd);
    open = false;
  };
  return {
    commit(text) {
      try {
        fchmodSync(fd, 0o600); // whatever the umask made of it
        const bytes = Buffer.from(text, 'utf8');
        for (let at = 0; at < bytes.length; ) at += writeSync(fd, bytes, at);
        fsyncSync(fd);
        close();
      } catch (e) {
        close();
        rmSync(temp, { force: true });
        done = true;
        throw new Error(`--out ${path}: writing failed (${code(e)})`, { cause: e });
      }
      try {
        renameSync(temp, path);
        syncDirectory(dirname(path)); // the rename on disk before the values are said written
      } catch (e) {
        done = true;
        throw new Error(`--out ${path}: cannot replace it (${code(e)}); the values are in ${temp}`, {
          cause: e,
        });
      }
      done = true;
    },
    discard() {
      if (done) return;
      done = true;
      close();
      rmSync(temp, { force: true });
    },
  };
}

/** The exit code of a stop signal (128 + its number), as `aaps up` exits. */
const SIGNAL_EXIT = { SIGINT: 130, SIGTERM: 143 } as const;

/**
 * Until the returned function is called, Ctrl-C (SIGINT) or SIGTERM removes `file`'s new file
 * (FILE is left as it was) and ends the process with the signal's exit code. Without it, a signal
 * ends the process at once and leaves the empty 0600 `.FILE.<hex>.tmp` beside FILE.
 */
export function discardOnSignal(file: SecretFile): () => void {
  const offs = (['SIGINT', 'SIGTERM'] as const).map((signal) => {
    const stop = () => {
      file.discard();
      process.exit(SIGNAL_EXIT[signal]);
    };
    process.once(signal, stop);
    return () => void process.off(signal, stop);
  });
  return () => {
    for (const off of offs) off();
  };
}
