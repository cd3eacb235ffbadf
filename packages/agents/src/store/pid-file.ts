/**
 * Pid files: which process has a data directory, so that a second start is told who, in one line.
 * `aaps up` and `aaps gateway` take theirs as their lock (gateway `cli/data-dir-lock.ts`); a party
 * writes `party.pid` beside its database once it holds LevelDB's lock, which is what keeps a second
 * party out: its pid file only names the holder.
 */
import { readFileSync, unlinkSync } from 'node:fs';
import { createFileDurably, writeFileDurably } from './files.js';

/** The pid file a party process writes in its data directory while its database is open. */
export const PARTY_PID_FILE = 'party.pid';

/** The pid file (and lock) `aaps up` and `aaps gateway` write in their data directory. */
export const AAPS_UP_PID_FILE = 'aaps-up.pid';

/**
 * Whether `pid` is another running process; with `marker`, one whose command line contains it
 * (on Linux, where /proc says; elsewhere alive is all that can be told), so that a pid the system
 * gave to an unrelated process since is not taken for the holder.
 */
export function runningOther(pid: number, marker?: string): boolean {
  if (!Number.isSafeInteger(pid) || pid <= 0 || pid === process.pid) return false;
  try {
    process.kill(pid, 0);
  } catch (e) {
    // EPERM: it exists but is another user's.
    if ((e as NodeJS.ErrnoException).code !== 'EPERM') return false;
  }
  if (marker === undefined) return true;
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(marker);
  } catch {
    return true; // no /proc: alive is all we can tell
  }
}

/**
 * The running process (not this one) that the pid file at `path` names, or undefined: no file,
 * not a pid, or a process that is gone (or, with `marker`, whose command line lacks it).
 */
export function pidFileHolder(path: string, marker?: string): number | undefined {
  let pid = Number.NaN;
  try {
    pid = Number.parseInt(readFileSync(path, 'utf8'), 10);
  } catch {
    return undefined; // unreadable or gone
  }
  return runningOther(pid, marker) ? pid : undefined;
}

/** The parent of process `pid` as /proc says, or undefined where it cannot be read. */
export function parentPid(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // pid (comm) state ppid ...: comm may hold spaces and parentheses, so read after the last ')'.
    const ppid = Number.parseInt(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1] ?? '', 10);
    return Number.isSafeInteger(ppid) ? ppid : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Write this process's pid to `path` (0600). `exclusive`: fail with `EEXIST` if the file is there
 * (a lock); otherwise replace it (a pid file left by a holder that died). Either way the file
 * appears with the pid in it (written beside it, then linked or renamed into place): one read
 * between its creation and the pid's write would name no process, and a lock that names none is
 * taken over (`aaps up`'s, gateway `cli/data-dir-lock.ts`) while its holder runs.
 */
export function writePidFile(path: string, exclusive: boolean): void {
  const text = `${process.pid}\n`;
  if (exclusive) createFileDurably(path, text);
  else writeFileDurably(path, text, 0o600);
}

/** Remove the pid file at `path` if it still names this process. */
export function releasePidFile(path: string): void {
  try {
    if (Number.parseInt(readFileSync(path, 'utf8'), 10) === process.pid) unlinkSync(path);
  } catch {
    // already gone
  }
}
