/**
 * One `aaps up` or `aaps gateway` per data directory. Two would share its LevelDB stores (the
 * second fails to open them, deep inside a party) and its ports; the lock file turns that into one
 * line at the start: which process holds the directory. A lock left by a process that died (kill
 * -9, a crash) is taken over.
 */
import { mkdirSync, rmdirSync, unlinkSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { AAPS_UP_PID_FILE, pidFileHolder, releasePidFile, writePidFile } from '@aaps/agents';

const LOCK_FILE = AAPS_UP_PID_FILE;

export interface DataDirLock {
  readonly path: string;
  /** Remove the lock file, if it is still this process's. */
  release(): void;
}

/**
 * Take `dataDir` for this process, or throw naming the `aaps` process that has it. The directory
 * must exist.
 */
export function lockDataDir(dataDir: string): DataDirLock {
  const path = join(dataDir, LOCK_FILE);
  for (let attempt = 0; ; attempt++) {
    try {
      writePidFile(path, true);
      break;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST' || attempt > 0) throw e;
    }
    // A running `aaps` (by its command line, on Linux) holds it; any other pid is stale.
    const holder = pidFileHolder(path, 'aaps');
    if (holder !== undefined) {
      throw new Error(
        `another aaps (pid ${holder}) is using ${dataDir}: stop it first, or use another --data-dir`,
      );
    }
    try {
      unlinkSync(path);
    } catch (e) {
      // Another start took the stale lock away first: try once more to take it.
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
    }
  }
  return {
    path,
    release() {
      releasePidFile(path);
    },
  };
}

/**
 * Run `body` holding `dataDir` (created 0700 if need be, with any parents missing), and give it
 * back however `body` ends. Should `body` (or the lock) fail, every directory this call created is
 * removed again if it is empty, deepest first: a start refused before it wrote anything leaves no
 * directory behind, however deep its `--data-dir`; one that wrote something leaves that in place.
 */
export async function withDataDirLock<T>(dataDir: string, body: () => Promise<T>): Promise<T> {
  const created = mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  try {
    const lock = lockDataDir(dataDir);
    try {
      return await body();
    } finally {
      lock.release();
    }
  } catch (e) {
    if (created !== undefined) removeEmptyUpTo(resolve(dataDir), resolve(created));
    throw e;
  }
}

/** Remove `dir` and its parents up to `top` (inclusive), each only if empty; stop at the first that is not. */
function removeEmptyUpTo(dir: string, top: string): void {
  for (let d = dir; ; d = dirname(d)) {
    try {
      rmdirSync(d);
    } catch {
      return; // not empty, or gone: it and its parents stay as they are
    }
    if (d === top || dirname(d) === d) return;
  }
}
