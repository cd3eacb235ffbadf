/** The built `aaps` CLI run as its own process, for tests that meet it as an operator does. */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

/** The built CLI's entry point (tests that spawn it need `npm run build` first). */
export const AAPS = fileURLToPath(new URL('../../dist/cli/aaps.js', import.meta.url));

/** This process's environment without the shell's `AAPS_` settings. */
export const CLEAN_ENV: NodeJS.ProcessEnv = Object.fromEntries(
  Object.entries(process.env).filter(([k]) => !k.startsWith('AAPS_')),
);

/**
 * Run `node ARGS` asynchronously (so servers in this process keep answering it) and collect its
 * exit code, the signal that ended it (if any), stdout and stderr.
 */
export function runNode(
  args: readonly string[],
  opts: { cwd?: string; env?: NodeJS.ProcessEnv } = {},
): Promise<{ code: number | null; signal: NodeJS.Signals | null; out: string; err: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, args, { ...opts, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (b: Buffer) => {
      out += b.toString();
    });
    child.stderr.on('data', (b: Buffer) => {
      err += b.toString();
    });
    child.once('close', (code, signal) => resolve({ code, signal, out, err }));
  });
}

/** Run `aaps ARGS` in `cwd` (see {@link runNode}) with the shell's `AAPS_` settings left out. */
export async function runAaps(
  args: readonly string[],
  cwd: string,
): Promise<{ code: number | null; out: string; err: string }> {
  const { code, out, err } = await runNode([AAPS, ...args], { cwd, env: CLEAN_ENV });
  return { code, out, err };
}
