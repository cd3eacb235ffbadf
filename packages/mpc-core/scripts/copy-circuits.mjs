/**
 * Copy the repository's circuits (`<repo>/circuits/*.json`, the one source) into
 * `packages/mpc-core/dist/circuits/`, so that the published package carries them and consumers
 * import them as `@aaps/mpc-core/circuits/<name>.json` (package.json `exports`). Run by the root
 * build and by `prepack`; a copy, so that no circuit file is duplicated in git.
 *
 * Each file is written beside its place and renamed over it, and only then are files no longer in
 * the repository removed: a party reading the directory meanwhile (`@aaps/agents` trusts these
 * circuits) sees every circuit whole, never a missing directory or a half-written file. A part
 * that a killed copy left (its pid runs no process, or it is over a minute old: a copy takes
 * milliseconds) is removed, so no part lingers or ships in the package.
 */
import { copyFileSync, mkdirSync, readdirSync, renameSync, rmSync, statSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const from = fileURLToPath(new URL('../../../circuits/', import.meta.url));
const to = fileURLToPath(new URL('../dist/circuits/', import.meta.url));

const names = readdirSync(from).filter((f) => f.endsWith('.json'));
if (names.length === 0) throw new Error(`copy-circuits: no circuits in ${from}`);
mkdirSync(to, { recursive: true });
for (const name of names) {
  const part = `${to}.${name}.${process.pid}.part`;
  copyFileSync(`${from}${name}`, part);
  renameSync(part, `${to}${name}`);
}
/** Whether a process with this pid runs (one of another user's counts: EPERM). */
function running(pid) {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return e.code === 'EPERM';
  }
}

/**
 * Whether a part is another copy's, still to be renamed: its pid (`.<name>.<pid>.part`) runs and
 * it was written within the minute (a pid reused since its copy was killed ages it out).
 */
function live(name) {
  const pid = Number(/\.(\d+)\.part$/.exec(name)?.[1]);
  if (!Number.isSafeInteger(pid) || pid <= 0 || pid === process.pid || !running(pid)) return false;
  try {
    return Date.now() - statSync(`${to}${name}`).mtimeMs < 60_000;
  } catch {
    return false;
  }
}

// A circuit removed from the repository must not linger in the package, nor a part a killed copy
// left (another copy's parts, if one runs at the same time, are its own to rename).
for (const name of readdirSync(to)) {
  if (names.includes(name) || (name.endsWith('.part') && live(name))) continue;
  rmSync(`${to}${name}`, { recursive: true, force: true });
}
