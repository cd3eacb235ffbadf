/**
 * The commands README.md starts with (`npx aaps …`, `npx aaps-verify …`) exist after one
 * `npm install` on a fresh clone, as `.ci/run` makes one: npm links a workspace's `bin` only if
 * its file exists at install time, before the `prepare` build, so each points at a committed
 * file under `bin/`, not at build output.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, realpathSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const root = join(import.meta.dirname, '..');

describe.each([
  ['gateway', 'aaps'],
  ['evidence', 'aaps-verify'],
])('the %s package links its %s command', (pkg, command) => {
  const dir = join(root, 'packages', pkg);
  const target = (
    JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { bin: Record<string, string> }
  ).bin[command];

  it('to a file outside the build output', () => {
    expect(target).toMatch(/^\.\/bin\//);
    expect(existsSync(join(dir, target!))).toBe(true);
  });

  it('into node_modules/.bin, where npx finds it, and it runs', () => {
    const link = join(root, 'node_modules', '.bin', command);
    expect(existsSync(link), `${link} is missing: run npm install`).toBe(true);
    expect(realpathSync(link)).toBe(realpathSync(join(dir, target!)));
    const run = spawnSync(link, ['--help'], { encoding: 'utf8', timeout: 20_000 });
    expect(run.status, run.stderr).toBe(0);
    expect(run.stdout).toMatch(new RegExp(`^usage: ${command} `));
  });
});
