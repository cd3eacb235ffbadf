/**
 * `engines` must not promise Node.js versions that the package's own
 * runtime dependencies refuse. @noble/curves, @noble/hashes and @noble/ciphers 2.x declare
 * `node >= 20.19.0`; with `engine-strict` an install on Node 20.0-20.18 fails inside the
 * dependencies, so engines (and docs/mpc-core.md, "Installing") say >=20.19.0, not ">=20".
 */
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const pkgDir = fileURLToPath(new URL('..', import.meta.url));
const manifest = JSON.parse(readFileSync(`${pkgDir}/package.json`, 'utf8')) as {
  engines: { node: string };
  dependencies: Record<string, string>;
};
const require = createRequire(`${pkgDir}/package.json`);

/** The lowest version a `>=X.Y.Z` / `>= X.Y` range admits, as [major, minor, patch]. */
function floor(range: string): number[] {
  const m = /^>=\s*(\d+)(?:\.(\d+))?(?:\.(\d+))?$/.exec(range.trim());
  if (!m) throw new Error(`unhandled range ${range}`);
  return [Number(m[1]), Number(m[2] ?? 0), Number(m[3] ?? 0)];
}
const cmp = (a: number[], b: number[]) => a[0]! - b[0]! || a[1]! - b[1]! || a[2]! - b[2]!;

describe('@aaps/mpc-core engines', () => {
  it('admits no Node.js version that a runtime dependency excludes', () => {
    const own = floor(manifest.engines.node);
    const stricter: string[] = [];
    for (const dep of Object.keys(manifest.dependencies)) {
      const dir = require.resolve.paths(dep)!.find((d) => existsSync(`${d}/${dep}/package.json`))!;
      const depManifest = JSON.parse(readFileSync(`${dir}/${dep}/package.json`, 'utf8')) as {
        engines?: { node?: string };
      };
      const range = depManifest.engines?.node;
      if (range && cmp(floor(range), own) > 0) stricter.push(`${dep}: ${range}`);
    }
    expect(stricter, `engines.node is ${manifest.engines.node}`).toEqual([]);
  });
});
