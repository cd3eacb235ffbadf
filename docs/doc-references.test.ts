/**
 * The docs name tests and dependencies that readers rely on: every test file a doc names by its
 * repository path exists, and the verifier's dependencies are the ones architecture.md lists.
 */
import { execFileSync, spawnSync } from 'node:child_process';
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

it("the files the docs' shell commands write into the working directory are ones git ignores (a checkout stays clean)", () => {
  const dirty: string[] = [];
  for (const doc of docs) {
    const text = readFileSync(`${root}${doc}`, 'utf8')
      // The OpenSSL recipe is a script that works in a fresh directory of its own (mktemp -d).
      .replace(/<!-- openssl-recipe:start -->[\s\S]*?<!-- openssl-recipe:end -->/g, '');
    for (const block of text.matchAll(/^[ \t]*```(?:sh|bash|shell)\n([\s\S]*?)^[ \t]*```/gm)) {
      for (const m of block[1]!.matchAll(/(?<![0-9&>=-])>>?[ \t]*([A-Za-z0-9_.][A-Za-z0-9_./-]*)/g)) {
        const target = m[1]!;
        const ignored = spawnSync('git', ['check-ignore', '-q', '--no-index', target], { cwd: root });
        if (ignored.status !== 0) dirty.push(`${doc}: > ${target}`);
      }
    }
  }
  expect(dirty).toEqual([]);
});
