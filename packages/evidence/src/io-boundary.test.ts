import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

// STYLE.md "I/O": verification takes bytes and keys; only cli/ reads files, nothing reaches the
// network, and nothing reads process.env.
const SRC = fileURLToPath(new URL('.', import.meta.url));
const NETWORK = [
  /from ['"]node:(net|http|https|http2|dgram|dns|tls|child_process)['"]/,
  /\bfetch\(/,
  /WebSocket/,
];
const FILES_AND_ENV = [/from ['"]node:(fs|fs\/promises)['"]/, /process\.env/, /from ['"]level['"]/];

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const path = join(dir, e.name);
    if (e.isDirectory()) return e.name === 'test-helpers' ? [] : sources(path);
    return e.name.endsWith('.ts') && !e.name.endsWith('.test.ts') ? [path] : [];
  });
}

describe('I/O boundary', () => {
  it('keeps files, network and the environment out of everything but cli/', () => {
    const offenders = sources(SRC)
      .filter((f) => !relative(SRC, f).startsWith('cli/'))
      .filter((f) => [...NETWORK, ...FILES_AND_ENV].some((re) => re.test(readFileSync(f, 'utf8'))))
      .map((f) => relative(SRC, f));
    expect(offenders).toEqual([]);
  });

  it('keeps the network out of cli/ too', () => {
    const cli = sources(join(SRC, 'cli'));
    expect(cli.length).toBeGreaterThan(0);
    const offenders = cli.filter((f) => NETWORK.some((re) => re.test(readFileSync(f, 'utf8'))));
    expect(offenders).toEqual([]);
  });
});
