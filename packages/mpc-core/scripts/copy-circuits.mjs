/**
 * Copy the repository's circuits (`<repo>/circuits/*.json`, the one source) into
 * `packages/mpc-core/dist/circuits/`, so that the published package carries them and consumers
 * import them as `@aaps/mpc-core/circuits/<name>.json` (package.json `exports`). Run by the root
 * build and by `prepack`; a copy, so that no circuit file is duplicated in git.
 *
 * Each file is written beside its place and renamed over it, and only then are files no longer in
 * the repository removed: a party reading the directory meanwhile (`@aaps/agents` trusts these
 * circuits) sees every circuit whole, never a missing directory or a half-written file.
 */
import { copyFileSync, mkdirSync, readdirSync, renameSync, rmSync } from 'node:fs';
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
// A circuit removed from the repository must not linger in the package (another copy's parts,
// if one runs at the same time, are its own to rename).
for (const name of readdirSync(to)) {
  if (!names.includes(name) && !name.endsWith('.part'))
    rmSync(`${to}${name}`, { recursive: true, force: true });
}
