/**
 * A trusted root the client CLI holds a gateway to (`aaps unseal`'s and `aaps log audit`'s, pinned
 * in the data directory or given with `--trusted-root FILE`) must be one only its user (or root)
 * can change: whoever else can write it, or the directory it is in, can put their own root in its
 * place, and the approver or auditor then trusts their keys. As ssh refuses a key file others can
 * write, such a file is refused, a usage error naming it, the mode found and the fix: the file (the
 * one a link names) writable by group or others, or a directory on its way (its own and every one
 * above it, up to `/`; and each directory a link on the way stands in, a link of a chain or a
 * directory link in the path given: whoever can write it can point the link elsewhere), or owned
 * by another user than the one running the command
 * or root: whoever can write a directory above it can rename the one below away and put their own
 * in its place (ssh's StrictModes checks the same way). A sticky directory others can write
 * (`/tmp`) is fine: there only an entry's owner (or the directory's, or root) can rename it. Not
 * checked on Windows, which has no POSIX modes.
 */
import { lstatSync, readlinkSync, statSync } from 'node:fs';
import { dirname, isAbsolute, resolve } from 'node:path';
import { printable } from './terminal-text.js';
import { UsageError } from './usage-error.js';

const octal = (mode: number) => (mode & 0o7777).toString(8).padStart(4, '0');

/**
 * What makes the trusted root at `path` one others can change, said after its path (`is writable
 * by group or others (mode 0664): …; chmod 600 PATH`), or `undefined` when only its user or root
 * can. A file that is not there is no problem here: reading it says so.
 */
export function looseTrustedRoot(
  path: string,
  platform: NodeJS.Platform = process.platform,
): string | undefined {
  if (platform === 'win32' || process.getuid === undefined) return undefined;
  const uid = process.getuid();
  const way = wayTo(path);
  if (way === undefined) return undefined;
  const { real, dirs, holders, named: namedIn } = way;
  const named = resolve(path);
  // The file, then its own directory and each one above it, then every other directory a link on
  // the way is looked up in (whoever can write one of those can point the link elsewhere).
  const above = (d: string) => d === '/' || real.startsWith(`${d}/`);
  const places = [
    real,
    ...dirs.filter(above).sort((a, b) => b.length - a.length),
    ...dirs.filter((d) => !above(d)),
  ];
  for (const at of places) {
    const st = statSync(at);
    const isDir = at !== real;
    // How the problem place is named after PATH: PATH itself, the file it links to, or a directory.
    const where = !isDir
      ? at === named
        ? 'is'
        : `links to ${printable(at)},`
      : at === dirname(real) || at === namedIn
        ? `is in ${printable(at)},`
        : holders.includes(at)
          ? `is reached through a link in ${printable(at)},`
          : `is under ${printable(at)},`;
    if (st.uid !== uid && st.uid !== 0)
      return `${where} owned by uid ${st.uid}, not by you (uid ${uid}) or root: whoever that is can replace the root you trust; keep ${isDir ? 'it in a directory' : 'a copy'} of your own (chmod 600)`;
    const sticky = isDir && (st.mode & 0o1000) !== 0;
    if ((st.mode & 0o022) !== 0 && !sticky)
      return `${where} writable by group or others (mode ${octal(st.mode)}): they can replace the root you trust; ${isDir ? `chmod go-w ${printable(at)}` : `chmod 600 ${printable(at)}`}`;
  }
  return undefined;
}

/** The most links followed on the way to a file, as Linux's ELOOP limit. */
const MAX_LINKS = 40;

/**
 * The way to the file at `path` as the system resolves it, each link followed where it stands
 * (`..` after a link is the link target's parent): the file's real path, every directory an entry
 * on the way is looked up in (each a real path), those of them that hold a link or the file
 * itself, and the one the path's own last entry is looked up in. `undefined` when the way ends (no such file, a loop): reading the file says so.
 */
function wayTo(
  path: string,
): { real: string; dirs: string[]; holders: string[]; named: string | undefined } | undefined {
  const dirs: string[] = [];
  const holders: string[] = [];
  const add = (list: string[], d: string) => {
    if (!list.includes(d)) list.push(d);
  };
  const queue = (isAbsolute(path) ? path : `${process.cwd()}/${path}`).split('/');
  // The path's own last entry: the directory it is looked up in is the one PATH is "in".
  let last = queue.length;
  let named: string | undefined;
  let cur = '/';
  let links = 0;
  try {
    for (let c = queue.shift(); c !== undefined; c = queue.shift()) {
      last--;
      if (last === 0 && named === undefined) named = cur;
      if (c === '' || c === '.') continue;
      if (c === '..') {
        cur = dirname(cur);
        continue;
      }
      add(dirs, cur);
      const next = cur === '/' ? `/${c}` : `${cur}/${c}`;
      if (!lstatSync(next).isSymbolicLink()) {
        cur = next;
        continue;
      }
      if (++links > MAX_LINKS) return undefined;
      add(holders, cur);
      const target = readlinkSync(next);
      if (isAbsolute(target)) cur = '/';
      const more = target.split('/');
      last += more.length;
      queue.unshift(...more);
    }
    statSync(cur);
  } catch {
    return undefined;
  }
  add(holders, dirname(cur));
  return { real: cur, dirs, holders, named };
}

/**
 * Refuse the trusted root at `path` when others can change it: a `UsageError`, `name` (`unseal:
 * --trusted-root`, `log audit: the trusted root pinned at`) then the path and the problem.
 */
export function checkTrustedRootFile(path: string, name: string): void {
  const problem = looseTrustedRoot(path);
  if (problem !== undefined) throw new UsageError(`${name} ${printable(path)} ${problem}`);
}
