/**
 * Reads the tokens file (`--tokens-file` / `AAPS_TOKENS_FILE`; its format and checks are in
 * `middleware/token-file.ts`) and checks who may read or write it.
 */
import { closeSync, fstatSync, openSync, readFileSync, statSync } from 'node:fs';
import { parseJsonRefusingRepeats } from '@aaps/evidence';
import { ValidationError } from '@aaps/mpc-core';
import type { TokenGrant } from '../middleware/auth.js';
import { parseTokenGrants } from '../middleware/token-file.js';
import { repeatedKeyPath } from '../schema/check.js';

export interface TokensFile {
  grants: TokenGrant[];
  /** Set when group or others may read the file (the tokens are still used). */
  warning?: string;
}

/**
 * Reads and checks the tokens file at `path`. Throws a `ValidationError` whose message is one line
 * starting with `--tokens-file PATH:`: unreadable, not JSON, a key given twice, a bad entry, or writable by group or
 * others (anyone who can write it can give themselves the admin scope). Readable by group or
 * others is a `warning`: a Kubernetes Secret volume is 0644 unless its `defaultMode` says otherwise.
 */
export function readTokensFile(path: string, opts: { adminToken?: string } = {}): TokensFile {
  const fail = (why: string, cause?: unknown): never => {
    throw new ValidationError('INVALID_ARGUMENT', `--tokens-file ${path}: ${why}`, ['tokens-file'], {
      cause,
    });
  };
  let mode = 0;
  let owner = -1;
  let text = '';
  let fd: number | undefined;
  try {
    // A regular file before opening it (opening a FIFO would wait for a writer); then one open
    // file whose mode and owner are those of what is read, the same file the path named.
    const named = statSync(path);
    if (!named.isFile()) fail('not a regular file');
    fd = openSync(path, 'r');
    const st = fstatSync(fd);
    if (!st.isFile() || st.ino !== named.ino || st.dev !== named.dev) fail('changed while it was read');
    mode = st.mode & 0o777;
    owner = st.uid;
    text = readFileSync(fd, 'utf8');
  } catch (e) {
    if (e instanceof ValidationError) throw e;
    fail(`cannot read it (${(e as NodeJS.ErrnoException).code ?? 'error'})`, e);
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
  const posix = process.platform !== 'win32';
  if (posix && (mode & 0o022) !== 0)
    fail(`writable by group or others (mode 0${mode.toString(8)}): chmod 600 ${path}`);
  // Whoever owns the file can rewrite it (chmod): only this user or root may.
  const me = typeof process.getuid === 'function' ? process.getuid() : undefined;
  if (posix && me !== undefined && owner !== me && owner !== 0)
    fail(`owned by uid ${owner}, not by this user (${me}) or root: whoever owns it can grant any scope`);
  const read = parseJsonRefusingRepeats(text);
  if ('notJson' in read) return fail('not valid JSON', read.notJson);
  // JSON.parse keeps the last of two equal keys, another reader the first: a second `scopes`
  // would grant what a reader of the first does not see.
  if ('repeated' in read)
    return fail(
      `${repeatedKeyPath(read.repeated.segments, 'tokens')} is given twice (say it once: JSON keeps only the last)`,
    );
  let grants: TokenGrant[] = [];
  try {
    grants = parseTokenGrants(read.value, opts);
  } catch (e) {
    if (e instanceof ValidationError) fail(e.message, e);
    throw e;
  }
  return {
    grants,
    ...(posix && (mode & 0o044) !== 0
      ? {
          warning: `--tokens-file ${path} is readable by group or others (mode 0${mode.toString(8)}): chmod 600 ${path}`,
        }
      : {}),
  };
}
