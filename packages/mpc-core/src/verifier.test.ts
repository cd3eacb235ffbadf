/**
 * `@aaps/mpc-core/verifier` is a narrower door to the same functions: every name it exports is
 * the package root's, the same value, and it loads none of the protocol modules.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import * as root from './index.js';
import * as verifier from './verifier.js';

describe('@aaps/mpc-core/verifier', () => {
  it("exports only the package root's own values", () => {
    const own = root as Record<string, unknown>;
    const names = Object.keys(verifier);
    expect(names.length).toBeGreaterThan(10);
    for (const [name, value] of Object.entries(verifier)) expect(own[name], name).toBe(value);
  });

  it('is an export of the package, next to the root', () => {
    const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as {
      exports: Record<string, { default: string; types: string }>;
    };
    expect(pkg.exports['./verifier']).toMatchObject({
      default: './dist/verifier.js',
      types: './dist/verifier.d.ts',
    });
  });
});
