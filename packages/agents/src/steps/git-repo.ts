/**
 * Whether two spellings name one Git repository, and whether a revision is a commit id. Argo CD
 * reports the repository as its Application spells it (`https://host/org/repo.git`,
 * `git@host:org/repo`), and the gateway is configured with its own spelling: comparing the strings
 * as given would take the very repository whose sync failed for another one.
 */

/**
 * `host/path` in lower case, without scheme, user, port, `scp`-style colon, trailing `/` or `.git`:
 * `https://Git.Example/org/Repo.git`, `ssh://git@git.example/org/repo` and `git@git.example:org/repo`
 * all read `git.example/org/repo`. Hosts on most forges treat paths case-insensitively; a false
 * "same" only makes the solver more careful (it pins or asks a person), never less.
 */
export function normaliseGitUrl(url: string): string {
  let s = url.trim().toLowerCase();
  const scheme = /^[a-z][a-z0-9+.-]*:\/\//.exec(s);
  if (scheme) s = s.slice(scheme[0].length);
  else {
    // `user@host:path` (scp-like, as git takes it): the first `:` before any `/` separates the path.
    const colon = s.indexOf(':');
    const slash = s.indexOf('/');
    if (colon > 0 && (slash < 0 || colon < slash)) s = `${s.slice(0, colon)}/${s.slice(colon + 1)}`;
  }
  const at = s.indexOf('@');
  const firstSlash = s.indexOf('/');
  if (at >= 0 && (firstSlash < 0 || at < firstSlash)) s = s.slice(at + 1);
  s = s.replace(/^([^/]+):\d+(?=\/|$)/, '$1');
  s = s
    .replace(/\/+$/, '')
    .replace(/\.git$/, '')
    .replace(/\/+$/, '');
  return s;
}

export function sameGitRepository(a: string, b: string): boolean {
  const x = normaliseGitUrl(a);
  return x !== '' && x === normaliseGitUrl(b);
}

/** A Git commit id: 40 (SHA-1) or 64 (SHA-256) hex digits, as Argo CD records a synced revision. */
export function isCommitId(revision: string): boolean {
  return /^(?:[0-9a-f]{40}|[0-9a-f]{64})$/.test(revision);
}
