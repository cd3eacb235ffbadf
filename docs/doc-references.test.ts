/**
 * The docs name tests and dependencies that readers rely on: every test file a doc names by its
 * repository path exists, and the verifier's dependencies are the ones architecture.md lists.
 */
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { expect, it } from 'vitest';

const root = fileURLToPath(new URL('../', import.meta.url));
const tracked = new Set(execFileSync('git', ['ls-files'], { cwd: root, encoding: 'utf8' }).split('\n'));
const docs = [
  'README.md',
  ...readdirSync(`${root}docs`)
    .filter((f) => f.endsWith('.md'))
    .map((f) => `docs/${f}`),
];

it('every test file a doc names by its repository path is in the repository', () => {
  const missing: string[] = [];
  for (const doc of docs) {
    const text = readFileSync(`${root}${doc}`, 'utf8');
    for (const m of text.matchAll(/`((?:packages|test|docs|bench)\/[A-Za-z0-9_./-]+\.test\.ts)`/g))
      if (!tracked.has(m[1]!)) missing.push(`${doc}: ${m[1]}`);
  }
  expect(missing).toEqual([]);
});

it("the verifier's packages depend on @noble/*, cbor-x and shamir-secret-sharing only (architecture.md)", () => {
  const deps = (pkg: string) =>
    Object.keys(
      (JSON.parse(readFileSync(`${root}packages/${pkg}/package.json`, 'utf8')) as { dependencies?: object })
        .dependencies ?? {},
    );
  const outside = [...deps('evidence'), ...deps('mpc-core')].filter(
    (d) => !d.startsWith('@noble/') && !['cbor-x', 'shamir-secret-sharing', '@aaps/mpc-core'].includes(d),
  );
  expect(outside).toEqual([]);
  expect(readFileSync(`${root}docs/architecture.md`, 'utf8')).toMatch(
    /depend on `@noble\/\*`, `cbor-x` and\s+`shamir-secret-sharing`/,
  );
});
