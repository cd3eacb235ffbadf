/**
 * Session review: scripts/copy-circuits.mjs now writes each circuit to `.<name>.<pid>.part` and
 * renames it, and no longer starts from an empty `dist/circuits/`; its clean-up skips every
 * `.part` file ("another copy's parts ... are its own to rename"). A copy killed between the copy
 * and the rename (Ctrl-C during a build) leaves its part for good: no later build removes it, and
 * `npm pack` (prepack runs this very script) ships it in the package (`files: dist`).
 */
import { execFileSync } from 'node:child_process';
import { existsSync, rmSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const SCRIPT = fileURLToPath(new URL('../scripts/copy-circuits.mjs', import.meta.url));
const DIST = fileURLToPath(new URL('../dist/circuits/', import.meta.url));

describe('copy-circuits.mjs', () => {
  it("removes a part a killed earlier copy left (its pid is no running copy's)", () => {
    // A pid no process has (above Linux's pid_max default of 4194304).
    const stale = `${DIST}.cost-total.json.99999999.part`;
    writeFileSync(stale, '{"half": ');
    try {
      execFileSync(process.execPath, [SCRIPT]);
      expect(existsSync(stale)).toBe(false);
    } finally {
      rmSync(stale, { force: true });
    }
  });
});
