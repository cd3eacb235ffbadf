/**
 * What `npm pack` of @aaps/evidence ships and declares. A developer installs
 * the tarball next to @aaps/mpc-core; it must not carry the test suite or build caches (mpc-core's
 * own packaging.test.ts holds mpc-core to this), and it must say which Node.js it runs on.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';

const pkgDir = fileURLToPath(new URL('..', import.meta.url));
let files: string[] = [];
const manifest = JSON.parse(readFileSync(`${pkgDir}/package.json`, 'utf8')) as {
  engines?: { node?: string };
};

beforeAll(() => {
  const out = execFileSync('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], {
    cwd: pkgDir,
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'ignore'],
  });
  files = (JSON.parse(out) as { files: { path: string }[] }[])[0]!.files.map((f) => f.path);
}, 60_000);

describe('the @aaps/evidence tarball', () => {
  it('carries no tests, test helpers or build caches', () => {
    const leaked = files.filter(
      (f) => /\.test\.ts$/.test(f) || f.includes('test-helpers/') || f.endsWith('.tsbuildinfo'),
    );
    expect(leaked).toEqual([]);
  });

  it('names the Node.js versions it runs on (engines), as @aaps/mpc-core does', () => {
    expect(manifest.engines?.node).toBeTypeOf('string');
  });
});
