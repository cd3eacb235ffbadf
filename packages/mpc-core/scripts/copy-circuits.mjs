/**
 * Copy the repository's circuits (`<repo>/circuits/*.json`, the one source) into
 * `packages/mpc-core/dist/circuits/`, so that the published package carries them and consumers
 * import them as `@aaps/mpc-core/circuits/<name>.json` (package.json `exports`). Run by the root
 * build and by `prepack`; a copy, so that no circuit file is duplicated in git.
 */
import { copyFileSync, mkdirSync, readdirSync, rmSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const from = fileURLToPath(new URL('../../../circuits/', import.meta.url));
const to = fileURLToPath(new URL('../dist/circuits/', import.meta.url));

const names = readdirSync(from).filter((f) => f.endsWith('.json'));
if (names.length === 0) throw new Error(`copy-circuits: no circuits in ${from}`);
// Start clean: a circuit removed from the repository must not linger in the package.
rmSync(to, { recursive: true, force: true });
mkdirSync(to, { recursive: true });
for (const name of names) copyFileSync(`${from}${name}`, `${to}${name}`);
