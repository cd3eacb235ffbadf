/**
 * What `npm pack` of @aaps/mpc-core ships (from the library review). A developer installs the
 * tarball, so the documented examples must run from it, and it must not carry the test suite.
 * The circuits reach dist/ by the build's copy step (scripts/copy-circuits.mjs, also `prepack`);
 * the set-up runs that step itself, so the test does not depend on which build ran last.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';

const pkgDir = fileURLToPath(new URL('..', import.meta.url));
let files: string[] = [];
let manifest: { exports: Record<string, unknown>; scripts?: Record<string, string>; engines?: unknown };
const rootManifest = JSON.parse(readFileSync(`${pkgDir}/../../package.json`, 'utf8')) as {
  scripts: Record<string, string>;
};

beforeAll(() => {
  execFileSync(process.execPath, ['scripts/copy-circuits.mjs'], { cwd: pkgDir, stdio: 'ignore' });
  const out = execFileSync('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], {
    cwd: pkgDir,
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'ignore'],
  });
  files = (JSON.parse(out) as { files: { path: string }[] }[])[0]!.files.map((f) => f.path);
  manifest = JSON.parse(readFileSync(`${pkgDir}/package.json`, 'utf8'));
}, 60_000);

describe('the @aaps/mpc-core tarball', () => {
  it('ships what docs/aggregation.md imports: the weighted-risk circuit, reachable through exports', () => {
    // The page says the circuits are "shipped" and its example imports weighted-risk.json; a
    // consumer of the package has no repo-root circuits/ folder.
    expect(files.filter((f) => f.endsWith('weighted-risk.json'))).not.toEqual([]);
    expect(Object.keys(manifest.exports).some((k) => k.includes('circuits'))).toBe(true);
  });

  it('carries no tests, test helpers or build caches', () => {
    const leaked = files.filter(
      (f) => /\.test\.ts$/.test(f) || f.includes('/test-helpers/') || f.endsWith('.tsbuildinfo'),
    );
    expect(leaked).toEqual([]);
  });

  it('is made by the builds that copy the circuits: the repository build and prepack', () => {
    expect(rootManifest.scripts.build).toContain('node packages/mpc-core/scripts/copy-circuits.mjs');
    expect(manifest.scripts?.prepack).toBe('node scripts/copy-circuits.mjs');
  });

  it('names the Node.js versions it runs on', () => {
    expect(manifest.engines).toEqual({ node: '>=20.19.0' });
  });
});

describe('scripts/copy-circuits.mjs', () => {
  it('keeps a part a running copy is writing (its pid runs, written within the minute)', () => {
    // This test's own process stands in for the other copy.
    const part = `${pkgDir}dist/circuits/.cost-total.json.${process.pid}.part`;
    writeFileSync(part, '{"half": ');
    try {
      execFileSync(process.execPath, ['scripts/copy-circuits.mjs'], { cwd: pkgDir, stdio: 'ignore' });
      expect(existsSync(part)).toBe(true);
    } finally {
      rmSync(part, { force: true });
    }
  });
});
