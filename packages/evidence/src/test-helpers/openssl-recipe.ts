/** The auditor recipe exactly as docs/evidence.md prints it, for the tests that run it. */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

const DOC = new URL('../../../../docs/evidence.md', import.meta.url);

/** Whether this machine has an `openssl` to run the recipe with. */
export const hasOpenssl = spawnSync('openssl', ['version']).status === 0;

/** The recipe's script: the bash block between the doc's openssl-recipe markers. */
export function recipeScript(): string {
  const doc = readFileSync(DOC, 'utf8');
  const m = /<!-- openssl-recipe:start -->\n```bash\n([\s\S]*?)```\n<!-- openssl-recipe:end -->/.exec(doc);
  if (!m) throw new Error('docs/evidence.md has no openssl recipe block');
  return m[1]!;
}
