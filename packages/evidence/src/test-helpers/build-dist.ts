/**
 * Build the package (tsc -b, incremental) for tests that spawn `dist/`, one build at a time across
 * parallel test files.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, rmdirSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { fileURLToPath } from 'node:url';

export const REPO_ROOT = fileURLToPath(new URL('../../../../', import.meta.url));
export const DIST = fileURLToPath(new URL('../../dist/', import.meta.url));
export const CLI = `${DIST}cli/aaps-verify.js`;

const LOCK = `${tmpdir()}/aaps-evidence-build.lock`;

function sleep(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

export function ensureBuilt(): void {
  for (;;) {
    try {
      mkdirSync(LOCK);
      break;
    } catch {
      // Another test file is building; a lock older than 3 minutes is stale.
      try {
        if (Date.now() - statSync(LOCK).mtimeMs > 180_000) rmdirSync(LOCK);
      } catch {}
      sleep(200);
    }
  }
  try {
    execFileSync('npx', ['tsc', '-b', 'packages/evidence'], { cwd: REPO_ROOT, stdio: 'pipe' });
  } catch (e) {
    // A sibling package mid-edit can break `tsc -b`; an existing build is then used as is.
    if (!existsSync(CLI)) throw e;
  } finally {
    rmdirSync(LOCK);
  }
}
