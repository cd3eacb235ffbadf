/**
 * A small file written and removed so that a crash, of the process or of the machine, leaves it
 * whole or absent, never empty or half-written: the text goes to `<path>.tmp` in the same
 * directory, which is synced, then renamed over `path`, and the directory is synced so that the
 * rename itself is on disk. A removal syncs the directory too. A `<path>.tmp` left by a crash
 * holds nothing anyone reads; `removeLeftover` deletes it.
 *
 * The file functions are given (the caller owns the I/O, as the GitOps executor does).
 */
import { dirname } from 'node:path';

/** An open file: what `FileHandle` of `node:fs/promises` offers that is used here. */
export interface SyncableFile {
  writeFile(text: string): Promise<void>;
  sync(): Promise<void>;
  close(): Promise<void>;
}

/** The `node:fs/promises` functions used here. */
export interface DurableFiles {
  open(path: string, flags: 'w' | 'r'): Promise<SyncableFile>;
  rename(from: string, to: string): Promise<void>;
  rm(path: string, opts: { force: true }): Promise<void>;
}

/** Where `path`'s text is written before it is renamed into place. */
export function temporaryPath(path: string): string {
  return `${path}.tmp`;
}

/** Errors of a platform or file system that cannot open or sync a directory (not of the disk). */
const NO_DIRECTORY_SYNC = new Set(['EISDIR', 'EPERM', 'EINVAL', 'ENOTSUP', 'EOPNOTSUPP']);

async function syncDirectory(fs: DurableFiles, dir: string): Promise<void> {
  let handle: SyncableFile;
  try {
    handle = await fs.open(dir, 'r');
  } catch (e) {
    if (NO_DIRECTORY_SYNC.has(String((e as { code?: unknown }).code))) return;
    throw e;
  }
  try {
    await handle.sync();
  } catch (e) {
    if (!NO_DIRECTORY_SYNC.has(String((e as { code?: unknown }).code))) throw e;
  } finally {
    await handle.close();
  }
}

/** Replaces `path` with `text`, durably; on failure `path` is as it was and no temporary file stays. */
export async function writeFileDurably(fs: DurableFiles, path: string, text: string): Promise<void> {
  const tmp = temporaryPath(path);
  try {
    const handle = await fs.open(tmp, 'w');
    try {
      await handle.writeFile(text);
      await handle.sync();
    } finally {
      await handle.close();
    }
    await fs.rename(tmp, path);
  } catch (e) {
    await fs.rm(tmp, { force: true }).catch(() => undefined);
    throw e;
  }
  await syncDirectory(fs, dirname(path));
}

/** Removes `path` (absent is fine), durably. */
export async function removeFileDurably(fs: DurableFiles, path: string): Promise<void> {
  await fs.rm(path, { force: true });
  await syncDirectory(fs, dirname(path));
}

/** Removes the temporary file a write of `path` cut short by a crash may have left. */
export async function removeLeftover(fs: DurableFiles, path: string): Promise<void> {
  await fs.rm(temporaryPath(path), { force: true });
}
