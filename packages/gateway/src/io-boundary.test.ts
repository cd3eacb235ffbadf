/**
 * Where I/O may happen in the gateway: LevelDB only in `store.ts`; files, processes and the
 * environment only in `cli/`, the GitOps executor (its job is a git working copy) and the HTTP
 * coordinator (the saved public key package). Everything else gets I/O through its arguments.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const SRC = fileURLToPath(new URL('.', import.meta.url));

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const path = join(dir, e.name);
    if (e.isDirectory()) return e.name === 'test-helpers' ? [] : sources(path);
    return e.name.endsWith('.ts') && !e.name.endsWith('.test.ts') ? [relative(SRC, path)] : [];
  });
}

/** A source without its comments. */
function code(file: string): string {
  return readFileSync(join(SRC, file), 'utf8')
    .replace(/\/\*[\s\S]*?\*\//g, '')
    .replace(/^\s*\/\/.*$/gm, '');
}

const RULES: { what: string; pattern: RegExp; allowed: (file: string) => boolean }[] = [
  { what: 'LevelDB', pattern: /from 'level'/, allowed: (f) => f === 'store.ts' },
  {
    what: 'files and processes',
    pattern: /from 'node:(fs|fs\/promises|child_process)'/,
    allowed: (f) => f.startsWith('cli/') || f === 'executor/gitops.ts' || f === 'coordinator-http.ts',
  },
  { what: 'the environment', pattern: /process\.env/, allowed: (f) => f.startsWith('cli/') },
  { what: 'listening', pattern: /from '@hono\/node-server'/, allowed: (f) => f.startsWith('cli/') },
];

describe('I/O boundary', () => {
  const files = sources(SRC);
  it('finds the sources', () => {
    expect(files).toContain('app.ts');
    expect(files).toContain('store.ts');
  });
  for (const rule of RULES) {
    it(`${rule.what} only where allowed`, () => {
      const offenders = files.filter((f) => !rule.allowed(f) && rule.pattern.test(code(f)));
      expect(offenders).toEqual([]);
    });
  }
});
